using System.Text.Json;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Dashboards;

/// <summary>
/// Every panel query of the shipped Grafana dashboards (dashboards/*.json) runs against a real Prometheus scraping an
/// agent with simulated GPUs and jobs, with the template variables expanded as Grafana expands "All": each must be
/// valid PromQL, and each must return data unless it watches for something the scene does not contain.
/// </summary>
public sealed class DashboardTests
{
    /// <summary>Panels whose query only returns data when something is wrong (an XID, a GPU idle for 30 minutes).</summary>
    private static readonly HashSet<(string Dashboard, int Panel)> MayBeEmpty = [("monitor-gpu-fleet", 14), ("monitor-jobs", 7)];

    [Fact]
    public async Task EveryPanelQuery_IsValidAndReturnsData()
    {
        using var tree = new TempTree().Write("map/0", "1234\n").Write("map/1", "1234\n").Write("map/2", "99\n");
        await using var agent = await AgentProcess.StartAsync(
            "--gpu.simulate=4", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.gpm-interval=1s", "--collector.jobs",
            "--collector.jobs.interval=1s", $"--collector.jobs.slurm-mapping-dir={tree.Path("map")}", $"--collector.jobs.gpustat-dir={tree.Path("none")}");
        await using var prometheus = await PrometheusServer.StartAsync(
            $$"""
              - job_name: monitor-agent
                static_configs: [{ targets: ['{{agent.BaseAddress.Authority}}'] }]

            """);
        await prometheus.WaitUntilAsync(
            async () => (await prometheus.QueryAsync("count(gpu_job_info) == 3 and count(count_over_time(job_gpu_busy_seconds_total[1m]) >= 3) == 3 and count(gpu_tensor_active_ratio) == 4")).Count == 1,
            TimeSpan.FromSeconds(60),
            "Prometheus did not get the GPUs and jobs within 60 s");

        var checkedPanels = 0;
        foreach (var path in Directory.EnumerateFiles(Path.Join(Fixtures.RepositoryRoot, "dashboards"), "*.json"))
        {
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(path));
            var uid = document.RootElement.GetProperty("uid").GetString()!;
            foreach (var panel in document.RootElement.GetProperty("panels").EnumerateArray())
            {
                var id = panel.GetProperty("id").GetInt32();
                Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
                foreach (var target in panel.GetProperty("targets").EnumerateArray())
                {
                    var expression = target.GetProperty("expr").GetString()!
                        .Replace("$instance", ".*", StringComparison.Ordinal)
                        .Replace("$gpu", ".*", StringComparison.Ordinal)
                        .Replace("$__rate_interval", "1m", StringComparison.Ordinal)
                        .Replace("$__range", "5m", StringComparison.Ordinal);

                    // QueryAsync fails the test on a PromQL error.
                    var result = await prometheus.QueryAsync(expression);
                    if (!MayBeEmpty.Contains((uid, id)))
                    {
                        Assert.True(result.Count > 0, $"{Path.GetFileName(path)} panel {id} '{panel.GetProperty("title").GetString()}' returned no data: {expression}");
                    }

                    checkedPanels++;
                }
            }
        }

        Assert.True(checkedPanels >= 20, $"only {checkedPanels} panel queries found");
    }
}
