using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Hosting;
using Monitor.Agent.Self;
using Monitor.Core.Exposition;

namespace Monitor.Benchmarks;

/// <summary>
/// One whole scrape without HTTP, on this machine's real /proc and /sys: every default on-scrape collector reads its
/// source, then the registry renders (and, in the gzip cases, compresses) the page: as the endpoint does it (two
/// halves on two threads, <see cref="SplitGzip"/>), and with one <see cref="GZipStream"/> as it did before. This is
/// the agent's per-scrape work; compare-node-exporter.sh measures the same plus Kestrel.
/// </summary>
[MemoryDiagnoser]
public class ScrapeBenchmarks
{
    private readonly MetricRegistry _registry = new();
    private readonly PooledBufferWriter _buffer = new(256 * 1024);
    private readonly MemoryStream _compressed = new(64 * 1024);
    private readonly PooledBufferWriter _gzipped = new(64 * 1024);
    private readonly SplitGzip _splitGzip = new();
    private CollectorRunner _runner = null!;

    [GlobalSetup]
    public void Setup()
    {
        var settings = new ConfigurationBuilder().Build();
        _runner = new CollectorRunner(
            [SelfCollector.Descriptor, .. CollectorCatalog.All.Where(c => c.EnabledByDefault && c.Cadence == Cadence.OnScrape)],
            name => settings.GetSection($"Collectors:{name}"),
            HostPaths.Default,
            _registry,
            NullLoggerFactory.Instance,
            TimeProvider.System);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _buffer.Dispose();
        _gzipped.Dispose();
    }

    [Benchmark]
    public int UpdateCollectors()
    {
        _runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        return 0;
    }

    [Benchmark]
    public int ScrapeText()
    {
        _runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        _buffer.Reset();
        _registry.WriteTo(_buffer, ExpositionFormat.Text004);
        return _buffer.WrittenCount;
    }

    [Benchmark]
    public async Task<int> ScrapeOpenMetricsGzip()
    {
        _runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        _gzipped.Reset();
        using var pinned = _registry.Pin();
        await _splitGzip.WriteAsync(pinned, ExpositionFormat.OpenMetrics100, _gzipped, 128 * 1024);
        return _gzipped.WrittenCount;
    }

    [Benchmark]
    public long ScrapeOpenMetricsGzipStream()
    {
        _runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        _buffer.Reset();
        _registry.WriteTo(_buffer, ExpositionFormat.OpenMetrics100);
        _compressed.SetLength(0);
        using (var gzip = new GZipStream(_compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(_buffer.WrittenSpan);
        }

        return _compressed.Length;
    }
}
