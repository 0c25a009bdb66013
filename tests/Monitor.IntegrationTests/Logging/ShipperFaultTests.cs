using System.Globalization;
using System.Text.Json;
using Monitor.IntegrationTests.Gpu;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Logging;

/// <summary>
/// The real agent's Elasticsearch shipper against the faults of issue 22: a spool disk that fills up or is read-only,
/// an Elasticsearch that rejects every document, and a proxy that refuses any request holding one poison document.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class ShipperFaultTests(FakeNvmlFixture fake) : IClassFixture<FakeNvmlFixture>, IDisposable
{
    private const string SpoolFailed = "Log spool write failed";
    private const string SpoolRecovered = "Log spool write works again";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);
    private readonly string _directory = Directory.CreateTempSubdirectory("monitor-shipper-").FullName;
    private readonly HttpClient _client = new();

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Agent_SpoolDiskFullThenSpaceBack_EveryEventArrivesExactlyOnceAndTheFullDiskIsLoggedOnce()
    {
        using var tmpfs = await Tmpfs.MountAsync(1 << 20);
        await using var es = await FakeElasticsearch.StartAsync();
        es.Available = false;
        using var control = new ControlFile("xid_gpu=0\n");
        await using var agent = await StoppableAgent.StartAsync(control.Environment,
            $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu",
            $"--log.elasticsearch.url={es.Url}", $"--log.elasticsearch.spool-path={Path.Join(tmpfs.Path, "spool")}");

        var filler = tmpfs.Fill();
        // XIDs until one finds the disk full (the last page of the segment may still take a record or two), then more.
        var whileFull = new List<int>();
        for (var code = 100_000; agent.CountLines(SpoolFailed) == 0; code++)
        {
            Assert.True(whileFull.Count < 200, "200 events and the spool never reported the full disk");
            whileFull.Add(await XidAsync(control, agent, code));
        }

        for (var i = 0; i < 5; i++)
        {
            whileFull.Add(await XidAsync(control, agent, 150_000 + i));
        }

        var full = await agent.ScrapeAsync(_client);
        Assert.Equal(0, full["monitor_log_shipper_spool_writable"]);
        Assert.True(full["monitor_log_shipper_spool_errors_total{operation=\"write\"}"] >= 1);
        Assert.True(full["monitor_log_shipper_memory_queue_bytes"] > 0);
        Assert.True(agent.Running);

        // Space back and Elasticsearch up: spooling resumes by itself (the writer retries every second).
        File.Delete(filler);
        es.Available = true;
        await WaitAsync(() => agent.CountLines(SpoolRecovered) == 1);
        var afterRecovery = new List<int>();
        for (var i = 0; i < 10; i++)
        {
            afterRecovery.Add(await XidAsync(control, agent, 200_000 + i));
        }

        await WaitAsync(() => afterRecovery.Concat(whileFull).All(code => XidDocuments(es, code) >= 1));
        var recovered = await agent.ScrapeAsync(_client);
        Assert.All(afterRecovery.Concat(whileFull), code => Assert.Equal(1, XidDocuments(es, code)));
        Assert.Equal(1, recovered["monitor_log_shipper_spool_writable"]);
        Assert.Equal(0, recovered["monitor_log_shipper_dropped_events_total{reason=\"spool_unwritable\"}"]);
        Assert.Equal(1, agent.CountLines(SpoolFailed));
        Assert.Equal(1, agent.CountLines(SpoolRecovered));
        Assert.Contains("No space left on device", agent.Log, StringComparison.Ordinal);

        Assert.Equal(0, await agent.StopAsync(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain("Unhandled exception", agent.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_SigtermWhileDiskFullAndElasticsearchDown_ExitsZeroAndReportsWhatIsLost()
    {
        using var tmpfs = await Tmpfs.MountAsync(1 << 20);
        await using var es = await FakeElasticsearch.StartAsync();
        es.Available = false;
        using var control = new ControlFile("xid_gpu=0\n");
        await using var agent = await StoppableAgent.StartAsync(control.Environment,
            $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu", "--log.elasticsearch.shutdown-timeout=1s",
            $"--log.elasticsearch.url={es.Url}", $"--log.elasticsearch.spool-path={Path.Join(tmpfs.Path, "spool")}");
        tmpfs.Fill();
        for (var code = 100_000; agent.CountLines(SpoolFailed) == 0; code++)
        {
            Assert.True(code < 100_200, "200 events and the spool never reported the full disk");
            await XidAsync(control, agent, code);
        }

        for (var i = 0; i < 5; i++)
        {
            await XidAsync(control, agent, 150_000 + i);
        }

        // The shutdown timeout (1 s) plus the host's own stop: well under the 30 s allowed here.
        Assert.Equal(0, await agent.StopAsync(TimeSpan.FromSeconds(30)));

        Assert.DoesNotContain("Unhandled exception", agent.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("IOException", agent.Log, StringComparison.Ordinal);
        Assert.Equal(1, agent.CountLines("could reach neither the spool"));
    }

    [Fact]
    public async Task Agent_SpoolOnAReadOnlyFileSystem_StartsServesAndShipsFromMemory()
    {
        using var tmpfs = await Tmpfs.MountAsync(1 << 20);
        var spool = Path.Join(tmpfs.Path, "spool");
        Directory.CreateDirectory(spool);
        await tmpfs.MakeReadOnlyAsync();
        await using var es = await FakeElasticsearch.StartAsync();
        using var control = new ControlFile("xid_gpu=0\n");
        await using var agent = await StoppableAgent.StartAsync(control.Environment,
            $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu",
            $"--log.elasticsearch.url={es.Url}", $"--log.elasticsearch.spool-path={spool}");

        var codes = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            codes.Add(await XidAsync(control, agent, 300_000 + i));
        }

        await WaitAsync(() => codes.All(code => XidDocuments(es, code) == 1)
            && es.ParsedDocuments().Any(d => d.GetProperty("message").GetString()!.StartsWith("Listening on", StringComparison.Ordinal)));
        var samples = await agent.ScrapeAsync(_client);
        Assert.Equal(0, samples["monitor_log_shipper_spool_writable"]);
        Assert.Equal(0, samples["monitor_log_shipper_spool_bytes"]);
        Assert.Equal(1, agent.CountLines("Log spool create failed"));
        Assert.Contains("Read-only file system", agent.Log, StringComparison.Ordinal);
        Assert.Equal(0, await agent.StopAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Agent_ElasticsearchRejectsEveryDocument_AtMostAHandfulOfRequestsOver15IdleSeconds()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.RejectEveryDocument = true;
        var spool = Path.Join(_directory, "spool");
        await using var agent = await StoppableAgent.StartAsync(new Dictionary<string, string>(),
            "--collector.disable-defaults", $"--log.elasticsearch.url={es.Url}", $"--log.elasticsearch.spool-path={spool}");
        // The startup events are shipped, rejected and dead-lettered; then the agent is idle.
        await WaitAsync(() =>
        {
            var s = agent.ScrapeAsync(_client).GetAwaiter().GetResult();
            return s["monitor_log_shipper_dead_lettered_events_total"] >= 1 && s["monitor_log_shipper_oldest_unshipped_age_seconds"] == 0;
        });
        var before = es.RequestCount;

        await Task.Delay(TimeSpan.FromSeconds(15));

        // Before issue 22 each rejection logged an event that was shipped and rejected again: ~330 requests here.
        Assert.InRange(es.RequestCount - before, 0, 3);
        var samples = await agent.ScrapeAsync(_client);
        var dead = File.ReadAllLines(Path.Join(spool, "dead-letter.ndjson")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(samples["monitor_log_shipper_dead_lettered_events_total"], dead.Count);
        Assert.DoesNotContain(dead, d => d.GetProperty("document").GetProperty("log.logger").GetString() == "Monitor.Agent.Logging.Elasticsearch");
        // At most one line per request: the requests of the idle window (up to 3 above, when a late startup event
        // makes one) count too, so the bound is every request so far, not those before the window.
        Assert.InRange(agent.CountLines("Elasticsearch rejected"), 1, es.RequestCount);
    }

    [Fact]
    public async Task Agent_ProxyRefusesRequestsHoldingOnePoisonDocument_EverythingElseArrivesAndThePoisonIsDeadLettered()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Poison = source => source.Contains("poison_job", StringComparison.Ordinal);
        var mapping = Path.Join(_directory, "mapping");
        var spool = Path.Join(_directory, "spool");
        Directory.CreateDirectory(mapping);
        File.WriteAllText(Path.Join(mapping, "0"), "poison_job\n");
        await using var agent = await StoppableAgent.StartAsync(new Dictionary<string, string>(),
            "--log.format=json", "--gpu.simulate=2", "--collector.disable-defaults", "--collector.gpu", "--collector.jobs", "--collector.jobs.interval=1s",
            $"--collector.jobs.slurm-mapping-dir={mapping}", $"--log.elasticsearch.url={es.Url}", $"--log.elasticsearch.spool-path={spool}");
        await WaitAsync(() => agent.Log.Contains("poison_job", StringComparison.Ordinal));
        // An event after the poison one, so a request without it can be accepted.
        File.WriteAllText(Path.Join(mapping, "1"), "good_job\n");
        await WaitAsync(() => es.ParsedDocuments().Any(d => d.TryGetProperty("job", out var job) && job.GetProperty("id").GetString() == "good_job"));
        await WaitAsync(() => File.Exists(Path.Join(spool, "dead-letter.ndjson")) && agent.ScrapeAsync(_client).GetAwaiter().GetResult()["monitor_log_shipper_oldest_unshipped_age_seconds"] == 0);

        var dead = File.ReadAllLines(Path.Join(spool, "dead-letter.ndjson")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.NotEmpty(dead);
        Assert.All(dead, d =>
        {
            Assert.Contains("poison_job", d.GetProperty("document").GetRawText(), StringComparison.Ordinal);
            Assert.Equal(400, d.GetProperty("status").GetInt32());
            Assert.Equal("request body refused by the filtering proxy", d.GetProperty("error.reason").GetString());
        });
        Assert.True(es.RefusedRequests >= 1);
        // Every event the agent logged (its console, ECS JSON), apart from the shipper's own, is stored or dead-lettered, once.
        List<string> Logged() => [.. agent.Log.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(d => d.GetProperty("log.logger").GetString() != "Monitor.Agent.Logging.Elasticsearch").Select(Key).Order()];
        List<string> Arrived() => [.. es.ParsedDocuments().Select(Key).Concat(
            File.ReadAllLines(Path.Join(spool, "dead-letter.ndjson")).Select(l => Key(JsonDocument.Parse(l).RootElement.GetProperty("document")))).Order()];
        await WaitAsync(() => Logged().SequenceEqual(Arrived()), failIfNotMet: false);
        Assert.DoesNotContain(es.ParsedDocuments().Select(Key), s => s.Contains("poison_job", StringComparison.Ordinal));
        Assert.Equal(Logged(), Arrived());
    }

    private static string Key(JsonElement document) => document.GetProperty("@timestamp").GetString() + " " + document.GetProperty("message").GetString();

    /// <summary>Makes the fake NVML deliver XID <paramref name="code"/> and waits until the agent logged it.</summary>
    private static async Task<int> XidAsync(ControlFile control, StoppableAgent agent, int code)
    {
        control.Write($"xid={code}\nxid_gpu=0\n");
        await WaitAsync(() => agent.Log.Contains($"XID {code} on GPU", StringComparison.Ordinal));
        return code;
    }

    private static int XidDocuments(FakeElasticsearch es, int code) =>
        es.ParsedDocuments().Count(d => d.TryGetProperty("event.code", out var c) && c.GetString() == code.ToString(CultureInfo.InvariantCulture));

    private static async Task WaitAsync(Func<bool> condition, bool failIfNotMet = true)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                // Without failIfNotMet the caller's assertion says what differs.
                Assert.False(failIfNotMet, $"condition not met within {Deadline}");
                return;
            }

            await Task.Delay(50);
        }
    }
}
