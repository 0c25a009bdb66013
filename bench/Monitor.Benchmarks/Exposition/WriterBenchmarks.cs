using BenchmarkDotNet.Attributes;
using Monitor.Core.Exposition;

namespace Monitor.Benchmarks.Exposition;

/// <summary>One scrape of a node-shaped registry (≈1,100 series) into a reused buffer.</summary>
[MemoryDiagnoser]
public class WriterBenchmarks
{
    private MetricRegistry _registry = null!;
    private PooledBufferWriter _buffer = null!;

    /// <summary>Builds the registry and sizes the buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _registry = NodeShapedRegistry.Create();
        _buffer = new PooledBufferWriter(256 * 1024);
    }

    /// <summary>Returns the buffer.</summary>
    [GlobalCleanup]
    public void Cleanup() => _buffer.Dispose();

    /// <summary>Prometheus text 0.0.4.</summary>
    [Benchmark(Baseline = true)]
    public int WriteText()
    {
        _buffer.Reset();
        _registry.WriteTo(_buffer, ExpositionFormat.Text004);
        return _buffer.WrittenCount;
    }

    /// <summary>OpenMetrics 1.0.</summary>
    [Benchmark]
    public int WriteOpenMetrics()
    {
        _buffer.Reset();
        _registry.WriteTo(_buffer, ExpositionFormat.OpenMetrics100);
        return _buffer.WrittenCount;
    }
}
