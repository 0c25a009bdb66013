using Microsoft.Extensions.Logging;
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

    [Theory]
    [InlineData(1)] // Slurm 22.05's sacctmgr, found with the real slurmdbd: " Nothing modified", exit code 1
    [InlineData(0)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void NothingModified_TriedAgainEachCycle_FailedAtTheFifth(int exitCode)
    {
        using var store = TestStore.Create("sqlite", _tree).Open();
        Apply(store, "a", Record(Start, Start.AddHours(1), 1, 1, null, null) with { JobId = "1" });
        var sacctmgr = Script("sacctmgr", $"echo x >>\"$0.calls\"; echo ' Nothing modified'; exit {exitCode}");
        var logger = new ListLogger();
        var comments = new AdminComments(store, sacctmgr, Script("sacct", "exit 9"), logger);

        var now = Start.AddHours(2);
        for (var cycle = 1; cycle <= AdminComments.Attempts; cycle++)
        {
            Assert.Equal([("1", cycle - 1L)], store.JobsAwaitingComment(now - TimeSpan.FromDays(1), 100));
            comments.WriteDue(now);
        }

        Assert.Empty(store.JobsAwaitingComment(now - TimeSpan.FromDays(1), 100));
        comments.WriteDue(now);
        Assert.Equal(AdminComments.Attempts, File.ReadAllLines(sacctmgr + ".calls").Length);
        Assert.Equal(
            [.. Enumerable.Repeat($"Slurm job 1: the AdminComment was not written (retried next cycle): exit code {exitCode}: Nothing modified", AdminComments.Attempts - 1),
             $"Slurm job 1: the AdminComment was not written (failed): exit code {exitCode}: Nothing modified"],
            logger.Lines);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void ReadBackAsWritten_Written_LaterCommentsNotReadBack()
    {
        using var store = TestStore.Create("sqlite", _tree).Open();
        Apply(store, "a", Record(Start, Start.AddHours(1), 8, 3600, 64e9, 20e9, Gpu(0, 0.5, 40e9)) with { JobId = "1" });
        var logger = new ListLogger();
        var comments = new AdminComments(store, Sacctmgr(), Sacct(lowercase: false), logger);

        comments.WriteDue(Start.AddHours(2));
        Apply(store, "a", Record(Start, Start.AddHours(3), 1, 1, null, null) with { JobId = "2" });
        comments.WriteDue(Start.AddHours(4));

        Assert.Empty(store.JobsAwaitingComment(Start, 100));
        Assert.Equal(["1"], File.ReadAllLines(_tree.Path("sacct.calls")));
        Assert.Equal(JobstatsSummary.Comment(store.Job("2")), File.ReadAllText(_tree.Path("sacctmgr.2")));
        Assert.Empty(logger.Lines);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void ReadBackLowercased_JobFailed_NoMoreWritten()
    {
        // Slurm 22.05's sacctmgr lowercases the value (bug 14338), so its slurmdbd answers JS1:H4sI... as js1:h4si...
        using var store = TestStore.Create("sqlite", _tree).Open();
        Apply(store, "a", Record(Start, Start.AddHours(1), 8, 3600, 64e9, 20e9, Gpu(0, 0.5, 40e9)) with { JobId = "1" });
        var logger = new ListLogger();
        var comments = new AdminComments(store, Sacctmgr(), Sacct(lowercase: true), logger);

        comments.WriteDue(Start.AddHours(2));
        Apply(store, "a", Record(Start, Start.AddHours(3), 1, 1, null, null) with { JobId = "2" });
        comments.WriteDue(Start.AddHours(4));

        var comment = JobstatsSummary.Comment(store.Job("1"));
        var line = Assert.Single(logger.Lines);
        Assert.StartsWith($"Slurm job 1: sacctmgr stored the AdminComment lowercased, {comment.ToLowerInvariant()}, not {comment}: sacctmgr before Slurm 23.02", line, StringComparison.Ordinal);
        Assert.Equal(["1"], File.ReadAllLines(_tree.Path("sacctmgr.calls")));
        Assert.Equal([("2", 0L)], store.JobsAwaitingComment(Start, 100));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void ReadBackFails_Written_NextCommentReadBack()
    {
        using var store = TestStore.Create("sqlite", _tree).Open();
        Apply(store, "a", Record(Start, Start.AddHours(1), 1, 1, null, null) with { JobId = "1" });
        Apply(store, "a", Record(Start, Start.AddHours(1), 1, 1, null, null) with { JobId = "2" });
        var logger = new ListLogger();
        var comments = new AdminComments(store, Sacctmgr(), Script("sacct", "echo \"$2\" >>\"$0.calls\"; echo 'sacct: error: slurmdbd: no answer' >&2; exit 1"), logger);

        comments.WriteDue(Start.AddHours(2));

        Assert.Empty(store.JobsAwaitingComment(Start, 100));
        Assert.Equal(["1", "2"], File.ReadAllLines(_tree.Path("sacct.calls")));
        Assert.Equal(
            ["Slurm job 1: the AdminComment written could not be read back to check it (sacct exit code 1: sacct: error: slurmdbd: no answer); the next one is checked",
             "Slurm job 2: the AdminComment written could not be read back to check it (sacct exit code 1: sacct: error: slurmdbd: no answer); the next one is checked"],
            logger.Lines);
    }

    /// <summary>A stand-in sacctmgr that keeps each job's AdminComment in sacctmgr.&lt;jobid&gt; and answers as Slurm's does.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private string Sacctmgr() =>
        Script("sacctmgr", "echo \"${5#jobid=}\" >>\"$0.calls\"; printf '%s' \"${7#AdminComment=}\" >\"$0.${5#jobid=}\"; echo ' Modified jobs...'; echo \"  ${5#jobid=} submitted at 2026-12-01T08:00:00\"");

    /// <summary>A stand-in <c>sacct -j ID -X -n -P -o AdminComment</c> that prints what the stand-in sacctmgr kept, lowercased or not.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private string Sacct(bool lowercase) =>
        Script("sacct", $"echo \"$2\" >>\"$0.calls\"; cat \"{_tree.Path("sacctmgr")}.$2\"{(lowercase ? " | tr A-Z a-z" : "")}; echo");

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private string Script(string name, string body)
    {
        _tree.Write(name, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(_tree.Path(name), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return _tree.Path(name);
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

    /// <summary>Keeps each formatted log line.</summary>
    private sealed class ListLogger : ILogger<AdminComments>
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) => Lines.Add(formatter(state, exception));
    }
}
