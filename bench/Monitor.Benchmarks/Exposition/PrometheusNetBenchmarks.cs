using System.Globalization;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Self;
using Monitor.Core.Exposition;
using Prom = Prometheus;

namespace Monitor.Benchmarks.Exposition;

/// <summary>
/// The same series rendered by Monitor.Core's writer and by prometheus-net 8.2.1 (issue 19): the node-shaped registry
/// (1,122 series) and the agent's real scrape of this machine (every default on-scrape collector, read once). Both
/// registries are built from one parse of the same text, so they hold the same families, labels and values.
/// </summary>
/// <remarks>
/// Render only, into a reused buffer: setting the values is the collectors' work and costs the same either way.
/// <see cref="Setup"/> prints how many sample lines print their value differently (prometheus-net formats doubles
/// with .NET's shortest round-trip form, client_golang and our writer with Go's <c>strconv.FormatFloat(v, 'g', -1, 64)</c>).
/// </remarks>
[MemoryDiagnoser]
public class PrometheusNetBenchmarks
{
    private MetricRegistry _ours = null!;
    private Prom.CollectorRegistry _theirs = null!;
    private PooledBufferWriter _buffer = null!;
    private MemoryStream _stream = null!;

    /// <summary>Which series: "node-shaped" or "agent-scrape".</summary>
    [Params("node-shaped", "agent-scrape")]
    public string Source { get; set; } = "node-shaped";

