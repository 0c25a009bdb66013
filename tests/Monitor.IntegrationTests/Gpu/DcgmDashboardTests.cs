using Monitor.Testing;

namespace Monitor.IntegrationTests.Gpu;

/// <summary>
/// A real Prometheus scrapes the agent with <c>--gpu.simulate 4 --compat.dcgm</c>, and every panel expression of
/// NVIDIA's dcgm-exporter dashboard 12239 (reference gpu-exporters.md §6) is run with its template variables expanded
/// the way Grafana expands "All": a regex of every value of <c>label_values(DCGM_FI_DEV_GPU_TEMP, …)</c>. The Tensor
/// Core panel's <c>DCGM_FI_PROF_PIPE_TENSOR_ACTIVE</c> comes from GPM (the simulated GPUs are H100s).
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class DcgmDashboardTests
{
    /// <summary>Panel id, expression and how many series it must return for 4 GPUs.</summary>
    public static TheoryData<int, string, int> Panels => new()
    {
        { 12, "DCGM_FI_DEV_GPU_TEMP{instance=~\"$instance\", gpu=~\"$gpu\"}", 4 },
        { 14, "avg(DCGM_FI_DEV_GPU_TEMP{instance=~\"$instance\", gpu=~\"$gpu\"})", 1 },
        { 10, "DCGM_FI_DEV_POWER_USAGE{instance=~\"$instance\", gpu=~\"$gpu\"}", 4 },
        { 16, "sum(DCGM_FI_DEV_POWER_USAGE{instance=~\"$instance\", gpu=~\"$gpu\"})", 1 },
        { 2, "DCGM_FI_DEV_SM_CLOCK{instance=~\"$instance\", gpu=~\"$gpu\"} * 1000000", 4 },
        { 6, "DCGM_FI_DEV_GPU_UTIL{instance=~\"$instance\", gpu=~\"$gpu\"}", 4 },
        { 18, "DCGM_FI_DEV_FB_USED{instance=~\"$instance\", gpu=~\"$gpu\"}", 4 },
        { 4, "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{instance=~\"$instance\", gpu=~\"$gpu\"}", 4 },
    };

    [Fact]
    public async Task Dashboard12239_EveryPanelReturnsDataInDcgmUnits()
    {
        // A 1 s GPM interval so the tensor panel has data after two samples instead of twenty seconds.
        await using var agent = await AgentProcess.StartAsync("--gpu.simulate=4", "--compat.dcgm", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.gpm-interval=1s");
        await using var prometheus = await PrometheusServer.StartAsync(
            $$"""
              - job_name: gpu
                static_configs: [{ targets: ['{{agent.BaseAddress.Authority}}'] }]

            """);
        await prometheus.WaitUntilAsync(
            async () => (await prometheus.QueryAsync("count(DCGM_FI_DEV_GPU_TEMP) == 4 and count(DCGM_FI_DEV_FB_USED) == 4 and count(DCGM_FI_PROF_PIPE_TENSOR_ACTIVE) == 4")).Count == 1,
            TimeSpan.FromSeconds(60),
            "Prometheus did not get 4 GPUs of dcgm-exporter series within 60 s");

        // The two dashboard variables, both driven by DCGM_FI_DEV_GPU_TEMP, with "All" selected.
        var temperatures = await prometheus.QueryAsync("DCGM_FI_DEV_GPU_TEMP");
        var instance = "(" + string.Join('|', temperatures.Select(t => t.Labels["instance"]).Distinct()) + ")";
        var gpu = "(" + string.Join('|', temperatures.Select(t => t.Labels["gpu"]).Distinct().Order(StringComparer.Ordinal)) + ")";
        Assert.Equal("(0|1|2|3)", gpu);

        foreach (var (id, expression, expected) in Panels.Select(p => ((int)p[0], (string)p[1], (int)p[2])))
        {
            var result = await prometheus.QueryAsync(expression.Replace("$instance", instance, StringComparison.Ordinal).Replace("$gpu", gpu, StringComparison.Ordinal));
            Assert.True(result.Count == expected, $"panel {id} `{expression}` returned {result.Count} series, expected {expected}");
            if (expected == 4)
            {
                // Each legend is "GPU {{gpu}}".
                Assert.Equal(["0", "1", "2", "3"], result.Select(r => r.Labels["gpu"]).Order(StringComparer.Ordinal));
            }

            var (low, high) = id switch
            {
                12 or 14 => (20.0, 100.0),        // °C
                10 => (50.0, 750.0),               // W per GPU
                16 => (200.0, 3000.0),             // W for four
                2 => (300e6, 2100e6),              // the panel turns MHz into Hz
                6 => (0.0, 100.0),                 // %
                4 => (0.0, 1.0),                   // ratio (percentunit)
                _ => (0.0, 81559.0),               // MiB of an 80 GB H100
            };
            Assert.All(result, r => Assert.InRange(r.Value, low, high));
        }

    }

    [Fact]
    public async Task CompatSeries_MatchTheNativeOnesInDcgmUnits()
    {
        await using var agent = await AgentProcess.StartAsync("--gpu.simulate=2", "--compat.dcgm", "--collector.disable-defaults", "--collector.gpu");
        using var client = new HttpClient();
        Dictionary<string, double> samples;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        do
        {
            await Task.Delay(100);
            samples = PromSamples.Parse(await agent.ScrapeAsync(client));
        }
        while (!samples.Keys.Any(k => k.StartsWith("DCGM_FI_DEV_FB_USED{", StringComparison.Ordinal)) && DateTime.UtcNow < deadline);

        // One update wrote both, so the pairs agree exactly after the unit change.
        for (var i = 0; i < 2; i++)
        {
            var native = $"{{gpu=\"{i}\",uuid=\"GPU-5131d000-0000-4000-8000-{i:D12}\"}}";
            double Dcgm(string name) => samples.Single(s => s.Key.StartsWith(name + "{", StringComparison.Ordinal) && s.Key.Contains($",gpu=\"{i}\",", StringComparison.Ordinal)).Value;
            Assert.Equal(samples["gpu_memory_used_bytes" + native] / (1 << 20), Dcgm("DCGM_FI_DEV_FB_USED"), 9);
            Assert.Equal(samples["gpu_utilization_ratio" + native] * 100, Dcgm("DCGM_FI_DEV_GPU_UTIL"), 9);
            Assert.Equal(samples["gpu_power_watts" + native], Dcgm("DCGM_FI_DEV_POWER_USAGE"), 9);
            Assert.Equal(samples["gpu_energy_joules_total" + native] * 1000, Dcgm("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"), 6);
            Assert.Equal(samples["gpu_temperature_celsius" + native], Dcgm("DCGM_FI_DEV_GPU_TEMP"), 9);
            Assert.Equal(samples[$"gpu_clock_hertz{{clock=\"sm\",gpu=\"{i}\",uuid=\"GPU-5131d000-0000-4000-8000-{i:D12}\"}}"] / 1e6, Dcgm("DCGM_FI_DEV_SM_CLOCK"), 9);
        }

        var labels = samples.Keys.First(k => k.StartsWith("DCGM_FI_DEV_GPU_TEMP{", StringComparison.Ordinal) && k.Contains("gpu=\"1\"", StringComparison.Ordinal));
        Assert.Contains("device=\"nvidia1\"", labels, StringComparison.Ordinal);
        Assert.Contains("UUID=\"GPU-5131d000-0000-4000-8000-000000000001\"", labels, StringComparison.Ordinal);
        Assert.Contains("modelName=\"NVIDIA H100 80GB HBM3 (simulated)\"", labels, StringComparison.Ordinal);
        Assert.Contains($"Hostname=\"{Environment.MachineName}\"", labels, StringComparison.Ordinal);
        Assert.Contains("pci_bus_id=\"00000000:1A:00.0\"", labels, StringComparison.Ordinal);
        Assert.Contains("DCGM_FI_DRIVER_VERSION=\"580.159.04\"", labels, StringComparison.Ordinal);
    }
}
