using System.Globalization;
using System.Text.Json;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Dashboards;

/// <summary>
/// Every panel query of the shipped Grafana dashboards (dashboards/*.json) runs against a real Prometheus scraping an
/// agent with simulated GPUs and jobs and the aggregator polling that agent, with the template variables expanded as
/// Grafana expands "All": each must be valid PromQL, and each must return data unless it watches for something the
/// scene does not contain. Each query variable must have values.
/// </summary>
public sealed class DashboardTests
{
    /// <summary>Panels whose query only returns data when something is wrong (an XID, a GPU idle for 30 minutes).</summary>
    private static readonly HashSet<(string Dashboard, int Panel)> MayBeEmpty = [("monitor-gpu-fleet", 14), ("monitor-jobs", 7)];

    [Fact]
    public async Task EveryPanelQuery_IsValidAndReturnsData()
    {
        // Jobs 1234 (GPUs 0 and 1) and 99 (GPU 2) run throughout. Job 77 (alice, account physics) runs on GPU 3, then
        // ends, so that the aggregator rolls it up into its usage counters.
        using var tree = new TempTree().Write("map/0", "1234\n").Write("map/1", "1234\n").Write("map/2", "99\n").Write("map/3", "77\n")
            .Write("jobinfo/77", "user=alice\nuid=1001\naccount=physics\npartition=gpu\ngpus=3\n");
        await using var agent = await AgentProcess.StartAsync(
            "--gpu.simulate=4", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.gpm-interval=1s", "--collector.jobs",
            "--collector.jobs.interval=1s", $"--collector.jobs.slurm-mapping-dir={tree.Path("map")}", $"--collector.jobs.gpustat-dir={tree.Path("none")}",
            $"--collector.jobs.slurm-jobinfo-dir={tree.Path("jobinfo")}");
        await using var aggregator = await AgentProcess.StartExecutableAsync(
            AgentProcess.AggregatorPath, null, $"--storage.path={tree.Path("aggregator/store.db")}", $"--targets={agent.BaseAddress}", "--poll.interval=1s");
        await using var prometheus = await PrometheusServer.StartAsync(
            $$"""
              - job_name: monitor-agent
                static_configs: [{ targets: ['{{agent.BaseAddress.Authority}}'] }]
              - job_name: monitor-aggregator
                static_configs: [{ targets: ['{{aggregator.BaseAddress.Authority}}'] }]

            """);

        // Prometheus sees alice's counters at 0 while job 77 runs (the aggregator makes them when it sees the job), and
        // then at the job's usage once it has ended: increase() counts the job.
        const string Alice = "{account=\"physics\",user=\"alice\"}";
        await prometheus.WaitUntilAsync(
            async () => (await prometheus.QueryAsync($"monitor_usage_jobs_finished_total{Alice} == 0 and on () job_gpu_allocated_seconds_total{{job_id=\"77\"}} >= 2")).Count == 1,
            TimeSpan.FromSeconds(60),
            "Prometheus did not see job 77 running, with alice's usage counters at 0, within 60 s");
        var end = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        File.WriteAllText(tree.Path("jobinfo/.77.tmp"), $"user=alice\nuid=1001\naccount=physics\npartition=gpu\ngpus=3\nend={end}\n");
        File.Move(tree.Path("jobinfo/.77.tmp"), tree.Path("jobinfo/77"), overwrite: true); // as the epilog does: by rename
        tree.Delete("map/3");
        await prometheus.WaitUntilAsync(
            async () => (await prometheus.QueryAsync(
                $"monitor_usage_jobs_finished_total{Alice} == 1 and on () count(gpu_job_info) == 3 and on () count(count_over_time(job_gpu_busy_seconds_total{{job_id!=\"77\"}}[1m]) >= 3) == 3 and on () count(gpu_tensor_active_ratio) == 4")).Count == 1,
            TimeSpan.FromSeconds(60),
            "Prometheus did not get the GPUs, the jobs and job 77's usage within 60 s");

        var checkedPanels = 0;
        var results = new Dictionary<(string Dashboard, string Title), IReadOnlyList<(Dictionary<string, string> Labels, double Value)>>();
        foreach (var path in Directory.EnumerateFiles(Path.Join(Fixtures.RepositoryRoot, "dashboards"), "*.json"))
        {
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(path));
            var uid = document.RootElement.GetProperty("uid").GetString()!;

            // Each query variable's label_values(selector, label) has values; "All" stands for its allValue.
            var all = new List<(string Name, string Value)>();
            foreach (var variable in document.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray().Where(v => v.GetProperty("type").GetString() == "query"))
            {
                var name = variable.GetProperty("name").GetString()!;
                Assert.True(variable.GetProperty("includeAll").GetBoolean(), $"{uid} ${name} has no All");
                var definition = Expand(variable.GetProperty("definition").GetString()!, all);
                Assert.True(definition.StartsWith("label_values(", StringComparison.Ordinal) && definition.EndsWith(')'), $"{uid} ${name}: {definition}");
                var comma = definition.LastIndexOf(',');
                var values = await prometheus.LabelValuesAsync(definition[(comma + 1)..^1].Trim(), definition["label_values(".Length..comma].Trim());
                Assert.True(values.Count > 0, $"{Path.GetFileName(path)} variable ${name} has no values: {definition}");
                all.Add((name, variable.GetProperty("allValue").GetString()!));
            }

            foreach (var panel in document.RootElement.GetProperty("panels").EnumerateArray())
            {
                var id = panel.GetProperty("id").GetInt32();
                Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
                foreach (var target in panel.GetProperty("targets").EnumerateArray())
                {
                    var expression = Expand(target.GetProperty("expr").GetString()!, all)
                        .Replace("$__rate_interval", "1m", StringComparison.Ordinal)
                        .Replace("$__range", "5m", StringComparison.Ordinal);
                    Assert.False(expression.Contains('$', StringComparison.Ordinal), $"{uid} panel {id}: a variable the dashboard does not define: {expression}");

                    // QueryAsync fails the test on a PromQL error.
                    var result = await prometheus.QueryAsync(expression);
                    results[(uid, panel.GetProperty("title").GetString()!)] = result;
                    if (!MayBeEmpty.Contains((uid, id)))
                    {
                        Assert.True(result.Count > 0, $"{Path.GetFileName(path)} panel {id} '{panel.GetProperty("title").GetString()}' returned no data: {expression}");
                    }

                    checkedPanels++;
                }
            }
        }

        Assert.True(checkedPanels >= 40, $"only {checkedPanels} panel queries found");

        // The usage dashboard counts job 77, once (increase() extrapolates a little past the samples).
        Assert.InRange(Assert.Single(results[("monitor-usage", "Jobs finished")]).Value, 1, 1.99);
    }

    /// <summary>Replaces each <c>$variable</c> with its "All" value.</summary>
    private static string Expand(string text, List<(string Name, string Value)> all)
    {
        foreach (var (name, value) in all.OrderByDescending(v => v.Name.Length))
        {
            text = text.Replace("$" + name, value, StringComparison.Ordinal);
        }

        return text;
    }
}
