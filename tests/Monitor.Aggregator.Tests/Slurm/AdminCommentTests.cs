using System.IO.Compression;
using System.Text.Json;
using Monitor.Aggregator.Slurm;
using Monitor.Aggregator.Tests.Storage;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Slurm;

/// <summary>jobstats' JS1 summary of a finished job, and which jobs await their AdminComment.</summary>
public sealed class AdminCommentTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Comment_TwoNodes_Js1GzippedBase64JsonOfJobstatsSchema()
    {
        // An hour on two nodes; gpu17: 8 CPUs, 3,600 CPU-s, 64 GB limit, 20 GB peak, GPUs 0 and 1 at 50 % and 25 %.
        (string, NodeJobRecord)[] records =
        [
            ("gpu17", Record(Start, Start.AddHours(1), 8, 3600, 64e9, 20e9, Gpu(0, 0.5, 40e9), Gpu(1, 0.25, 10e9))),
            ("gpu18", Record(Start.AddSeconds(2), Start.AddHours(1).AddSeconds(30), null, 7200, null, 30e9, Gpu(3, 1, 80e9, total: null))),
        ];

        var comment = JobstatsSummary.Comment(records);

        using var document = Js1(comment);
        var root = document.RootElement;
        Assert.Equal(3, root.GetProperty("gpus").GetInt32());
        Assert.Equal(3630, root.GetProperty("total_time").GetDouble());
        var a = root.GetProperty("nodes").GetProperty("gpu17");
        Assert.Equal((8d, 3600d, 64e9, 20e9), (a.GetProperty("cpus").GetDouble(), a.GetProperty("total_time").GetDouble(), a.GetProperty("total_memory").GetDouble(), a.GetProperty("used_memory").GetDouble()));
        Assert.Equal(85_520_809_984d, a.GetProperty("gpu_total_memory").GetProperty("1").GetDouble());
        Assert.Equal((40e9, 10e9), (a.GetProperty("gpu_used_memory").GetProperty("0").GetDouble(), a.GetProperty("gpu_used_memory").GetProperty("1").GetDouble()));
        Assert.Equal((50d, 25d), (a.GetProperty("gpu_utilization").GetProperty("0").GetDouble(), a.GetProperty("gpu_utilization").GetProperty("1").GetDouble()));
        var b = root.GetProperty("nodes").GetProperty("gpu18");
        Assert.False(b.TryGetProperty("cpus", out _));
        Assert.False(b.TryGetProperty("total_memory", out _));
        Assert.Empty(b.GetProperty("gpu_total_memory").EnumerateObject());
        Assert.Equal(100d, b.GetProperty("gpu_utilization").GetProperty("3").GetDouble());
    }

    [Fact]
    public void Comment_ShortJobSummarizedUnfinishedNone()
    {
        using var summary = Js1(JobstatsSummary.Comment([("n", Record(Start, Start.AddSeconds(5), 1, 1, null, null))]));
        Assert.Equal(5, summary.RootElement.GetProperty("total_time").GetDouble());
        Assert.Equal("JS1:None", JobstatsSummary.Comment([("n", Record(Start, null, 1, 1, null, null))]));
        Assert.Equal("JS1:None", JobstatsSummary.Comment([]));
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public void Awaiting_OnlyJobsEndedOnEveryNodeRecentlyAndNotWritten_FieldsStoredExactly(string kind)
    {
        using var store = TestStore.Create(kind, _tree).Open();
        var now = Start.AddHours(3);

        // 1: ended on both nodes. 2: one node still runs. 3: ended two days ago. 4: Kubernetes.
        Apply(store, "a", Record(Start, Start.AddHours(1), 8, 3600, 64e9, 20e9, Gpu(0, 0.5, 40e9)) with { JobId = "1" });
        Apply(store, "b", Record(Start, Start.AddHours(2), 4, 100, null, 1e9) with { JobId = "1" });
        Apply(store, "a", Record(Start, Start.AddHours(1), 1, 1, null, null) with { JobId = "2" });
        Apply(store, "b", Record(Start, null, 1, 1, null, null) with { JobId = "2" });
        Apply(store, "a", Record(Start.AddDays(-2), Start.AddDays(-2).AddHours(1), 1, 1, null, null) with { JobId = "3" });
        Apply(store, "a", Record(Start, Start.AddHours(1), 1, 1, null, null) with { JobId = "ns/pod", Scheduler = "kubernetes" });

        Assert.Equal([("1", 0L)], store.JobsAwaitingComment(now - TimeSpan.FromDays(1), 100));
        var stored = store.Job("1").Single(r => r.Node == "a").Record;
        Assert.Equal((8d, 64e9, 85_520_809_984d), (stored.CpusAllocated!.Value, stored.MemoryLimitBytes!.Value, stored.Gpus.Single().MemoryTotalBytes!.Value));
        Assert.Null(store.Job("1").Single(r => r.Node == "b").Record.MemoryLimitBytes);

        store.MarkCommented("1", "retry", now);
        Assert.Equal([("1", 1L)], store.JobsAwaitingComment(now - TimeSpan.FromDays(1), 100));
        store.MarkCommented("1", "written", now);
        Assert.Empty(store.JobsAwaitingComment(now - TimeSpan.FromDays(1), 100));
    }

    /// <summary>"JS1:" and the base64 of gzipped JSON, decoded here.</summary>
    private static JsonDocument Js1(string comment)
    {
        Assert.StartsWith("JS1:", comment, StringComparison.Ordinal);
        using var gzip = new GZipStream(new MemoryStream(Convert.FromBase64String(comment[4..])), CompressionMode.Decompress);
        return JsonDocument.Parse(gzip);
    }

    private static void Apply(Monitor.Aggregator.Storage.JobStore store, string node, NodeJobRecord record) =>
        store.Apply($"http://{node}:9420", new JobsFeedPage(node, $"{Guid.Empty:N}-1", false, false, false, [record]), Start);

    private static NodeJobRecord Record(DateTimeOffset start, DateTimeOffset? end, double? cpus, double cpuSeconds, double? limit, double? peak, params NodeJobGpu[] gpus) => new()
    {
        JobId = "12345", Revision = 1, Scheduler = "slurm", State = end is null ? "running" : "ended", User = "alice", Account = "physics", Partition = "gpu",
        Start = start, End = end, CpusAllocated = cpus, CpuSeconds = cpuSeconds, MemoryLimitBytes = limit, MemoryPeakBytes = peak, Gpus = gpus,
    };

    private static NodeJobGpu Gpu(int index, double utilization, double memoryPeak, double? total = 85_520_809_984) => new()
    {
        Index = index, Uuid = $"GPU-{index}", AllocatedSeconds = 3600, BusySeconds = 3600 * utilization, EnergyJoules = 3600 * 300,
        MemoryPeakBytes = memoryPeak, MemoryTotalBytes = total,
    };
}
