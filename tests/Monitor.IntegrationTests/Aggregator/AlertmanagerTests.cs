using System.Text.Json;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Aggregator;

/// <summary>
/// The real aggregator pushing job alerts to a real Alertmanager (Debian's) configured with alerts/alertmanager.example.yml
/// as shipped (only its receivers' URLs and its timings changed): a stand-in fleet of five nodes makes each job rule
/// fire; each alert arrives with its labels and reaches its team's receiver (a webhook receiver here records the
/// deliveries); a killed and restarted aggregator neither loses, repeats nor resolves any; and each resolves when its
/// condition clears or its job ends.
/// </summary>
public sealed class AlertmanagerTests
{
    private const double GiB = 1L << 30;
    private static readonly DateTimeOffset Started = DateTimeOffset.UtcNow.AddMinutes(-20);
    private long _revision;

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task JobRules_FireRouteSurviveARestartAndResolve()
    {
        await using var webhooks = await WebhookReceiver.StartAsync();
        var config = Replace(
            File.ReadAllText(Path.Join(Fixtures.RepositoryRoot, "alerts", "alertmanager.example.yml")),
            ("http://tenant-webhook.example:8080", webhooks.Address + "/tenant"),
            ("http://oncall-webhook.example:8080", webhooks.Address + "/oncall"),
            ("http://oncall-page.example:8080", webhooks.Address + "/page"),
            ("group_wait: 30s", "group_wait: 1s"),
            ("group_interval: 5m", "group_interval: 1s"));
        await using var alertmanager = await AlertmanagerServer.StartAsync(
            config, new Dictionary<string, string> { ["monitor-email.tmpl"] = File.ReadAllText(Path.Join(Fixtures.RepositoryRoot, "alerts", "monitor-email.tmpl")) });

        // n1: job 100 (physics) with XIDs on its GPU, the last a 79 (fallen off the bus). n2, which Slurm has drained: job 200 still on it, its GPU 1
        // idle for the whole job. n3: job 300's two GPUs 10 % busy. n4: job 400 holding 79 of 80 GiB. n5: job 500,
        // whose agent stops answering.
        await using var feed = await StandInJobsFeed.StartAsync(new Dictionary<string, IReadOnlyList<NodeJobRecord>>
        {
            ["n1"] = [Job("100", "alice", "physics", Gpu(0, 1200, 1200) with { XidErrors = 2, LastXid = 79 })],
            ["n2"] = [Job("200", "bob", "chem", Gpu(0, 1200, 1200), Gpu(1, 1200, 0))],
            ["n3"] = [Job("300", "bob", "chem", Gpu(0, 1200, 120), Gpu(1, 1200, 120))],
            ["n4"] = [Job("400", "carol", "chem", Gpu(0, 1200, 1200) with { MemoryUsedBytes = 79 * GiB })],
            ["n5"] = [Job("500", "dave", "chem", Gpu(0, 1200, 1200))],
        });
        using var tree = new TempTree()
            .Write("scontrol", "#!/bin/sh\necho 'NodeName=n2 NodeHostName=n2 State=IDLE+DRAIN Reason=maintenance'\necho 'NodeName=n1 NodeHostName=n1 State=MIXED'\n")
            .Write("rules.yml", "job_gpu_idle: { for: 3s }\njob_gpus_underused: { for: 3s }\njob_gpu_memory_full: { for: 2s }\njob_node_data_missing: { after: 3s }\n");
        File.SetUnixFileMode(tree.Path("scontrol"), UnixFileMode.UserRead | UnixFileMode.UserExecute);
        string[] flags =
        [
            $"--storage.path={tree.Path("aggregator.db")}", $"--targets={string.Join(',', feed.Targets)}", "--poll.interval=1s", "--cluster=hpc1",
            $"--alertmanager.url={alertmanager.Address}", $"--alerts.rules-file={tree.Path("rules.yml")}", "--alerts.resend-interval=2s",
            "--slurm.node-states", $"--slurm.scontrol={tree.Path("scontrol")}",
        ];

        // Job 300's counters move as a running job's do: 2 GPU-seconds a second, 10 % of them busy.
        using var stop = new CancellationTokenSource();
        var moving = Task.Run(async () =>
        {
            for (var s = 1; !stop.IsCancellationRequested; s++)
            {
                feed.Update("n3", [Job("300", "bob", "chem", Gpu(0, 1200 + (0.5 * s), 120 + (0.05 * s)), Gpu(1, 1200 + (0.5 * s), 120 + (0.05 * s)))]);
                await Task.Delay(500);
            }
        });

        var aggregator = await AgentProcess.StartExecutableAsync(AgentProcess.AggregatorPath, null, flags);
        try
        {
            await Until(alertmanager, aggregator, a => a.Count(x => Name(x) != "JobNodeDataMissing") == 7, "seven alerts");
            feed.Failing.Add("n5");
            var firing = await Until(alertmanager, aggregator, a => a.Count == 8, "eight alerts, with n5's missing data");

            // Each alert: its labels, its state (the idle GPU on the drained node is inhibited) and its receiver.
            Check(Single(firing, "JobGpuErrors"), "100", "alice", "physics", "warning", "tenant", "tenant-physics", node: "n1", gpu: "0");
            Check(Single(firing, "JobGpuErrorsNodeAction"), "100", "alice", "physics", "critical", "oncall", "oncall-page", node: "n1", gpu: "0");
            Assert.Contains("NVIDIA's resolution is RESTART_BM", Single(firing, "JobGpuErrors").GetProperty("annotations").GetProperty("description").GetString(), StringComparison.Ordinal);
            Check(Single(firing, "JobGpuIdle"), "200", "bob", "chem", "warning", "tenant", "tenant", node: "n2", gpu: "1", state: "suppressed");
            Check(Single(firing, "JobOnUnavailableNode"), "200", "bob", "chem", "critical", "oncall", "oncall-page", node: "n2");
            Check(Single(firing, "JobGpusUnderused"), "300", "bob", "chem", "info", "tenant", "tenant");
            Check(Single(firing, "JobGpuMemoryFull"), "400", "carol", "chem", "warning", "tenant", "tenant", node: "n4", gpu: "0");
            Check(Single(firing, "JobNodeDataMissing"), "500", "dave", "chem", "warning", "oncall", "oncall", node: "n5");
            var maintenance = Single(firing, "SlurmNodeMaintenance");
            Assert.Equal(("n2", "drained", "oncall"), (Label(maintenance, "node"), Label(maintenance, "state"), Label(maintenance, "team")));
            Assert.Contains("79.0 of 80.0 GiB", Single(firing, "JobGpuMemoryFull").GetProperty("annotations").GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.EndsWith("/docs/runbooks.md#jobgpuerrors", Single(firing, "JobGpuErrors").GetProperty("annotations").GetProperty("runbook_url").GetString(), StringComparison.Ordinal);

            // The webhooks: each team's receiver was notified of its alerts, and the inhibited one of nothing.
            await Eventually(() => Notified(webhooks, "/tenant/physics", "firing").Contains("JobGpuErrors")
                && Notified(webhooks, "/page/alerts", "firing").IsSupersetOf(["JobOnUnavailableNode", "JobGpuErrorsNodeAction"])
                && Notified(webhooks, "/oncall/alerts", "firing").Contains("JobNodeDataMissing")
                && Notified(webhooks, "/tenant/alerts", "firing").IsSupersetOf(["JobGpusUnderused", "JobGpuMemoryFull"]), "the webhook deliveries", webhooks);
            Assert.DoesNotContain("JobGpuIdle", Notified(webhooks, "/tenant/alerts", "firing"));

            // Killed and started again: the same eight alerts, same startsAt, nothing resolved meanwhile.
            var before = firing.ToDictionary(a => a.GetProperty("fingerprint").GetString()!, a => a.GetProperty("startsAt").GetDateTimeOffset());
            var deliveries = webhooks.Received.Count;
            await aggregator.DisposeAsync();
            aggregator = await AgentProcess.StartExecutableAsync(AgentProcess.AggregatorPath, null, flags);
            await aggregator.WaitForLogAsync("Listening on", TimeSpan.FromSeconds(30));
            // Wait for what the restarted aggregator did, not for a time: three pushes of all eight alerts to the one
            // Alertmanager (resend interval 2 s), by which the 3 s windows are covered again and any wrong
            // resolution would have been sent.
            using (var metrics = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
            {
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (SentTotal(await aggregator.ScrapeAsync(metrics)) < 3 * 8)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"the restarted aggregator did not push the alerts three times within 60 s:\n{aggregator.Log}");
                    await Task.Delay(250);
                }
            }

            var after = await alertmanager.AlertsAsync();
            Assert.Equal(before, after.ToDictionary(a => a.GetProperty("fingerprint").GetString()!, a => a.GetProperty("startsAt").GetDateTimeOffset()));
            Assert.DoesNotContain(webhooks.Received.Skip(deliveries), d => d.Body.GetProperty("status").GetString() == "resolved");

            // Job 100 ends, n5's agent is back: their alerts resolve, in Alertmanager and at the receivers.
            feed.Update("n1", [Job("100", "alice", "physics", Gpu(0, 1300, 1300) with { XidErrors = 2, LastXid = 79, Held = false }) with { State = "ended", End = DateTimeOffset.UtcNow }]);
            feed.Failing.Remove("n5");
            await Until(alertmanager, aggregator, a => a.Count == 5 && !a.Any(x => Name(x) is "JobGpuErrors" or "JobGpuErrorsNodeAction" or "JobNodeDataMissing"), "job 100's and n5's alerts resolved");
            await Eventually(() => Notified(webhooks, "/tenant/physics", "resolved").Contains("JobGpuErrors") && Notified(webhooks, "/oncall/alerts", "resolved").Contains("JobNodeDataMissing"), "the resolved notifications", webhooks);
        }
        finally
        {
            await stop.CancelAsync();
            await moving;
            await aggregator.DisposeAsync();
        }
    }

