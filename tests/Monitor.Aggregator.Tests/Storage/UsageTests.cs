using Monitor.Aggregator.Storage;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Storage;

/// <summary>Daily rollups: each ended record added once, on its end's day, under its account, user and partition.</summary>
public sealed class UsageTests : IDisposable
{
    private static readonly DateTimeOffset Day1 = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Usage_EndedRecordsOnce_ByAccountUserPartitionAndDay()
    {
        using var store = new SqliteJobStore(_tree.Path("store.db"), "default");

        // Job 1: two nodes, 2 GPU-hours each, physics/alice. Job 2: one node, 1 GPU-hour, chemistry/bob, the next day.
        // Job 3: still running (not in usage). Every answer is applied twice: nothing is added twice.
        for (var pass = 0; pass < 2; pass++)
        {
            store.Apply("http://a:9420", Page("a", Record("1", 2, "physics", "alice", Day1, Day1.AddHours(1), 7200, 3600)), Day1);
            store.Apply("http://b:9420", Page("b", Record("1", 2, "physics", "alice", Day1, Day1.AddHours(1), 7200, 1800)), Day1);
            store.Apply("http://a:9420", Page("a", Record("2", 5, "chemistry", "bob", Day1.AddDays(1), Day1.AddDays(1).AddHours(1), 3600, 360)), Day1);
            store.Apply("http://a:9420", Page("a", Record("3", 6, "physics", "alice", Day1, null, 9999, 9999)), Day1);
        }

        var byAccount = store.Usage("account", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1));
        Assert.Equal(
            [new UsageRow("chemistry", 3600, 360, 3600 * 300, 0, 1), new UsageRow("physics", 14400, 5400, 14400 * 300, 0, 1)],
            byAccount);
        Assert.Equal(["2026-11-03", "2026-11-04"], store.Usage("day", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1)).Select(r => r.Key));
        Assert.Equal(["physics"], store.Usage("account", new DateOnly(2026, 11, 3), new DateOnly(2026, 11, 4)).Select(r => r.Key));
        Assert.Throws<ArgumentException>(() => store.Usage("colour", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1)));
    }

    private static JobsFeedPage Page(string node, NodeJobRecord record) => new(node, $"{Guid.Empty:N}-{record.Revision}", false, false, false, [record]);

    private static NodeJobRecord Record(string id, long revision, string account, string user, DateTimeOffset start, DateTimeOffset? end, double allocated, double busy) => new()
    {
        JobId = id, Revision = revision, Scheduler = "slurm", State = end is null ? "running" : "ended", Account = account, User = user, Partition = "gpu",
        Start = start, End = end, Gpus = [new NodeJobGpu { Index = 0, Uuid = "GPU-0", AllocatedSeconds = allocated, BusySeconds = busy, EnergyJoules = allocated * 300 }],
    };
}
