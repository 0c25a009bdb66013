using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Monitor.Aggregator.Collection;
using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Tests.Collection;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Storage;

/// <summary>Several aggregator replicas on one PostgreSQL store: sharded targets, the standby lock, concurrent writers.</summary>
public sealed class ReplicaTests : IDisposable
{
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Shard_HashmodOfTheAddress_AsPrometheusComputesIt()
    {
        // Expected values: Python's hashlib.md5(address).digest()[8:] as a big-endian integer, modulo N.
        Assert.Equal([0, 0, 2, 0, 1, 0], new[] { "node1:9420", "node2:9420", "gpu17:9420", "node3:9420", "node4:9420", "10.0.0.5:9420" }.Select(a => Shard.Of(a, 3)));
        Assert.True(new Shard(2, 3).Owns("http://gpu17:9420"));
        Assert.True(new Shard(1, 3).Owns("https://node4:9420/"));

        // Every target is polled by exactly one replica.
        var targets = Enumerable.Range(0, 1000).Select(i => $"http://node{i}:9420").ToList();
        var shards = Enumerable.Range(0, 3).Select(i => new Shard(i, 3)).ToList();
        Assert.All(targets, t => Assert.Single(shards, s => s.Owns(t)));
        Assert.All(shards, s => Assert.InRange(targets.Count(s.Owns), 280, 390));
    }

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("2/3", 2, 3)]
    public void Shard_Parsed(string text, int index, int count) => Assert.Equal(new Shard(index, count), Shard.Parse(text));

    [Theory]
    [InlineData("3/3")]
    [InlineData("0/0")]
    [InlineData("-1/2")]
    [InlineData("1")]
    [InlineData("a/b")]
    [InlineData("1/2/3")]
    public void Shard_Bad_Null(string text) => Assert.Null(Shard.Parse(text));

    [Fact]
    public async Task Standby_OneReplicaPolls_TheOtherTakesOverWhenItsSessionEnds()
    {
        var database = PostgresServer.Shared.CreateDatabase();
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddSeconds(1_764_800_000));
        var agent = new StandInAgent { Node = "node1" };
        agent.Set("1", 1_764_800_000, allocatedSeconds: 10);
        var options = new AggregatorOptions { Standby = true, PollTimeout = TimeSpan.FromSeconds(10) };
        using var storeA = JobStore.OpenPostgres(database, "default");
        using var storeB = JobStore.OpenPostgres(database, "default");
        var lockA = new LeaderLock(database, "default");
        using var lockB = new LeaderLock(database, "default");
        var cycleA = Cycle(storeA, lockA);
        var cycleB = Cycle(storeB, lockB);

        Assert.Single(await cycleA.RunOnceAsync(CancellationToken.None));
        Assert.Empty(await cycleB.RunOnceAsync(CancellationToken.None));
        Assert.Single(await cycleA.RunOnceAsync(CancellationToken.None));
        Assert.Equal((true, false), (lockA.IsLeader, lockB.IsLeader));

        // A dies (its session ends): B polls from the cursor A stored, so the change made meanwhile arrives once.
        // The server ends A's session a moment after the connection closes; B, trying each cycle, takes over then.
        lockA.Dispose();
        agent.Set("1", 1_764_800_000, allocatedSeconds: 20);
        for (var tries = 0; tries < 600 && !lockB.TryLead(); tries++)
        {
            await Task.Delay(50);
        }

        var results = await cycleB.RunOnceAsync(CancellationToken.None);
        Assert.Equal((true, 1), (Assert.Single(results).Ok, results[0].Records));
        Assert.Equal(20, storeB.Job("1").Single().Record.Gpus.Single().AllocatedSeconds);

        PollCycle Cycle(JobStore store, LeaderLock leader) => new(
            new TargetList(["node1:9420"], []), new TargetPoller(new HttpClient(agent, disposeHandler: false), store, time), store, options, time, NullLogger<PollCycle>.Instance, leader);
    }

    [Fact]
    public void Standby_DatabaseUnreachable_StandsByWithoutThrowing()
    {
        using var leader = new LeaderLock($"Host=127.0.0.1;Port={ExternalTool.FreePort()};Username=postgres;Timeout=2", "default");
        Assert.False(leader.TryLead());
    }

    [Fact]
    public async Task Replicas_TwoNodesOfEveryJobStoredAtOnce_EachJobCountedOnce()
    {
        var database = PostgresServer.Shared.CreateDatabase();
        var day = new DateTimeOffset(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);
        using var first = JobStore.OpenPostgres(database, "default");
        using var second = JobStore.OpenPostgres(database, "default");

        // 300 two-node jobs, each node's end applied by a different replica at the same time, 10 jobs per answer.
        Task Write(JobStore store, string node) => Task.Run(() =>
        {
            for (var page = 0; page < 30; page++)
            {
                var jobs = Enumerable.Range(page * 10, 10).Select(j => UsageTests.Record($"{j}", 1, "physics", "alice", day, day.AddHours(1), 100, 50)).ToList();
                store.Apply($"http://{node}:9420", new JobsFeedPage(node, $"{Guid.Empty:N}-{page}", false, false, false, jobs), day);
            }
        });
        await Task.WhenAll(Write(first, "a"), Write(second, "b"));

        var usage = first.Usage("account", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1)).Single();
        Assert.Equal((300L, 300 * 2 * 100d), (usage.Jobs, usage.GpuAllocatedSeconds));
    }
}