    private static void Check(JsonElement alert, string job, string user, string account, string severity, string team, string receiver, string? node = null, string? gpu = null, string state = "active")
    {
        Assert.Equal((job, user, account, "h100", "hpc1", severity, team), (Label(alert, "job_id"), Label(alert, "user"), Label(alert, "account"), Label(alert, "partition"), Label(alert, "cluster"), Label(alert, "severity"), Label(alert, "team")));
        Assert.Equal((node, gpu), (Optional(alert, "node"), Optional(alert, "gpu")));
        Assert.Equal(state, alert.GetProperty("status").GetProperty("state").GetString());
        Assert.Equal([receiver], alert.GetProperty("receivers").EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        Assert.False(string.IsNullOrEmpty(alert.GetProperty("annotations").GetProperty("summary").GetString()));
    }

    /// <summary>The aggregator's monitor_aggregator_job_alerts_sent_total, over every Alertmanager.</summary>
    private static double SentTotal(string metrics) =>
        PromSamples.Only(PromSamples.Parse(metrics), "monitor_aggregator_job_alerts_sent_total").Values.Sum();

    private static string Name(JsonElement alert) => Label(alert, "alertname");

    private static string Label(JsonElement alert, string name) => alert.GetProperty("labels").GetProperty(name).GetString()!;

    private static string? Optional(JsonElement alert, string name) => alert.GetProperty("labels").TryGetProperty(name, out var value) ? value.GetString() : null;

    private static JsonElement Single(IReadOnlyList<JsonElement> alerts, string name) => Assert.Single(alerts, a => Name(a) == name);

    /// <summary>The alert names the receiver at <paramref name="path"/> was notified of with <paramref name="status"/>.</summary>
    private static HashSet<string> Notified(WebhookReceiver webhooks, string path, string status) =>
        [.. webhooks.Received.Where(d => d.Path == path).SelectMany(d => d.Body.GetProperty("alerts").EnumerateArray())
            .Where(a => a.GetProperty("status").GetString() == status).Select(a => a.GetProperty("labels").GetProperty("alertname").GetString()!)];

    private static async Task<IReadOnlyList<JsonElement>> Until(AlertmanagerServer alertmanager, AgentProcess aggregator, Func<IReadOnlyList<JsonElement>, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var alerts = await alertmanager.AlertsAsync();
            if (condition(alerts))
            {
                return alerts;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Alertmanager did not get {what} within 60 s; it has {string.Join(", ", alerts.Select(Name))}.\nAggregator:\n{aggregator.Log}\nAlertmanager:\n{alertmanager.Log}");
            }

            await Task.Delay(250);
        }
    }

    private static async Task Eventually(Func<bool> condition, string what, WebhookReceiver webhooks)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not within 60 s: {what}; deliveries: {string.Join("; ", webhooks.Received.Select(d => d.Path + " " + d.Body.GetProperty("status").GetString()))}");
            await Task.Delay(250);
        }
    }

    private static string Replace(string text, params (string From, string To)[] replacements)
    {
        foreach (var (from, to) in replacements)
        {
            Assert.Contains(from, text, StringComparison.Ordinal);
            text = text.Replace(from, to, StringComparison.Ordinal);
        }

        return text;
    }

    private NodeJobRecord Job(string id, string user, string account, params NodeJobGpu[] gpus) => new()
    {
        JobId = id, Revision = Interlocked.Increment(ref _revision), Scheduler = "slurm", State = "running", User = user, Account = account, Partition = "h100",
        Start = Started, StartSource = "scheduler", Gpus = gpus,
    };

    private static NodeJobGpu Gpu(int index, double allocated, double busy) => new()
    {
        Index = index, Uuid = $"GPU-{index}", Held = true, AllocatedSeconds = allocated, BusySeconds = busy, MemoryTotalBytes = 80 * GiB,
    };
}
