using BenchmarkDotNet.Attributes;
using Monitor.Core.Exposition;

namespace Monitor.Benchmarks.Exposition;

/// <summary>Parsing one node-shaped scrape (≈1,100 series), as the aggregator does per agent.</summary>
[MemoryDiagnoser]
public class ParserBenchmarks
{
    private byte[] _text = [];
    private byte[] _openMetrics = [];

    /// <summary>Renders the inputs once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var registry = NodeShapedRegistry.Create();
        using var buffer = new PooledBufferWriter(256 * 1024);
        registry.WriteTo(buffer, ExpositionFormat.Text004);
        _text = buffer.WrittenSpan.ToArray();
        buffer.Reset();
        registry.WriteTo(buffer, ExpositionFormat.OpenMetrics100);
        _openMetrics = buffer.WrittenSpan.ToArray();
    }

    /// <summary>Prometheus text 0.0.4.</summary>
    [Benchmark(Baseline = true)]
    public int ParseText() => TextParser.Parse(_text, ExpositionFormat.Text004).Count;

    /// <summary>OpenMetrics 1.0.</summary>
    [Benchmark]
    public int ParseOpenMetrics() => TextParser.Parse(_openMetrics, ExpositionFormat.OpenMetrics100).Count;
}
