using BenchmarkDotNet.Attributes;
using Monitor.Aggregator.Api;
using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Web;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.Benchmarks.Aggregator;

/// <summary>
/// The aggregator's pages, rendered from records already read: a 64-GPU job (8 nodes × 8 GPUs, every GPU at its own
/// utilization) with its notes and both charts, and a month's usage by user over 500 users (the chart's 50 and the
/// table's 500 rows). The setup prints each page's size.
/// </summary>
[MemoryDiagnoser]
public class WebPageBenchmarks
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
    private (string Node, NodeJobRecord Record)[] _job = [];
    private UsageRow[] _usage = [];

    [GlobalSetup]
    public void Setup()
    {
        _job = [.. Enumerable.Range(0, 8).Select(n => ($"gpu{n:D3}", SomeJob.Record("1234567", Start, Start.AddHours(10), [.. Enumerable.Range(0, 8).Select(g => SomeJob.Gpu(g, ((n * 8) + g) / 64.0, xids: g == 3 ? 1 : 0, hours: 10))])))];
        _usage = [.. Enumerable.Range(0, 500).Select(u => new UsageRow($"user{u:D3}", 3600.0 * (u + 1), 1800.0 * (u + 1), 1.26e6 * (u + 1), 7200, u + 1))];
        Console.WriteLine($"// job page {System.Text.Encoding.UTF8.GetByteCount(JobPage64Gpus())} bytes; usage page {System.Text.Encoding.UTF8.GetByteCount(UsagePage500Users())} bytes");
    }

    /// <summary>The 64-GPU job's page, from its records (the summary included).</summary>
    [Benchmark]
    public string JobPage64Gpus() => WebPages.Job("1234567", _ => _job, Start.AddHours(11)).Html;

    /// <summary>The usage page of 500 users.</summary>
    [Benchmark]
    public string UsagePage500Users() => UsagePage.Render(("user", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1)), _usage);

    /// <summary>The same job as JSON, for comparison (what <c>/api/v1/jobs/{id}</c> writes).</summary>
    [Benchmark]
    public long JobJson64Gpus()
    {
        using var buffer = new MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            JobReport.Write(json, "1234567", _job, Start.AddHours(11));
        }

        return buffer.Length;
    }
}
