using Monitor.Testing;

namespace Monitor.IntegrationTests.Gpu;

/// <summary>The real agent executable loading the C fake as its NVML (<c>--nvml.library</c>).</summary>
public sealed class GpuAgentTests(FakeNvmlFixture fake) : IClassFixture<FakeNvmlFixture>
{
    [Fact]
    public async Task Agent_WithFakeNvml_ExportsGpuMetricsInBaseUnits()
    {
        await using var agent = await AgentProcess.StartAsync($"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu");
        using var client = new HttpClient();

        var body = await ScrapeUntilAsync(agent, client, "gpu_power_watts");
        var samples = PromSamples.Parse(body);

        Assert.Equal(1, samples["gpu_nvml_up"]);
        for (var i = 0; i < 2; i++)
        {
            var labels = $"{{gpu=\"{i}\",uuid=\"GPU-00000000-0000-0000-0000-{i:D12}\"}}";
            var used = (i + 1.0) * (1 << 30);
            Assert.Equal(1, samples[$"gpu_info{{gpu=\"{i}\",name=\"NVIDIA H100 80GB HBM3\",uuid=\"GPU-00000000-0000-0000-0000-{i:D12}\"}}"]);
            Assert.Equal(0.1 * (i + 1), samples["gpu_utilization_ratio" + labels], 12);
            Assert.Equal(0.05 * (i + 1), samples["gpu_memory_utilization_ratio" + labels], 12);
            Assert.Equal(85520809984, samples["gpu_memory_total_bytes" + labels]);
            Assert.Equal(503316480, samples["gpu_memory_reserved_bytes" + labels]);
            Assert.Equal(used, samples["gpu_memory_used_bytes" + labels]);
            Assert.Equal(85520809984 - 503316480 - used, samples["gpu_memory_free_bytes" + labels]);
            Assert.Equal(40 + i, samples["gpu_temperature_celsius" + labels]);
            Assert.Equal(100 + i, samples["gpu_power_watts" + labels]);
            Assert.Equal(1000.0 * (i + 1), samples["gpu_energy_joules_total" + labels]);
            Assert.Equal(1, samples["gpu_up" + labels]);
            var clockLabels = $"{{clock=\"sm\",gpu=\"{i}\",uuid=\"GPU-00000000-0000-0000-0000-{i:D12}\"}}";
            Assert.Equal((1755 + i) * 1e6, samples["gpu_clock_hertz" + clockLabels]);
            Assert.Equal(1980e6, samples["gpu_clock_max_hertz" + clockLabels]);
            Assert.Equal(0, samples["gpu_performance_state" + labels]);
            Assert.Equal(89, samples["gpu_temperature_slowdown_threshold_celsius" + labels]);
            Assert.Equal(95, samples["gpu_temperature_shutdown_threshold_celsius" + labels]);
            var uuid = $"GPU-00000000-0000-0000-0000-{i:D12}";
            Assert.Equal(i, samples[$"gpu_ecc_errors_total{{counter=\"volatile\",error=\"corrected\",gpu=\"{i}\",uuid=\"{uuid}\"}}"]);
            Assert.Equal(10 + i, samples[$"gpu_ecc_errors_total{{counter=\"aggregate\",error=\"corrected\",gpu=\"{i}\",uuid=\"{uuid}\"}}"]);
            Assert.Equal(0, samples[$"gpu_ecc_errors_total{{counter=\"volatile\",error=\"uncorrected\",gpu=\"{i}\",uuid=\"{uuid}\"}}"]);
            Assert.Equal(i, samples[$"gpu_remapped_rows{{error=\"correctable\",gpu=\"{i}\",uuid=\"{uuid}\"}}"]);
            Assert.Equal(0, samples["gpu_remapped_rows_failure" + labels]);
            Assert.Equal(5, samples["gpu_pcie_link_generation" + labels]);
            Assert.Equal(16, samples["gpu_pcie_link_width" + labels]);
            Assert.Equal(3 * i, samples["gpu_pcie_replay_errors_total" + labels]);
            Assert.Equal(0.02 * i, samples["gpu_encoder_utilization_ratio" + labels], 12);
            Assert.Equal(0.03 * i, samples["gpu_decoder_utilization_ratio" + labels], 12);
            Assert.DoesNotContain("gpu_fan_speed_ratio" + labels, samples.Keys);
            var reason = i == 0 ? "sw_power_cap" : "gpu_idle";
            Assert.Equal(1, samples[$"gpu_clock_event_reason{{gpu=\"{i}\",reason=\"{reason}\",uuid=\"GPU-00000000-0000-0000-0000-{i:D12}\"}}"]);
        }

        await Promtool.AssertCleanAsync(body);
    }

