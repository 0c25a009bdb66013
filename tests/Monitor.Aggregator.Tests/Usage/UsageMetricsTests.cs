using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Usage;
using Monitor.Contracts;
using Monitor.Testing;
using Prometheus;

namespace Monitor.Aggregator.Tests.Usage;

/// <summary>The usage counters on the aggregator's /metrics follow the rollups and only rise.</summary>
public sealed class UsageMetricsTests
{
    [Fact]
    public async Task Scrape_CountersAreTheRollupsAllTimeSums()
    {
        using var tree = new TempTree();
        using var store = JobStore.OpenSqlite(tree.Path("store.db"), "default");
        var registry = Metrics.NewCustomRegistry();
        _ = new UsageMetrics(store, registry);
        var day = new DateTimeOffset(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);
        store.Apply("t", Page(Record("1", 1, day, 7200)), day);

        var first = PromSamples.Parse(await Render(registry));
        store.Apply("t", Page(Record("2", 2, day.AddDays(1), 3600)), day);
        var second = PromSamples.Parse(await Render(registry));

        const string Labels = "{account=\"physics\",user=\"alice\"}";
        Assert.Equal(7200, first["monitor_usage_gpu_allocated_seconds_total" + Labels]);
        Assert.Equal(10800, second["monitor_usage_gpu_allocated_seconds_total" + Labels]);
        Assert.Equal(5400, second["monitor_usage_gpu_busy_seconds_total" + Labels]);
        Assert.Equal(10800 * 300, second["monitor_usage_gpu_energy_joules_total" + Labels]);
        Assert.Equal(2, second["monitor_usage_jobs_finished_total" + Labels]);
    }

    [Fact]
    public async Task Scrape_FirstJobOfAPairRunning_CountersAreZeroUntilItEndsThenItsTotals()
    {
        // Prometheus's increase() ignores a series' first value, so a pair's counters must exist at 0 before its
        // first job ends. Both ways of naming a pair: a Slurm account and user, and a pod's namespace and uid.
        using var tree = new TempTree();
        using var store = JobStore.OpenSqlite(tree.Path("store.db"), "default");
        var registry = Metrics.NewCustomRegistry();
        _ = new UsageMetrics(store, registry);
        var day = new DateTimeOffset(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);
        var slurm = Record("1", 1, day, 7200) with { State = "running", End = null };
        var pod = Record("ml/train-0", 2, day, 3600) with { State = "running", End = null, Account = null, User = null, Namespace = "ml", Uid = "1001" };
        store.Apply("t", new JobsFeedPage("n", "c", false, false, false, [slurm, pod]), day);

        var running = PromSamples.Parse(await Render(registry));
        foreach (var labels in new[] { "{account=\"physics\",user=\"alice\"}", "{account=\"ml\",user=\"1001\"}" })
        {
            foreach (var metric in new[] { "monitor_usage_gpu_allocated_seconds_total", "monitor_usage_gpu_busy_seconds_total", "monitor_usage_gpu_energy_joules_total", "monitor_usage_jobs_finished_total" })
            {
                Assert.Equal(0, running[metric + labels]);
            }
        }

        store.Apply("t", new JobsFeedPage("n", "c", false, false, false, [slurm with { Revision = 3, State = "ended", End = day.AddHours(2) }, pod with { Revision = 4, State = "ended", End = day.AddHours(1) }]), day);
        var ended = PromSamples.Parse(await Render(registry));
        Assert.Equal(7200, ended["monitor_usage_gpu_allocated_seconds_total{account=\"physics\",user=\"alice\"}"]);
        Assert.Equal(3600, ended["monitor_usage_gpu_allocated_seconds_total{account=\"ml\",user=\"1001\"}"]);
        Assert.Equal(1, ended["monitor_usage_jobs_finished_total{account=\"ml\",user=\"1001\"}"]);
        Assert.Equal(2, ended.Keys.Count(k => k.StartsWith("monitor_usage_jobs_finished_total{", StringComparison.Ordinal)));
    }

    private static async Task<string> Render(CollectorRegistry registry)
    {
        using var buffer = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(buffer);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static JobsFeedPage Page(NodeJobRecord record) => new("n", "c", false, false, false, [record]);

    private static NodeJobRecord Record(string id, long revision, DateTimeOffset start, double allocated) => new()
    {
        JobId = id, Revision = revision, Scheduler = "slurm", State = "ended", Account = "physics", User = "alice", Start = start, End = start.AddHours(1),
        Gpus = [new NodeJobGpu { Index = 0, Uuid = "GPU-0", AllocatedSeconds = allocated, BusySeconds = allocated / 2, EnergyJoules = allocated * 300 }],
    };
}
