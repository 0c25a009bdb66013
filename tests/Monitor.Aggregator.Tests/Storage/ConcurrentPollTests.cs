using Monitor.Aggregator.Storage;
using Monitor.Contracts;
using Monitor.Testing;
using static Monitor.Aggregator.Tests.Storage.UsageTests;

namespace Monitor.Aggregator.Tests.Storage;

/// <summary>
/// Answers of many polls arriving at once: each is stored with its cursor, and one that cannot be stored fails only
/// its own poll. On SQLite the answers that queued while the writer was busy go in one transaction.
/// </summary>
public sealed class ConcurrentPollTests : IDisposable
{
    private static readonly DateTimeOffset Day1 = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public void LastXid_StoredAndKeptWhenALaterRevisionNoLongerKnowsIt(string kind)
    {
        // An agent restart loses the code (its ledger keeps the count): the store keeps the code it had.
        using var store = TestStore.Create(kind, _tree).Open();
        long?[] codes = [79, null, 13];
        long?[] stored = [79, 79, 13];
        for (var revision = 1; revision <= 3; revision++)
        {
            var record = Record("x", revision, "physics", "alice", Day1, null, 60 * revision, 30);
            record = record with { Gpus = [record.Gpus[0] with { XidErrors = 2, LastXid = codes[revision - 1] }] };
            store.Apply("http://a:9420", Page("a", record), Day1);
            Assert.Equal(stored[revision - 1], Assert.Single(Assert.Single(store.Job("x")).Record.Gpus).LastXid);
        }
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public async Task ApplyAsync_FortyAnswersQueuedAndOneBad_EveryGoodOneStoredWithItsCursorAndOnlyTheBadOneFails(string kind)
    {
        using var store = TestStore.Create(kind, _tree).Open();

        // The writer is held while 40 polls answer at once, so on SQLite they all queue for one group. Answer 17 has a
        // record without a job id, which no store accepts.
        await store.WriterTurn.WaitAsync();
        var polls = Enumerable.Range(0, 40).Select(i => Task.Run(() =>
        {
            var record = Record($"job{i}", 3, "physics", "alice", Day1, i % 2 == 0 ? Day1.AddHours(1) : null, 3600, 1800);
            return store.ApplyAsync($"http://node{i}:9420", Page($"node{i}", i == 17 ? record with { JobId = null! } : record), Day1);
        })).ToList();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!store.IsPostgres && store.QueuedAnswers < 40 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        store.WriterTurn.Release();
        for (var i = 0; i < polls.Count; i++)
        {
            if (i == 17)
            {
                await Assert.ThrowsAnyAsync<Exception>(() => polls[i]);
                Assert.Null(store.Target("http://node17:9420"));
                continue;
            }

            Assert.Equal(1, await polls[i]);
            Assert.Equal($"{Guid.Empty:N}-3", store.Target($"http://node{i}:9420")!.Cursor);
            var (node, stored) = Assert.Single(store.Job($"job{i}"));
            Assert.Equal(($"node{i}", 3600.0), (node, stored.Gpus.Single().AllocatedSeconds));
        }

        // The 20 ended jobs (the even ones; 17 ran) are in the usage once each: 20 GPU-hours.
        Assert.Equal(20 * 3600.0, store.Usage("account", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1)).Single().GpuAllocatedSeconds, 6);
        if (!store.IsPostgres)
        {
            // One group that failed on answer 17, then each answer alone: no group committed.
            Assert.Equal(0, store.GroupCommits);
        }

        // Without a bad answer, a group is one transaction.
        await store.WriterTurn.WaitAsync();
        var again = Enumerable.Range(0, 10).Select(i => Task.Run(() => store.ApplyAsync($"http://node{i}:9420", Page($"node{i}", Record($"again{i}", 4, "physics", "alice", Day1, null, 3700, 1800)), Day1))).ToList();
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (!store.IsPostgres && store.QueuedAnswers < 10 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        store.WriterTurn.Release();
        await Task.WhenAll(again);
        Assert.Equal($"{Guid.Empty:N}-4", store.Target("http://node9:9420")!.Cursor);
        if (!store.IsPostgres)
        {
            Assert.Equal(1, store.GroupCommits);
        }
    }
}
