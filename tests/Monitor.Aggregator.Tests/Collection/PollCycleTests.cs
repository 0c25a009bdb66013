using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Monitor.Aggregator.Collection;
using Monitor.Aggregator.Storage;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Collection;

/// <summary>The poll cycle: every target, bounded, with backoff for failing ones; and its target list.</summary>
public sealed class PollCycleTests : IDisposable
{
    private readonly TempTree _tree = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddSeconds(1_764_800_000));

    public void Dispose() => _tree.Dispose();

    [Fact]
    public async Task Cycle_FailingTarget_BackedOffOneTwoFourCyclesOthersPolledEveryCycle()
    {
        var agents = new Dictionary<string, StandInAgent>
        {
            ["http://good:9420"] = new StandInAgent { Node = "good" },
            ["http://bad:9420"] = new StandInAgent { Node = "bad", Fault = _ => Faults.Status(HttpStatusCode.BadGateway) },
        };
        agents["http://good:9420"].Set("1", 1_764_800_000, 1);
        using var store = JobStore.OpenSqlite(_tree.Path("store.db"), "default");
        var options = new AggregatorOptions { PollInterval = TimeSpan.FromSeconds(30), PollTimeout = TimeSpan.FromSeconds(5) };
        var cycle = new PollCycle(
            new TargetList(["good:9420", "http://bad:9420/"], []), new TargetPoller(new HttpClient(new Router(agents)), store, _time), store, options, _time, NullLogger<PollCycle>.Instance);

        var polledBad = new List<int>();
        for (var c = 0; c < 8; c++)
        {
            var results = await cycle.RunOnceAsync(CancellationToken.None);
            Assert.Contains(results, r => r.Target == "http://good:9420" && r.Ok);
            if (results.Any(r => r.Target == "http://bad:9420"))
            {
                polledBad.Add(c);
            }

            _time.Advance(options.PollInterval);
        }

        // Failures 1, 2, 3, 4: waits of 1, 2 and 4 cycles between polls.
        Assert.Equal([0, 1, 3, 7], polledBad);
        Assert.Single(store.Job("1"));
    }

    [Fact]
    public void Targets_FileSd_ReadAgainWhenChangedLastGoodKeptWhenBroken()
    {
        var file = _tree.Path("targets.json");
        File.WriteAllText(file, """[{"targets": ["node1:9420", "node2:9420"], "labels": {"rack": "a"}}]""");
        var list = new TargetList(["node0:9420"], [file]);

        Assert.Equal(["http://node0:9420", "http://node1:9420", "http://node2:9420"], list.Current());

        File.WriteAllText(file, """[{"targets": ["node3:9420"]}]""");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));
        Assert.Equal(["http://node0:9420", "http://node3:9420"], list.Current());

        File.WriteAllText(file, """{"targets": "not a list"}""");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(10));
        Assert.Equal(["http://node0:9420", "http://node3:9420"], list.Current());
        Assert.Contains("JSON array", list.Problems[file], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("500ms", 0.5)]
    [InlineData("1m30s", 90)]
    [InlineData("2h", 7200)]
    [InlineData("400d", 400 * 86400)]
    [InlineData("1w", 7 * 86400)]
    [InlineData("1y", 365 * 86400)]
    public void Duration_GoStyle_Parsed(string text, double seconds) => Assert.Equal(TimeSpan.FromSeconds(seconds), AggregatorOptions.ParseDuration(text));

    [Theory]
    [InlineData("")]
    [InlineData("0s")]
    [InlineData("30")]
    [InlineData("5x")]
    [InlineData("-1s")]
    [InlineData("1e400s")]
    public void Duration_NotOne_Null(string text) => Assert.Null(AggregatorOptions.ParseDuration(text));

    /// <summary>Sends each request to the stand-in agent of its host.</summary>
    private sealed class Router(Dictionary<string, StandInAgent> agents) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var agent = agents[$"{request.RequestUri!.Scheme}://{request.RequestUri.Authority}"];
            using var invoker = new HttpMessageInvoker(agent, disposeHandler: false);
            return invoker.SendAsync(request, cancellationToken);
        }
    }
}
