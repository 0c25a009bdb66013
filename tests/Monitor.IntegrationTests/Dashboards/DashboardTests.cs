using System.Globalization;
using System.Text.Json;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Dashboards;

/// <summary>
/// Every panel query of the shipped Grafana dashboards (dashboards/*.json) runs against a real Prometheus scraping an
/// agent with simulated GPUs and jobs, host collectors on the fixture tree and a moving copy of its InfiniBand tree
/// (<see cref="FabricScene"/>), and the aggregator polling that agent, with the template variables expanded as Grafana
/// expands "All" (or a single-value variable's first value): each must be valid PromQL, and each must return data
/// unless it watches for something the scene does not contain. Each query variable must have values. Prometheus loads
/// alerts/dashboards.rules.yml, whose recorded series the cluster overview reads. Data links to the aggregator's job
/// pages are followed on the real aggregator.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class DashboardTests
{
    /// <summary>
    /// Panels whose query only returns data when something is wrong that the scene does not create: an XID (the
    /// simulated GPUs raise none unless a test in the agent's process asks), and a GPU idle for 30 minutes. The scene
    /// does create fabric trouble (errors, a link flap, a rate drop), so no fabric panel is here.
    /// </summary>
    private static readonly HashSet<(string Dashboard, int Panel)> MayBeEmpty = [("monitor-gpu-fleet", 14), ("monitor-jobs", 7)];

    /// <summary>The aggregator URL the dashboards' <c>aggregator</c> variable defaults to (docs/aggregator.md: port 9430).</summary>
    private const string AggregatorDefault = "http://monitor-aggregator:9430";

    [Fact]
    public async Task EveryPanelQuery_IsValidAndReturnsData()
    {
        // Jobs 1234 (GPUs 0 and 1) and 99 (GPU 2) run throughout. Job 77 (alice, account physics) runs on GPU 3, then
        // ends, so that the aggregator rolls it up into its usage counters.
        using var tree = new TempTree().Write("map/0", "1234\n").Write("map/1", "1234\n").Write("map/2", "99\n").Write("map/3", "77\n")
            .Write("jobinfo/77", "user=alice\nuid=1001\naccount=physics\npartition=gpu\ngpus=3\n");
        await using var fabric = new FabricScene(tree.Path("sys"));
        await using var agent = await AgentProcess.StartAsync(
            "--gpu.simulate=4", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.gpm-interval=1s", "--collector.jobs",
            "--collector.jobs.interval=1s", $"--collector.jobs.slurm-mapping-dir={tree.Path("map")}", $"--collector.jobs.gpustat-dir={tree.Path("none")}",
            $"--collector.jobs.slurm-jobinfo-dir={tree.Path("jobinfo")}",
            // The node dashboard's host panels read the fixture's /proc and mounts; the fabric panels the scene's sysfs.
            "--collector.cpu", "--collector.meminfo", "--collector.loadavg", "--collector.filesystem", "--collector.diskstats", "--collector.netdev",
            "--collector.pressure", "--collector.infiniband", "--collector.infiniband.interval=1s",
            $"--path.procfs={Fixtures.Path("host", "proc")}", $"--path.rootfs={Fixtures.Path("host")}", $"--path.sysfs={tree.Path("sys")}");
        await using var aggregator = await AgentProcess.StartExecutableAsync(
            AgentProcess.AggregatorPath, null, $"--storage.path={tree.Path("aggregator/store.db")}", $"--targets={agent.BaseAddress}", "--poll.interval=1s");
        await using var prometheus = await PrometheusServer.StartAsync(
            $$"""
              - job_name: monitor-agent
                static_configs: [{ targets: ['{{agent.BaseAddress.Authority}}'] }]
              - job_name: monitor-aggregator
                static_configs: [{ targets: ['{{aggregator.BaseAddress.Authority}}'] }]

            """,
            [Path.Join(Fixtures.RepositoryRoot, "alerts", "dashboards.rules.yml")]);

        // Prometheus sees alice's counters at 0 while job 77 runs (the aggregator makes them when it sees the job), and
        // then at the job's usage once it has ended: increase() counts the job. It sees the fabric healthy first, so
        // that the trouble the scene then makes shows as changes.
        const string Alice = "{account=\"physics\",user=\"alice\"}";
        const string Port = "{device=\"mlx5_0\",port=\"1\"}";
        await prometheus.WaitUntilAsync(
            async () => (await prometheus.QueryAsync(
                $"monitor_usage_jobs_finished_total{Alice} == 0 and on () job_gpu_allocated_seconds_total{{job_id=\"77\"}} >= 2 and on () node_infiniband_state_id{Port} == 4")).Count == 1,
            TimeSpan.FromSeconds(60),
            "Prometheus did not see job 77 running, with alice's usage counters at 0, and the fabric within 60 s");
        fabric.BeginTrouble();
        var end = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        File.WriteAllText(tree.Path("jobinfo/.77.tmp"), $"user=alice\nuid=1001\naccount=physics\npartition=gpu\ngpus=3\nend={end}\n");
        File.Move(tree.Path("jobinfo/.77.tmp"), tree.Path("jobinfo/77"), overwrite: true); // as the epilog does: by rename
        tree.Delete("map/3");
        await prometheus.WaitUntilAsync(
            async () => (await prometheus.QueryAsync(
                $"monitor_usage_jobs_finished_total{Alice} == 1 and on () count(gpu_job_info) == 3 and on () count(count_over_time(job_gpu_busy_seconds_total{{job_id!=\"77\"}}[1m]) >= 3) == 3 and on () count(gpu_tensor_active_ratio) == 4")).Count == 1,
            TimeSpan.FromSeconds(60),
            "Prometheus did not get the GPUs, the jobs and job 77's usage within 60 s");
        await prometheus.WaitUntilAsync(
            async () => (await prometheus.QueryAsync(
                $"changes(node_infiniband_state_id{Port}[5m]) >= 2 and node_infiniband_state_id{Port} == 4"
                + " and on () changes(node_infiniband_rate_bytes_per_second{device=\"mlx5_1\",port=\"1\"}[5m]) >= 1"
                + " and on () cluster:gpu_power_watts:sum_unallocated > 0 and on () count(node_filesystem_avail_bytes) > 0"
                // The cluster overview integrates the recorded power in 15 s steps on the clock's grid: one must have passed.
                + " and on () count(sum_over_time(partition:job_gpu_energy_joules:rate5m[5m:15s])) >= 2")).Count == 1,
            TimeSpan.FromSeconds(60),
            "Prometheus did not see the link flap and rate drop, the recorded series and the filesystems within 60 s");

        // Every query is evaluated at one instant, after what the waits saw, so that panels computed from one another
        // can be compared; the pause lets the scrapes that started before it (1 s timeout) land first.
        var at = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var checkedPanels = 0;
        var results = new Dictionary<(string Dashboard, string Title, string RefId), IReadOnlyList<(Dictionary<string, string> Labels, double Value)>>();
        var dashboards = new Dictionary<string, JsonElement>();
        foreach (var path in Directory.EnumerateFiles(Path.Join(Fixtures.RepositoryRoot, "dashboards"), "*.json"))
        {
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(path));
            var uid = document.RootElement.GetProperty("uid").GetString()!;
            dashboards[uid] = document.RootElement.Clone();

            // Each query variable's label_values(selector, label) has values; "All" stands for its allValue, and a
            // variable without "All" (one node) for its first value.
            var values = new List<(string Name, string Value)>();
            foreach (var variable in document.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray().Where(v => v.GetProperty("type").GetString() == "query"))
            {
                var name = variable.GetProperty("name").GetString()!;
                var definition = Expand(variable.GetProperty("definition").GetString()!, values);
                Assert.True(definition.StartsWith("label_values(", StringComparison.Ordinal) && definition.EndsWith(')'), $"{uid} ${name}: {definition}");
                var comma = definition.LastIndexOf(',');
                var found = await prometheus.LabelValuesAsync(definition[(comma + 1)..^1].Trim(), definition["label_values(".Length..comma].Trim());
                Assert.True(found.Count > 0, $"{Path.GetFileName(path)} variable ${name} has no values: {definition}");
                if (variable.GetProperty("includeAll").GetBoolean())
                {
                    values.Add((name, variable.GetProperty("allValue").GetString()!));
                }
                else
                {
                    Assert.False(variable.GetProperty("multi").GetBoolean(), $"{uid} ${name} is multi-value without All");
                    values.Add((name, found.Order(StringComparer.Ordinal).First()));
                }
            }

            foreach (var panel in Panels(document.RootElement))
            {
                var id = panel.GetProperty("id").GetInt32();
                var title = panel.GetProperty("title").GetString()!;
                Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
                foreach (var target in panel.GetProperty("targets").EnumerateArray())
                {
                    var expression = Expand(target.GetProperty("expr").GetString()!, values)
                        .Replace("$__rate_interval", "1m", StringComparison.Ordinal)
                        .Replace("$__range", "5m", StringComparison.Ordinal);
                    Assert.False(expression.Contains('$', StringComparison.Ordinal), $"{uid} panel {id}: a variable the dashboard does not define: {expression}");

                    // QueryAsync fails the test on a PromQL error.
                    var result = await prometheus.QueryAsync(expression, at);
                    results[(uid, title, target.GetProperty("refId").GetString()!)] = result;
                    if (!MayBeEmpty.Contains((uid, id)))
                    {
                        Assert.True(result.Count > 0, $"{Path.GetFileName(path)} panel {id} '{title}' returned no data: {expression}");
                    }

                    checkedPanels++;
                }
            }
        }

        Assert.True(checkedPanels >= 200, $"only {checkedPanels} panel queries found");
        Assert.Subset(dashboards.Keys.ToHashSet(), new HashSet<string> { "monitor-gpu-fleet", "monitor-jobs", "monitor-usage", "monitor-cluster", "monitor-infiniband", "monitor-node" });

        // The usage dashboard counts job 77, once (increase() extrapolates a little past the samples).
        Assert.InRange(Assert.Single(results[("monitor-usage", "Jobs finished", "A")]).Value, 1, 1.99);

        // The fabric panels compute what the scene does: mlx5_0/1 receives twice what it sends, and its utilization is
        // its throughput over its 400 Gb/s (5e10 bytes/s) link rate; the down port 2 has none. (Throughput itself is
        // not checked against the scene's: rate() over 1 m of a scene younger than that reads low.) The port went down
        // and up once (two state changes, one link_downed), and mlx5_1/1's rate dropped once.
        static double OnPort(IReadOnlyList<(Dictionary<string, string> Labels, double Value)> result, string device, string port = "1") =>
            Assert.Single(result, r => r.Labels.GetValueOrDefault("device") == device && r.Labels.GetValueOrDefault("port") == port).Value;
        var receive = OnPort(results[("monitor-infiniband", "Receive throughput by port", "A")], "mlx5_0");
        var transmit = OnPort(results[("monitor-infiniband", "Transmit throughput by port", "A")], "mlx5_0");
        Assert.True(receive > 0, "mlx5_0/1 receives");
        Assert.InRange(receive / transmit, 1.9, 2.1);
        const string Utilization = "Link utilization (throughput ÷ link rate), active ports";
        Assert.Equal(receive / 5e10, OnPort(results[("monitor-infiniband", Utilization, "A")], "mlx5_0"), 1e-12);
        Assert.Equal(transmit / 5e10, OnPort(results[("monitor-infiniband", Utilization, "B")], "mlx5_0"), 1e-12);
        Assert.DoesNotContain(results[("monitor-infiniband", Utilization, "A")], r => r.Labels["device"] == "mlx5_0" && r.Labels["port"] == "2");
        const string Ports = "Ports: state and rate now, changes in the range";
        Assert.Equal(2, OnPort(results[("monitor-infiniband", Ports, "D")], "mlx5_0"));
        Assert.Equal(1, OnPort(results[("monitor-infiniband", Ports, "E")], "mlx5_1"));
        Assert.True(OnPort(results[("monitor-infiniband", Ports, "F")], "mlx5_0") >= 1, "link_downed's increase");
        Assert.True(OnPort(results[("monitor-infiniband", "Error counters by port in the range", "A")], "mlx5_0") >= 2, "symbol errors' increase");
        // 2 symbol errors, 1 recovery, 1 link downed, 1 receive error, 2 transmit discards.
        Assert.InRange(Assert.Single(results[("monitor-cluster", "Fabric errors in the range", "A")]).Value, 7, 9);
        Assert.InRange(Assert.Single(results[("monitor-infiniband", "Errors in the range", "A")]).Value, 7, 9);
        Assert.Contains(results[("monitor-infiniband", "Saturated counters", "A")], r => r.Labels["device"] == "mlx4_0");

        // Links: a job id opens the aggregator's job page, /jobs/<id> (docs/aggregator.md), under the dashboard's
        // aggregator variable; followed with the variable set to the test's aggregator and an id from the panel's
        // own data, it answers with that job's report. A link to another dashboard names one that exists, and a
        // variable that dashboard has.
        using var http = new HttpClient();
        var jobLinks = new Dictionary<string, int>();
        foreach (var (uid, dashboard) in dashboards)
        {
            foreach (var panel in Panels(dashboard))
            {
                var title = panel.GetProperty("title").GetString()!;
                foreach (var (field, url) in Links(panel))
                {
                    if (url.Contains("/jobs/", StringComparison.Ordinal))
                    {
                        var aggregatorVariable = Assert.Single(dashboard.GetProperty("templating").GetProperty("list").EnumerateArray(), v => v.GetProperty("name").GetString() == "aggregator");
                        Assert.Equal("textbox", aggregatorVariable.GetProperty("type").GetString());
                        Assert.Equal(AggregatorDefault, aggregatorVariable.GetProperty("query").GetString());
                        Assert.StartsWith("${aggregator}/jobs/", url, StringComparison.Ordinal);
                        var id = url["${aggregator}/jobs/".Length..];
                        Assert.True(
                            (field == "job_id" && id == "${__value.raw}") || (field is null && id == "${__field.labels.job_id}"),
                            $"{uid} '{title}': the job link {url} does not take the job id (field {field ?? "any"})");
                        var jobId = results.Where(r => r.Key.Dashboard == uid && r.Key.Title == title)
                            .SelectMany(r => r.Value).Select(r => r.Labels.GetValueOrDefault("job_id")).First(j => j is "1234" or "99")!;
                        var page = new Uri(aggregator.BaseAddress, "jobs/" + jobId);
                        using var response = await http.GetAsync(page);
                        var html = await response.Content.ReadAsStringAsync();
                        Assert.True(response.IsSuccessStatusCode, $"{uid} '{title}': {page} answered {(int)response.StatusCode}");
                        Assert.Contains(jobId, html, StringComparison.Ordinal);
                        jobLinks[uid] = jobLinks.GetValueOrDefault(uid) + 1;
                    }
                    else if (url.StartsWith("/d/", StringComparison.Ordinal))
                    {
                        var target = url[3..url.IndexOf('?', StringComparison.Ordinal)];
                        Assert.True(dashboards.ContainsKey(target), $"{uid} '{title}' links to a dashboard that does not exist: {url}");
                        var variable = url[(url.IndexOf("var-", StringComparison.Ordinal) + 4)..url.IndexOf('=', StringComparison.Ordinal)];
                        Assert.Contains(dashboards[target].GetProperty("templating").GetProperty("list").EnumerateArray(), v => v.GetProperty("name").GetString() == variable);
                    }
                    else
                    {
                        Assert.Fail($"{uid} '{title}': a link the test does not know: {url}");
                    }
                }
            }
        }

        Assert.True(jobLinks.GetValueOrDefault("monitor-node") >= 2, "the node dashboard links its jobs table and its per-job series to the job pages");
        Assert.True(jobLinks.GetValueOrDefault("monitor-cluster") >= 2, "the cluster overview links its top jobs to the job pages");
    }

    /// <summary>A dashboard's panels, those inside collapsed rows included, without the rows themselves.</summary>
    private static IEnumerable<JsonElement> Panels(JsonElement dashboard)
    {
        foreach (var panel in dashboard.GetProperty("panels").EnumerateArray())
        {
            if (panel.GetProperty("type").GetString() != "row")
            {
                yield return panel;
            }
            else if (panel.TryGetProperty("panels", out var inside))
            {
                foreach (var nested in inside.EnumerateArray())
                {
                    yield return nested;
                }
            }
        }
    }

    /// <summary>A panel's data links: its defaults' (field null) and each field override's (field named by its byName matcher).</summary>
    private static IEnumerable<(string? Field, string Url)> Links(JsonElement panel)
    {
        if (!panel.TryGetProperty("fieldConfig", out var config))
        {
            yield break;
        }

        if (config.GetProperty("defaults").TryGetProperty("links", out var links))
        {
            foreach (var link in links.EnumerateArray())
            {
                yield return (null, link.GetProperty("url").GetString()!);
            }
        }

        foreach (var over in config.GetProperty("overrides").EnumerateArray())
        {
            foreach (var property in over.GetProperty("properties").EnumerateArray().Where(p => p.GetProperty("id").GetString() == "links"))
            {
                Assert.Equal("byName", over.GetProperty("matcher").GetProperty("id").GetString());
                foreach (var link in property.GetProperty("value").EnumerateArray())
                {
                    yield return (over.GetProperty("matcher").GetProperty("options").GetString(), link.GetProperty("url").GetString()!);
                }
            }
        }
    }

    /// <summary>Replaces each <c>$variable</c> with its value ("All" or the first).</summary>
    private static string Expand(string text, List<(string Name, string Value)> values)
    {
        foreach (var (name, value) in values.OrderByDescending(v => v.Name.Length))
        {
            text = text.Replace("$" + name, value, StringComparison.Ordinal);
        }

        return text;
    }
}
