using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Usage;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Storage;

/// <summary>
/// The store's accounting on SQLite and PostgreSQL alike: daily rollups (each ended record added once, on its end's
/// day, under its account, user and partition), incomplete jobs, retention, running jobs and cost.
/// </summary>
public sealed class UsageTests : IDisposable
{
    private static readonly DateTimeOffset Day1 = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateOnly November = new(2026, 11, 1);
    private static readonly DateOnly December = new(2026, 12, 1);
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public void Usage_EndedRecordsOnce_ByAccountUserPartitionAndDay(string kind)
    {
        using var store = TestStore.Create(kind, _tree).Open();

        // Job 1: two nodes, 2 GPU-hours each, physics/alice. Job 2: one node, 1 GPU-hour, chemistry/bob, the next day.
        // Job 3: still running (not in usage). Every answer is applied twice: nothing is added twice.
        for (var pass = 0; pass < 2; pass++)
        {
            store.Apply("http://a:9420", Page("a", Record("1", 2, "physics", "alice", Day1, Day1.AddHours(1), 7200, 3600)), Day1);
            store.Apply("http://b:9420", Page("b", Record("1", 2, "physics", "alice", Day1, Day1.AddHours(1), 7200, 1800)), Day1);
            store.Apply("http://a:9420", Page("a", Record("2", 5, "chemistry", "bob", Day1.AddDays(1), Day1.AddDays(1).AddHours(1), 3600, 360)), Day1);
            store.Apply("http://a:9420", Page("a", Record("3", 6, "physics", "alice", Day1, null, 9999, 9999)), Day1);
        }

        Assert.Equal(
            [new UsageRow("chemistry", 3600, 360, 3600 * 300, 0, 1), new UsageRow("physics", 14400, 5400, 14400 * 300, 0, 1)],
            store.Usage("account", November, December));
        Assert.Equal(["2026-11-03", "2026-11-04"], store.Usage("day", November, December).Select(r => r.Key));
        Assert.Equal(["alice", "bob"], store.Usage("user", November, December).Select(r => r.Key));
        Assert.Equal(["physics"], store.Usage("account", new DateOnly(2026, 11, 3), new DateOnly(2026, 11, 4)).Select(r => r.Key));
        Assert.Throws<ArgumentException>(() => store.Usage("colour", November, December));
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public void Finalize_NodeUnreachablePastTheGrace_JobIncompleteThenCompletedByTheDifferenceOnly(string kind)
    {
        using var store = TestStore.Create(kind, _tree).Open();
        var grace = TimeSpan.FromHours(6);

        // Job 7 on two nodes. Node a ends it at 11:00; node b answered last at 10:30 with 1,800 GPU-seconds, then went away.
        store.Apply("http://b:9420", Page("b", Record("7", 1, "physics", "alice", Day1, null, 1800, 900)), Day1.AddMinutes(30));
        store.Apply("http://a:9420", Page("a", Record("7", 1, "physics", "alice", Day1, Day1.AddHours(1), 3600, 3600)), Day1.AddHours(1));
        Assert.Equal(0, store.FinalizeUnreachable(Day1.AddHours(6), grace));
        Assert.Equal("running", Report(store, "7"));
        Assert.Equal(3600, store.Usage("account", November, December).Single().GpuAllocatedSeconds);

        // Six hours after b's last answer the job is finalized: incomplete, with b's 1,800 s counted, the job once.
        Assert.Equal(1, store.FinalizeUnreachable(Day1.AddHours(6.6), grace));
        Assert.Equal(0, store.FinalizeUnreachable(Day1.AddHours(7), grace));
        Assert.Equal("incomplete", Report(store, "7"));
        Assert.Equal(new UsageRow("physics", 5400, 4500, 5400 * 300, 0, 1), store.Usage("account", November, December).Single());
        Assert.Empty(store.Running());

        // A day later b comes back and reports the end: 7,200 s in all. Only the 5,400 s it had not counted are added.
        store.Apply("http://b:9420", Page("b", Record("7", 2, "physics", "alice", Day1, Day1.AddHours(2), 7200, 1800)), Day1.AddDays(1));
        Assert.Equal("ended", Report(store, "7"));
        Assert.Equal(new UsageRow("physics", 10800, 5400, 10800 * 300, 0, 1), store.Usage("account", November, December).Single());
        Assert.Equal(("2026-11-03", 10800d), store.Usage("day", November, December).Select(r => (r.Key, r.GpuAllocatedSeconds)).Single());
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public void Retention_OldEndedRecordsDeleted_RollupsAndRunningJobsKept(string kind)
    {
        using var store = TestStore.Create(kind, _tree).Open();
        store.Apply("http://a:9420", Page("a", Record("old", 1, "physics", "alice", Day1, Day1.AddHours(1), 3600, 0)), Day1);
        store.Apply("http://a:9420", Page("a", Record("new", 2, "physics", "alice", Day1.AddDays(10), Day1.AddDays(10).AddHours(1), 3600, 0)), Day1);
        store.Apply("http://a:9420", Page("a", Record("long", 3, "physics", "alice", Day1, null, 3600, 0)), Day1);

        Assert.Equal(1, store.DeleteEndedBefore(Day1.AddDays(5)));

        Assert.Empty(store.Job("old"));
        Assert.Single(store.Job("new"));
        Assert.Single(store.Job("long"));
        Assert.Equal(2, store.Usage("account", November, December).Single().Jobs);
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public void Running_HeldGpusWithUtilizationSinceStartAndAtTheLastPoll(string kind)
    {
        using var store = TestStore.Create(kind, _tree).Open();

        // Job 9 on two nodes: a's GPU 600 s busy of 1,000, then 40 more of the next 100 (idle now); b's GPU busy throughout.
        store.Apply("http://a:9420", Page("a", Record("9", 1, "physics", "alice", Day1, null, 1000, 600)), Day1);
        store.Apply("http://a:9420", Page("a", Record("9", 2, "physics", "alice", Day1, null, 1100, 602)), Day1);
        store.Apply("http://b:9420", Page("b", Record("9", 1, "physics", "alice", Day1, null, 500, 500)), Day1);
        store.Apply("http://a:9420", Page("a", Record("10", 3, "chemistry", "bob", Day1, Day1.AddHours(1), 3600, 0)), Day1);

        var job = Assert.Single(store.Running());
        Assert.Equal(("9", "alice", "physics"), (job.JobId, job.User, job.Account));
        Assert.Equal(["a", "b"], job.Nodes);
        Assert.Equal(
            [new RunningGpu("a", 0, 1100, 602, 100, 2), new RunningGpu("b", 0, 500, 500, 500, 500)],
            job.Gpus.OrderBy(g => g.Node));
        Assert.Equal([true, false], job.Gpus.OrderBy(g => g.Node).Select(Api.RunningReport.IsIdle));
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public void Usage_WithRates_CostPerPartitionSummedPerAccount(string kind)
    {
        using var store = TestStore.Create(kind, _tree).Open();
        var rates = CostRates.Parse(
            """
            currency: EUR
            gpu_hour: 2
            kwh: 0.5
            partitions:
              h100: { gpu_hour: 4 }
            """,
            "rates.yml");

        // physics: 1 GPU-hour (0.3 kWh) on "gpu" and 2 GPU-hours (0.6 kWh) on "h100".
        store.Apply("http://a:9420", Page("a", Record("1", 1, "physics", "alice", Day1, Day1.AddHours(1), 3600, 0)), Day1);
        store.Apply("http://a:9420", Page("a", Record("2", 2, "physics", "alice", Day1, Day1.AddHours(1), 7200, 0) with { Partition = "h100" }), Day1);

        var row = store.Usage("account", November, December, rates).Single();
        Assert.Equal((1 * 2) + (0.3 * 0.5) + (2 * 4) + (0.6 * 0.5), row.Cost!.Value, 9);
        Assert.Null(store.Usage("account", November, December).Single().Cost);
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public void CpuEnergy_StoredPerNode_SummedForTheJob_NullWhereNoAgentAttributedIt(string kind)
    {
        var tested = TestStore.Create(kind, _tree);
        using (var store = tested.Open())
        {
            // Job 4 owned node a (420.5 J) and node b (79.5 J); job 5 shared its node, so no agent attributed any.
            store.Apply("http://a:9420", Page("a", Record("4", 1, "physics", "alice", Day1, Day1.AddHours(1), 3600, 0) with { CpuEnergyJoules = 420.5 }), Day1);
            store.Apply("http://b:9420", Page("b", Record("4", 1, "physics", "alice", Day1, Day1.AddHours(1), 3600, 0) with { CpuEnergyJoules = 79.5 }), Day1);
            store.Apply("http://a:9420", Page("a", Record("5", 2, "physics", "alice", Day1, Day1.AddHours(1), 3600, 0)), Day1);
        }

        // Read back by a restarted aggregator.
        using var reopened = tested.Open();
        Assert.Equal([420.5, 79.5], reopened.Job("4").OrderBy(r => r.Node, StringComparer.Ordinal).Select(r => r.Record.CpuEnergyJoules));
        var report = ReportJson(reopened, "4");
        Assert.Equal(500, report.GetProperty("cpu_energy_joules").GetDouble());
        Assert.Equal(420.5, report.GetProperty("node_records")[0].GetProperty("cpu_energy_joules").GetDouble());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, ReportJson(reopened, "5").GetProperty("cpu_energy_joules").ValueKind);
    }

    /// <summary>The job report's state, as the API writes it.</summary>
    private static string Report(JobStore store, string id) => ReportJson(store, id).GetProperty("state").GetString()!;

    /// <summary>The job report, as the API writes it.</summary>
    private static System.Text.Json.JsonElement ReportJson(JobStore store, string id)
    {
        using var buffer = new MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            Assert.True(Api.JobReport.Write(json, id, store.Job(id), Day1.AddDays(2)));
        }

        return System.Text.Json.JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();
    }

    internal static JobsFeedPage Page(string node, NodeJobRecord record) => new(node, $"{Guid.Empty:N}-{record.Revision}", false, false, false, [record]);

    internal static NodeJobRecord Record(string id, long revision, string account, string user, DateTimeOffset start, DateTimeOffset? end, double allocated, double busy) => new()
    {
        JobId = id, Revision = revision, Scheduler = "slurm", State = end is null ? "running" : "ended", Account = account, User = user, Partition = "gpu",
        Start = start, End = end, Gpus = [new NodeJobGpu { Index = 0, Uuid = "GPU-0", Held = end is null, AllocatedSeconds = allocated, BusySeconds = busy, EnergyJoules = allocated * 300 }],
    };
}
