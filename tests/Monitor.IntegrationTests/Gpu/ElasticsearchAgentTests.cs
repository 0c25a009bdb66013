using System.Text.Json;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Gpu;

/// <summary>The real agent shipping to the stand-in Elasticsearch.</summary>
[Trait("Category", "AgentProcess")]
public sealed class ElasticsearchAgentTests(FakeNvmlFixture fake) : IClassFixture<FakeNvmlFixture>, IDisposable
{
    private readonly string _spool = Path.Join(Path.GetTempPath(), "agent-spool-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    [Fact]
    public async Task Agent_KilledBetweenSendAndAck_RestartLosesNothingAndDuplicatesAre409()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Script(new Fault(AbortAfterStore: true));
        string[] args = [$"--log.elasticsearch.url={es.Url}", $"--log.elasticsearch.spool-path={_spool}", "--collector.disable-defaults"];

        var first = await AgentProcess.StartAsync(args);
        await WaitAsync(() => es.Requests.Count >= 1);
        await first.DisposeAsync(); // SIGKILL: the acknowledgement never arrived, the cursor never moved.
        var storedBefore = es.Documents;
        Assert.NotEmpty(storedBefore);

        es.Available = true;
        await using var second = await AgentProcess.StartAsync(args);
        await WaitAsync(() => Messages(es).Count(m => m.StartsWith("Listening on", StringComparison.Ordinal)) >= 2);

        Assert.True(es.Conflicts >= storedBefore.Count, $"{es.Conflicts} conflicts for {storedBefore.Count} re-sent documents");
        foreach (var (id, source) in storedBefore)
        {
            Assert.Equal(source, es.Documents[id]);
        }

        // Every event of the first run is stored once: "Listening on" is logged once per start. (The shipper's own
        // events, such as 1300 "Shipping logs", stay off the shipping path: no feedback loop.)
        Assert.Equal(2, Messages(es).Count(m => m.StartsWith("Listening on", StringComparison.Ordinal)));
        Assert.DoesNotContain(Messages(es), m => m.StartsWith("Shipping logs to Elasticsearch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_ElasticsearchDown_StartsWithoutWaiting()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Available = false;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await using var agent = await AgentProcess.StartAsync($"--log.elasticsearch.url={es.Url}", $"--log.elasticsearch.spool-path={_spool}", "--collector.disable-defaults");
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        using var client = new HttpClient();
        Assert.Contains("monitor_log_shipper_up 0", await agent.ScrapeAsync(client), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_BadElasticsearchSetting_ExitsWith2NamingTheKey()
    {
        var (code, _, stderr) = await AgentProcess.RunToExitAsync("--log.elasticsearch.url=ftp://x", "--web.listen-address=127.0.0.1:0");
        Assert.Equal(2, code);
        Assert.Contains("Log:Elasticsearch:Url", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await AgentProcess.RunToExitAsync("--log.elasticsearch.url=http://127.0.0.1:9", "--log.elasticsearch.spool-max-bytes=lots");
        Assert.Equal(2, code);
        Assert.Contains("Log:Elasticsearch:SpoolMaxBytes", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_XidEvent_ArrivesWithEcsAndGpuFields()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        var environment = new Dictionary<string, string> { ["FAKE_NVML_XID"] = "79", ["FAKE_NVML_XID_GPU"] = "1" };
        await using var agent = await AgentProcess.StartAsync(environment,
            $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu", $"--log.elasticsearch.url={es.Url}", $"--log.elasticsearch.spool-path={_spool}");

        JsonElement xid = default;
        await WaitAsync(() => es.ParsedDocuments().Any(d => d.TryGetProperty("event.code", out var c) && c.GetString() == "79" && (xid = d).ValueKind == JsonValueKind.Object));

        Assert.Equal("error", xid.GetProperty("log.level").GetString());
        Assert.Equal("event", xid.GetProperty("event.kind").GetString());
        Assert.Equal("monitor.agent", xid.GetProperty("event.dataset").GetString());
        Assert.Equal(["driver"], xid.GetProperty("event.category").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["error"], xid.GetProperty("event.type").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("gpu_xid", xid.GetProperty("event.action").GetString());
        var gpu = xid.GetProperty("gpu");
        Assert.Equal(79, gpu.GetProperty("xid").GetInt64());
        Assert.Equal(1, gpu.GetProperty("index").GetInt64());
        Assert.Equal("GPU-00000000-0000-0000-0000-000000000001", gpu.GetProperty("uuid").GetString());
        Assert.Equal("RESTART_BM", gpu.GetProperty("resolution").GetString());
        Assert.Equal(Environment.MachineName, xid.GetProperty("host.name").GetString());
        Assert.Equal("monitor-agent", xid.GetProperty("service.name").GetString());
    }

    [Fact]
    public async Task Agent_JobEnds_EventArrivesWithEcsAndJobFields()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        var mapping = Path.Join(_spool, "mapping");
        Directory.CreateDirectory(mapping);
        File.WriteAllText(Path.Join(mapping, "0"), "4242\n");
        File.WriteAllText(Path.Join(mapping, "1"), "4242\n");
        await using var agent = await AgentProcess.StartAsync(
            "--gpu.simulate=4", "--collector.disable-defaults", "--collector.gpu", "--collector.jobs", "--collector.jobs.interval=1s",
            "--collector.jobs.grace-period=1s", $"--collector.jobs.slurm-mapping-dir={mapping}",
            $"--log.elasticsearch.url={es.Url}", $"--log.elasticsearch.spool-path={Path.Join(_spool, "spool")}");

        await WaitAsync(() => es.ParsedDocuments().Any(d => Code(d) == "4000"));
        // Let the integrator attribute the GPUs for a few 1 s intervals, so the end event has usage to report.
        await Task.Delay(TimeSpan.FromSeconds(3));
        File.Delete(Path.Join(mapping, "0"));
        File.Delete(Path.Join(mapping, "1"));
        JsonElement ended = default;
        await WaitAsync(() => es.ParsedDocuments().Any(d => Code(d) == "4001" && (ended = d).ValueKind == JsonValueKind.Object));

        var started = es.ParsedDocuments().Single(d => Code(d) == "4000");
        Assert.Equal("4242", started.GetProperty("job").GetProperty("id").GetString());
        Assert.Equal(["start"], started.GetProperty("event.type").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["process"], ended.GetProperty("event.category").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["end"], ended.GetProperty("event.type").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("job_ended", ended.GetProperty("event.action").GetString());
        var job = ended.GetProperty("job");
        Assert.Equal("4242", job.GetProperty("id").GetString());
        Assert.Equal(2, job.GetProperty("gpus").GetInt64());
        Assert.True(job.GetProperty("gpu_seconds").GetDouble() > 0);
        Assert.True(job.GetProperty("duration_seconds").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Number, job.GetProperty("energy_joules").ValueKind);
        Assert.Equal(JsonValueKind.Number, job.GetProperty("busy_seconds").ValueKind);
    }

    [Fact]
    public async Task Agent_InfiniBandLinkDown_EventArrivesWithEcsAndInfinibandFields()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        using var tree = new TempTree();
        CopyDirectory(Fixtures.Path("host", "sys", "class", "infiniband"), tree.Path("sys/class/infiniband"));
        await using var agent = await AgentProcess.StartAsync(
            $"--path.sysfs={tree.Path("sys")}", "--collector.disable-defaults", "--collector.infiniband", "--collector.infiniband.interval=1s",
            $"--log.elasticsearch.url={es.Url}", $"--log.elasticsearch.spool-path={_spool}");
        using var client = new HttpClient();
        // The first background sample is the baseline the change is detected against.
        await WaitAsync(() => agent.ScrapeAsync(client).GetAwaiter().GetResult().Contains("node_infiniband_link_downed_total{", StringComparison.Ordinal));

        File.WriteAllText(tree.Path("sys/class/infiniband/mlx5_0/ports/1/counters/link_downed"), "2\n");
        JsonElement down = default;
        await WaitAsync(() =>
        {
            agent.ScrapeAsync(client).GetAwaiter().GetResult();
            return es.ParsedDocuments().Any(d => Code(d) == "2111" && (down = d).ValueKind == JsonValueKind.Object);
        });

        Assert.Equal("warn", down.GetProperty("log.level").GetString());
        Assert.Equal(["host"], down.GetProperty("event.category").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["error", "device"], down.GetProperty("event.type").EnumerateArray().Select(e => e.GetString()));
        var ib = down.GetProperty("infiniband");
        Assert.Equal("mlx5_0", ib.GetProperty("device").GetString());
        Assert.Equal("1", ib.GetProperty("port").GetString());
        Assert.Equal(1, ib.GetProperty("old_value").GetDouble());
        Assert.Equal(2, ib.GetProperty("new_value").GetDouble());
        Assert.Equal(JsonValueKind.String, ib.GetProperty("node_guid").ValueKind);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Join(to, Path.GetFileName(file)));
        }

        foreach (var directory in Directory.GetDirectories(from))
        {
            CopyDirectory(directory, Path.Join(to, Path.GetFileName(directory)));
        }
    }

    private static string? Code(JsonElement document) => document.TryGetProperty("event.code", out var code) ? code.GetString() : null;

    private static List<string> Messages(FakeElasticsearch es) => [.. es.ParsedDocuments().Select(d => d.GetProperty("message").GetString()!)];

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 30 s");
            await Task.Delay(50);
        }
    }
}