    [GlobalSetup]
    public void Setup()
    {
        var families = TextParser.Parse(RenderSource(Source), ExpositionFormat.Text004)
            .Where(f => f.Samples.Count > 0 && f.Type is ParsedMetricType.Counter or ParsedMetricType.Gauge or ParsedMetricType.Unknown)
            .ToList();
        _ours = BuildOurs(families);
        _theirs = BuildTheirs(families);
        _buffer = new PooledBufferWriter(512 * 1024);
        _stream = new MemoryStream(512 * 1024);

        var ourText = Lines(Ours());
        var theirText = Lines(TheirsText());
        var ours = ourText.Except(theirText, StringComparer.Ordinal).Where(l => !l.StartsWith('#')).Order(StringComparer.Ordinal).ToList();
        var theirs = theirText.Except(ourText, StringComparer.Ordinal).Where(l => !l.StartsWith('#')).Order(StringComparer.Ordinal).ToList();
        Console.WriteLine($"// {Source}: {families.Count} families, {families.Sum(f => f.Samples.Count)} series; Monitor.Core {_buffer.WrittenCount} bytes, prometheus-net {_stream.Length} bytes; {ours.Count} sample lines differ");
        for (var i = 0; i < Math.Min(3, Math.Min(ours.Count, theirs.Count)); i++)
        {
            Console.WriteLine($"//   Monitor.Core: {ours[i]}   prometheus-net: {theirs[i]}");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _buffer.Dispose();
        _stream.Dispose();
    }

    /// <summary>Monitor.Core, Prometheus text 0.0.4.</summary>
    [Benchmark(Baseline = true)]
    public int MonitorCoreText()
    {
        _buffer.Reset();
        _ours.WriteTo(_buffer, ExpositionFormat.Text004);
        return _buffer.WrittenCount;
    }

    /// <summary>prometheus-net, Prometheus text 0.0.4.</summary>
    [Benchmark]
    public long PrometheusNetText()
    {
        _stream.SetLength(0);
        _theirs.CollectAndExportAsTextAsync(_stream, Prom.ExpositionFormat.PrometheusText).GetAwaiter().GetResult();
        return _stream.Length;
    }

    /// <summary>Monitor.Core, OpenMetrics 1.0.</summary>
    [Benchmark]
    public int MonitorCoreOpenMetrics()
    {
        _buffer.Reset();
        _ours.WriteTo(_buffer, ExpositionFormat.OpenMetrics100);
        return _buffer.WrittenCount;
    }

    /// <summary>prometheus-net, OpenMetrics 1.0.</summary>
    [Benchmark]
    public long PrometheusNetOpenMetrics()
    {
        _stream.SetLength(0);
        _theirs.CollectAndExportAsTextAsync(_stream, Prom.ExpositionFormat.OpenMetricsText).GetAwaiter().GetResult();
        return _stream.Length;
    }

    private string Ours()
    {
        MonitorCoreText();
        return System.Text.Encoding.UTF8.GetString(_buffer.WrittenSpan);
    }

    private string TheirsText()
    {
        PrometheusNetText();
        return System.Text.Encoding.UTF8.GetString(_stream.GetBuffer(), 0, (int)_stream.Length);
    }

    /// <summary>
    /// Serves the node-shaped registry on 127.0.0.1:<paramref name="port"/>/metrics through <paramref name="writer"/>
    /// ("ours" or "prometheus-net") from a minimal Kestrel host, until killed: <c>bench/prometheus-net-rss.sh</c> scrapes
    /// one process of each and compares their RSS (issue 19).
    /// </summary>
    public static async Task ServeAsync(string writer, int port)
    {
        var families = TextParser.Parse(RenderSource("node-shaped"), ExpositionFormat.Text004)
            .Where(f => f.Samples.Count > 0 && f.Type is ParsedMetricType.Counter or ParsedMetricType.Gauge or ParsedMetricType.Unknown)
            .ToList();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        var app = builder.Build();
        if (writer == "ours")
        {
            var registry = BuildOurs(families);
            app.Run(async context =>
            {
                using var buffer = new PooledBufferWriter(256 * 1024);
                registry.WriteTo(buffer, ExpositionFormat.Text004);
                context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                context.Response.ContentLength = buffer.WrittenCount;
                await context.Response.Body.WriteAsync(buffer.WrittenMemory);
            });
        }
        else
        {
            var registry = BuildTheirs(families);
            app.Run(async context =>
            {
                context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                await registry.CollectAndExportAsTextAsync(context.Response.Body, Prom.ExpositionFormat.PrometheusText, context.RequestAborted);
            });
        }

        await app.RunAsync();
    }

    private static HashSet<string> Lines(string text) => new(text.Split('\n'), StringComparer.Ordinal);

    private static byte[] RenderSource(string source)
    {
        var registry = source == "node-shaped" ? NodeShapedRegistry.Create() : AgentScrape();
        using var buffer = new PooledBufferWriter(512 * 1024);
        registry.WriteTo(buffer, ExpositionFormat.Text004);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The agent's registry after one update of every default on-scrape collector on this machine.</summary>
    private static MetricRegistry AgentScrape()
    {
        var settings = new ConfigurationBuilder().Build();
        var registry = new MetricRegistry();
        var runner = new CollectorRunner(
            [SelfCollector.Descriptor, .. CollectorCatalog.All.Where(c => c.EnabledByDefault && c.Cadence == Cadence.OnScrape)],
            name => settings.GetSection($"Collectors:{name}"),
            HostPaths.Default,
            registry,
            NullLoggerFactory.Instance,
            TimeProvider.System);
        runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        return registry;
    }

    private static MetricRegistry BuildOurs(List<ParsedFamily> families)
    {
        var group = new MetricGroup("all");
        foreach (var family in families)
        {
            var labels = family.Samples[0].Labels.Select(l => l.Key).ToArray();
            var metric = family.Type == ParsedMetricType.Counter
                ? group.Counter(family.Name, family.Help ?? "", labels)
                : group.Gauge(family.Name, family.Help ?? "", labels);
            foreach (var sample in family.Samples)
            {
                metric.Get([.. sample.Labels.Select(l => l.Value)]).Set(sample.Value);
            }
        }

        var registry = new MetricRegistry();
        registry.Register(group);
        return registry;
    }

    private static Prom.CollectorRegistry BuildTheirs(List<ParsedFamily> families)
    {
        var registry = Prom.Metrics.NewCustomRegistry();
        var factory = Prom.Metrics.WithCustomRegistry(registry);
        foreach (var family in families)
        {
            var labels = family.Samples[0].Labels.Select(l => l.Key).ToArray();
            var help = string.IsNullOrEmpty(family.Help) ? family.Name : family.Help;
            if (family.Type == ParsedMetricType.Counter)
            {
                var counter = factory.CreateCounter(family.Name, help, new Prom.CounterConfiguration { LabelNames = labels });
                foreach (var sample in family.Samples)
                {
                    counter.WithLabels([.. sample.Labels.Select(l => l.Value)]).IncTo(sample.Value);
                }
            }
            else
            {
                var gauge = factory.CreateGauge(family.Name, help, new Prom.GaugeConfiguration { LabelNames = labels });
                foreach (var sample in family.Samples)
                {
                    gauge.WithLabels([.. sample.Labels.Select(l => l.Value)]).Set(sample.Value);
                }
            }
        }

        return registry;
    }
}
