using System.Net;
using Microsoft.Extensions.Time.Testing;
using Monitor.Aggregator.Collection;
using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Tests.Storage;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Collection;

/// <summary>Polling stand-in agents into a real store, SQLite and PostgreSQL: exactly once across restarts, faults and resets.</summary>
public sealed class TargetPollerTests : IDisposable
{
    private const string Target = "http://node1:9420";
    private readonly TempTree _tree = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddSeconds(1_764_800_000));
    private TestStore? _store;

    public void Dispose() => _tree.Dispose();

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public async Task Poll_PagesUntilCaughtUp_EveryRecordOnceAndTheCursorStored(string kind)
    {
        var agent = new StandInAgent();
        for (var j = 0; j < 2500; j++)
        {
            agent.Set($"{j}", 1_764_800_000 + j, allocatedSeconds: j);
        }

        using var store = Store(kind);
        var result = await Poller(agent, store).PollAsync(Target, TimeSpan.FromSeconds(10), CancellationToken.None);

        Assert.Equal((true, 3, 2500), (result.Ok, result.Pages, result.Records));
        Assert.Equal(1234, store.Job("1234").Single().Record.Gpus.Single().AllocatedSeconds);
        Assert.EndsWith("-2500", store.Target(Target)!.Cursor, StringComparison.Ordinal);

        // Nothing new: one request, nothing stored.
        var again = await Poller(agent, store).PollAsync(Target, TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.Equal((true, 1, 0), (again.Ok, again.Pages, again.Records));
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public async Task Poll_KilledMidPollAndRestarted_NothingTwiceNothingSkipped(string kind)
    {
        var agent = new StandInAgent();
        for (var j = 0; j < 2500; j++)
        {
            agent.Set($"{j}", 1_764_800_000, allocatedSeconds: 1);
        }

        // The second page fails (the aggregator dies there, as far as the store can tell): the first page is stored
        // with its cursor, in one transaction.
        agent.Fault = n => n == 2 ? Faults.Status(HttpStatusCode.InternalServerError) : null;
        using (var store = Store(kind))
        {
            var first = await Poller(agent, store).PollAsync(Target, TimeSpan.FromSeconds(10), CancellationToken.None);
            Assert.Equal((false, 1, 1000, "HTTP 500 Internal Server Error"), (first.Ok, first.Pages, first.Records, first.Problem));
        }

        // Meanwhile job 5 changes; a new aggregator process on the same file continues from the stored cursor.
        agent.Fault = null;
        agent.Set("5", 1_764_800_000, allocatedSeconds: 7);
        using (var store = Store(kind))
        {
            var second = await Poller(agent, store).PollAsync(Target, TimeSpan.FromSeconds(10), CancellationToken.None);
            Assert.True(second.Ok, second.Problem);
            Assert.Equal(1501, second.Records);
            Assert.Equal(2500, Enumerable.Range(0, 2500).Count(j => store.Job($"{j}").Count == 1));
            Assert.Equal(7, store.Job("5").Single().Record.Gpus.Single().AllocatedSeconds);
        }
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public async Task Poll_GarbageHungOr500_OnlyThatPollFailsAndTheCursorStays(string kind)
    {
        var agent = new StandInAgent();
        agent.Set("1", 1_764_800_000, allocatedSeconds: 10);
        using var store = Store(kind);
        await Poller(agent, store).PollAsync(Target, TimeSpan.FromSeconds(10), CancellationToken.None);
        var cursor = store.Target(Target)!.Cursor;
        agent.Set("1", 1_764_800_000, allocatedSeconds: 20);

        agent.Fault = _ => Faults.Garbage();
        var garbage = await Poller(agent, store).PollAsync(Target, TimeSpan.FromSeconds(10), CancellationToken.None);
        agent.Fault = _ => Faults.Status(HttpStatusCode.ServiceUnavailable);
        var unavailable = await Poller(agent, store).PollAsync(Target, TimeSpan.FromSeconds(10), CancellationToken.None);
        using var hung = new HungHandler();
        var timedOut = await new TargetPoller(new HttpClient(hung), store, _time).PollAsync(Target, TimeSpan.FromMilliseconds(200), CancellationToken.None);

        Assert.StartsWith("bad feed answer: not JSON", garbage.Problem, StringComparison.Ordinal);
        Assert.Equal("HTTP 503 Service Unavailable", unavailable.Problem);
        Assert.Equal("no answer within 0.2 s", timedOut.Problem);
        Assert.Equal(cursor, store.Target(Target)!.Cursor);
        Assert.Equal(10, store.Job("1").Single().Record.Gpus.Single().AllocatedSeconds);

        agent.Fault = null;
        Assert.True((await Poller(agent, store).PollAsync(Target, TimeSpan.FromSeconds(10), CancellationToken.None)).Ok);
        Assert.Equal(20, store.Job("1").Single().Record.Gpus.Single().AllocatedSeconds);
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public async Task Poll_AgentLedgerWiped_ResetRecordsReplaceTheOldRevisions(string kind)
    {
        var agent = new StandInAgent();
        for (var j = 0; j < 10; j++)
        {
            agent.Set("42", 1_764_800_000, allocatedSeconds: j);
        }

        using var store = Store(kind);
        await Poller(agent, store).PollAsync(Target, TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.Equal(10, store.Job("42").Single().Record.Revision);

        // A wiped ledger numbers from 1 again; its answer says reset, so revision 1 replaces the stored 10.
        agent.Wipe();
        agent.Set("42", 1_764_800_000, allocatedSeconds: 50);
        var result = await Poller(agent, store).PollAsync(Target, TimeSpan.FromSeconds(10), CancellationToken.None);

        Assert.True(result.Ok, result.Problem);
        Assert.Equal(50, store.Job("42").Single().Record.Gpus.Single().AllocatedSeconds);
        Assert.Equal(2, store.Job("42").Single().Record.Revision);
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public void Store_NewerSchema_RefusedWithTheReason(string kind)
    {
        var test = TestStore.Create(kind, _tree);
        using (var store = test.Open())
        {
            Assert.Equal(JobStore.LatestVersion, store.SchemaVersion);
        }

        test.Execute("INSERT INTO schema_version (version) VALUES (99)");
        var e = Assert.Throws<InvalidOperationException>(() => test.Open());
        Assert.Contains("schema is version 99, newer than this monitor-aggregator knows", e.Message, StringComparison.Ordinal);
    }

    private JobStore Store(string kind)
    {
        _store ??= TestStore.Create(kind, _tree);
        return _store.Open();
    }

    private TargetPoller Poller(StandInAgent agent, JobStore store) => new(new HttpClient(agent, disposeHandler: false), store, _time);

    /// <summary>A target that accepts the request and never answers.</summary>
    private sealed class HungHandler : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }
}