    [Fact]
    public async Task Agent_XidEvent_CountedFromZeroAndLoggedWithResolution()
    {
        var environment = new Dictionary<string, string> { ["FAKE_NVML_XID"] = "79", ["FAKE_NVML_XID_GPU"] = "1" };
        await using var agent = await AgentProcess.StartAsync(environment, $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu");
        using var client = new HttpClient();
        const string Gpu1 = "gpu=\"1\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\"";

        var samples = PromSamples.Parse(await ScrapeUntilAsync(agent, client, "gpu_last_xid_timestamp_seconds"));

        Assert.Equal(1, samples[$"gpu_xid_errors_total{{{Gpu1},xid=\"79\"}}"]);
        Assert.Equal(0, samples[$"gpu_xid_errors_total{{{Gpu1},xid=\"48\"}}"]);
        Assert.Equal(0, samples["gpu_xid_errors_total{gpu=\"0\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\",xid=\"79\"}"]);
        Assert.Equal(64, samples.Keys.Count(k => k.StartsWith("gpu_xid_errors_total{", StringComparison.Ordinal)));
        Assert.InRange(samples[$"gpu_last_xid_timestamp_seconds{{{Gpu1}}}"], DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.Single(agent.Log.Split('\n'), l => l.Contains("XID 79 on GPU 1", StringComparison.Ordinal) && l.Contains("RESTART_BM", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_Simulate8_EightPlausibleGpusAndPromtoolClean()
    {
        await using var agent = await AgentProcess.StartAsync("--gpu.simulate=8");
        using var client = new HttpClient();

        var body = await ScrapeUntilAsync(agent, client, "gpu_energy_joules_total");
        var samples = PromSamples.Parse(body);

        Assert.Equal(8, samples.Keys.Count(k => k.StartsWith("gpu_info{", StringComparison.Ordinal)));
        Assert.All(samples.Where(s => s.Key.StartsWith("gpu_utilization_ratio{", StringComparison.Ordinal)), s => Assert.InRange(s.Value, 0, 1));
        Assert.All(samples.Where(s => s.Key.StartsWith("gpu_power_watts{", StringComparison.Ordinal)), s => Assert.InRange(s.Value, 70, 700));
        Assert.All(samples.Where(s => s.Key.StartsWith("gpu_memory_used_bytes{", StringComparison.Ordinal)), s => Assert.InRange(s.Value, 0, 85520809984 - 503316480));
        Assert.Equal(8 * 32, samples.Keys.Count(k => k.StartsWith("gpu_xid_errors_total{", StringComparison.Ordinal)));
        await Promtool.AssertCleanAsync(body);
    }

    [Fact]
    public async Task Agent_WithoutDriver_ServesEverythingElse()
    {
        await using var agent = await AgentProcess.StartAsync("--nvml.library=/nonexistent/libnvidia-ml.so.1");
        using var client = new HttpClient();

        var samples = PromSamples.Parse(await ScrapeUntilAsync(agent, client, "gpu_nvml_up"));

        Assert.Equal(0, samples["gpu_nvml_up"]);
        Assert.Equal(1, samples["monitor_agent_collector_success{collector=\"gpu\"}"]);
        Assert.Contains("node_load1", samples.Keys);
        Assert.Single(agent.Log.Split('\n'), l => l.Contains("NVML not available", StringComparison.Ordinal));
    }

    private static async Task<string> ScrapeUntilAsync(AgentProcess agent, HttpClient client, string family)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            // The collector writes in place, so a scrape during its first update sees part of it; the runner sets the
            // duration series only once an update has finished.
            var body = await agent.ScrapeAsync(client);
            if ((body.Contains(family, StringComparison.Ordinal) && body.Contains("monitor_agent_collector_duration_seconds{collector=\"gpu\"}", StringComparison.Ordinal)) || DateTime.UtcNow > deadline)
            {
                return body;
            }

            await Task.Delay(100);
        }
    }
}
