using Monitor.Testing;

namespace Monitor.IntegrationTests.Gpu;

/// <summary>The real agent executable loading the C fake as its NVML (<c>--nvml.library</c>).</summary>
[Trait("Category", "AgentProcess")]
public sealed class GpuAgentTests(FakeNvmlFixture fake) : IClassFixture<FakeNvmlFixture>
{
    [Fact]
    public async Task Agent_WithFakeNvml_ExportsGpuMetricsInBaseUnits()
    {
        // The fake's energy counter stands still; reading it every tick keeps the power integral from moving it on,
        // so its value is exact whichever tick the scrape sees.
        await using var agent = await AgentProcess.StartAsync($"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.slow-interval=1s");
        using var client = new HttpClient();

        var body = await ScrapeUntilAsync(agent, client, "gpu_power_watts");
        var samples = PromSamples.Parse(body);

        Assert.Equal(1, samples["gpu_nvml_up"]);
        for (var i = 0; i < 2; i++)
        {
            var labels = $"{{gpu=\"{i}\",uuid=\"GPU-00000000-0000-0000-0000-{i:D12}\"}}";
            var used = (i + 1.0) * (1 << 30);
            var uuid = $"GPU-00000000-0000-0000-0000-{i:D12}";
            Assert.Equal(1, samples[
                $"gpu_info{{compute_capability=\"9.0\",driver_version=\"580.159.04\",gpm=\"supported\",gpu=\"{i}\",name=\"NVIDIA H100 80GB HBM3\",pci_bus_id=\"00000000:{0x17 + i:X2}:00.0\",serial=\"1654322{i:D6}\",uuid=\"{uuid}\",vbios_version=\"96.00.74.00.01\"}}"]);
            Assert.Equal(50 + i, samples["gpu_memory_temperature_celsius" + labels]);
            Assert.Equal(700, samples["gpu_power_limit_watts" + labels]);
            Assert.Equal(5, samples["gpu_pcie_link_max_generation" + labels]);
            Assert.Equal(16, samples["gpu_pcie_link_max_width" + labels]);
            Assert.Equal(0, samples["gpu_recovery_action" + labels]);
            Assert.Equal(0, samples["gpu_mig_mode" + labels]);
            Assert.Equal(1, samples["gpu_ecc_mode_enabled" + labels]);
            Assert.Equal(0, samples["gpu_sampling_stalled" + labels]);

            // NVLink through field values: 4 links, link 3 of GPU 1 down; KiB counters exported in bytes.
            Assert.Equal(4, samples["gpu_nvlink_links" + labels]);
            for (var link = 0; link < 4; link++)
            {
                Assert.Equal(i == 1 && link == 3 ? 0 : 1, samples[$"gpu_nvlink_link_up{{gpu=\"{i}\",link=\"{link}\",uuid=\"{uuid}\"}}"]);
            }

            Assert.Equal(1000.0 * (i + 1) * 1024, samples["gpu_nvlink_transmit_bytes_total" + labels]);
            Assert.Equal(2000.0 * (i + 1) * 1024, samples["gpu_nvlink_receive_bytes_total" + labels]);
            Assert.Equal(i, samples[$"gpu_nvlink_errors_total{{error=\"crc_flit\",gpu=\"{i}\",uuid=\"{uuid}\"}}"]);
            Assert.Equal(2 * i, samples[$"gpu_nvlink_errors_total{{error=\"replay\",gpu=\"{i}\",uuid=\"{uuid}\"}}"]);
            Assert.Equal(0, samples[$"gpu_nvlink_errors_total{{error=\"recovery\",gpu=\"{i}\",uuid=\"{uuid}\"}}"]);

            // GPU i runs i + 1 processes: pid 1000(i+1)+k with (k+1)·256 MiB at 10(k+1) % SM and 5(k+1) % memory.
            Assert.Equal(i + 1, samples.Keys.Count(k => k.StartsWith($"gpu_process_memory_used_bytes{{gpu=\"{i}\"", StringComparison.Ordinal)));
            for (var k = 0; k < i + 1; k++)
            {
                var process = $"{{gpu=\"{i}\",pid=\"{(1000 * (i + 1)) + k}\",uuid=\"{uuid}\"}}";
                Assert.Equal((k + 1) * 256.0 * 1024 * 1024, samples["gpu_process_memory_used_bytes" + process]);
                Assert.Equal(0.1 * (k + 1), samples["gpu_process_utilization_ratio" + process], 12);
                Assert.Equal(0.05 * (k + 1), samples["gpu_process_memory_utilization_ratio" + process], 12);
            }

            // Retired pages: NOT_SUPPORTED on GPU 0 (as on an H100), one single-bit page and a pending retirement on GPU 1.
            if (i == 0)
            {
                Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_retired_pages{cause=\"double_bit_ecc\",gpu=\"0\"", StringComparison.Ordinal));
                Assert.DoesNotContain("gpu_retired_pages_pending" + labels, samples.Keys);
            }
            else
            {
                Assert.Equal(1, samples[$"gpu_retired_pages{{cause=\"multiple_single_bit_ecc\",gpu=\"1\",uuid=\"{uuid}\"}}"]);
                Assert.Equal(0, samples[$"gpu_retired_pages{{cause=\"double_bit_ecc\",gpu=\"1\",uuid=\"{uuid}\"}}"]);
                Assert.Equal(1, samples["gpu_retired_pages_pending" + labels]);
            }

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

        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_pcie_throughput_bytes_per_second", StringComparison.Ordinal));
        await Promtool.AssertCleanAsync(body);

        // Every GPU series the shipped alert rules query exists under that name.
        var expressions = (await File.ReadAllLinesAsync(Path.Join(Fixtures.RepositoryRoot, "alerts", "gpu.rules.yml")))
            .Where(l => l.TrimStart().StartsWith("expr:", StringComparison.Ordinal));
        var queried = expressions.SelectMany(e => System.Text.RegularExpressions.Regex.Matches(e, @"\bgpu_[a-z_]+\b").Select(m => m.Value)).Distinct().ToList();
        Assert.True(queried.Count > 10, string.Join(", ", queried));
        Assert.All(queried, name => Assert.Contains(samples.Keys, k => k.StartsWith(name + "{", StringComparison.Ordinal) || k == name));
    }

    [Fact]
    public async Task Agent_LargeProcessListR535EntriesMigAndPcieThroughput()
    {
        // 40 processes on GPU 0 (more than the binding's first buffer: INSUFFICIENT_SIZE, then a retry) in R535's
        // 32-byte entries; GPU 1 in MIG mode with two instances; PCIe throughput switched on.
        using var control = new ControlFile("processes=40\nprocess_stride=32\nmig=1\n");
        await using var agent = await AgentProcess.StartAsync(
            control.Environment, $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.pcie-throughput");
        using var client = new HttpClient();
        const string Gpu0 = "gpu=\"0\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"";
        const string Gpu1 = "gpu=\"1\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\"";

        const string Mig2 = "gpu_mig_memory_used_bytes{compute_instance=\"0\",gpu=\"1\",gpu_instance=\"2\",mig_uuid=\"MIG-00000000-0000-0000-0000-000000000002\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\"}";
        var samples = await WaitForAsync(agent, client, s => s.ContainsKey(Mig2) && s.ContainsKey($"gpu_pcie_throughput_bytes_per_second{{direction=\"rx\",{Gpu1}}}"));

        Assert.Equal(40, samples.Keys.Count(k => k.StartsWith("gpu_process_memory_used_bytes{gpu=\"0\"", StringComparison.Ordinal)));
        for (var k = 0; k < 40; k += 13)
        {
            Assert.Equal((k + 1) * 256.0 * 1024 * 1024, samples[$"gpu_process_memory_used_bytes{{gpu=\"0\",pid=\"{1000 + k}\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"}}"]);
        }

        Assert.Equal(0, samples[$"gpu_mig_mode{{{Gpu0}}}"]);
        Assert.Equal(1, samples[$"gpu_mig_mode{{{Gpu1}}}"]);
        for (var gi = 1; gi <= 2; gi++)
        {
            var mig = $"{{compute_instance=\"0\",gpu=\"1\",gpu_instance=\"{gi}\",mig_uuid=\"MIG-00000000-0000-0000-0000-{gi:D12}\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\"}}";
            Assert.Equal(gi * 1024.0 * 1024 * 1024, samples["gpu_mig_memory_used_bytes" + mig]);
            Assert.Equal(gi * 10.0 * 1024 * 1024 * 1024, samples["gpu_mig_memory_total_bytes" + mig]);
            Assert.Equal(gi * 9.0 * 1024 * 1024 * 1024, samples["gpu_mig_memory_free_bytes" + mig]);
        }

        // NVML offers no utilization on a MIG-enabled GPU or its instances: absent, not zero.
        Assert.DoesNotContain($"gpu_utilization_ratio{{{Gpu1}}}", samples.Keys);
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_mig_utilization_ratio", StringComparison.Ordinal));
        Assert.Equal(0.1, samples[$"gpu_utilization_ratio{{{Gpu0}}}"], 12);

        // KB/s to bytes/s.
        Assert.Equal(1e6, samples[$"gpu_pcie_throughput_bytes_per_second{{direction=\"tx\",{Gpu0}}}"]);
        Assert.Equal(4e6, samples[$"gpu_pcie_throughput_bytes_per_second{{direction=\"rx\",{Gpu1}}}"]);
    }

    [Fact]
    public async Task Agent_HungGpu_OthersKeepReportingThenItRecovers()
    {
        using var control = new ControlFile("hang=1\n");
        await using var agent = await AgentProcess.StartAsync(
            control.Environment, $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.device-timeout=300ms");
        using var client = new HttpClient();
        const string Gpu0 = "gpu=\"0\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"";
        const string Gpu1 = "gpu=\"1\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\"";

        // GPU 1 hangs from its very first call, before its UUID is known.
        var hung = await WaitForAsync(agent, client, s => s.GetValueOrDefault("gpu_sampling_stalled{gpu=\"1\",uuid=\"\"}") == 1 && s.ContainsKey($"gpu_power_watts{{{Gpu0}}}"));
        Assert.Equal(0, hung["gpu_up{gpu=\"1\",uuid=\"\"}"]);
        Assert.Equal(1, hung[$"gpu_up{{{Gpu0}}}"]);
        Assert.Equal(100, hung[$"gpu_power_watts{{{Gpu0}}}"]);
        Assert.Equal(1, hung["gpu_nvml_up"]);

        control.Write("hang=-1\n");
        var recovered = await WaitForAsync(agent, client, s => s.GetValueOrDefault($"gpu_up{{{Gpu1}}}") == 1);
        Assert.Equal(101, recovered[$"gpu_power_watts{{{Gpu1}}}"]);
        Assert.Equal(0, recovered[$"gpu_sampling_stalled{{{Gpu1}}}"]);
        Assert.DoesNotContain("gpu_up{gpu=\"1\",uuid=\"\"}", recovered.Keys);
        // GPU 1's lines: on a loaded machine GPU 0's tick can also overrun the 300 ms once, and say so.
        Assert.Single(agent.Log.Split('\n'), l => l.Contains("GPU 1 (", StringComparison.Ordinal) && l.Contains("has not returned within", StringComparison.Ordinal));
        Assert.Single(agent.Log.Split('\n'), l => l.Contains("GPU 1 (", StringComparison.Ordinal) && l.Contains("sampling completes again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_GpuLostMidRun_OnlyThatGpuDown()
    {
        using var control = new ControlFile("lost=-1\n");
        await using var agent = await AgentProcess.StartAsync(control.Environment, $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu");
        using var client = new HttpClient();
        const string Gpu0 = "gpu=\"0\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"";
        const string Gpu1 = "gpu=\"1\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\"";
        await WaitForAsync(agent, client, s => s.GetValueOrDefault($"gpu_up{{{Gpu1}}}") == 1);

        control.Write("lost=1\n");
        var lost = await WaitForAsync(agent, client, s => s.GetValueOrDefault($"gpu_up{{{Gpu1}}}", 1) == 0);

        Assert.DoesNotContain($"gpu_power_watts{{{Gpu1}}}", lost.Keys);
        Assert.Equal(1, lost[$"gpu_info{{compute_capability=\"9.0\",driver_version=\"580.159.04\",gpm=\"supported\",gpu=\"1\",name=\"NVIDIA H100 80GB HBM3\",pci_bus_id=\"00000000:18:00.0\",serial=\"1654322000001\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\",vbios_version=\"96.00.74.00.01\"}}"]);
        Assert.Equal(1, lost[$"gpu_up{{{Gpu0}}}"]);
        Assert.Equal(100, lost[$"gpu_power_watts{{{Gpu0}}}"]);
        Assert.Equal(1, lost["gpu_nvml_up"]);
        Assert.Single(agent.Log.Split('\n'), l => l.Contains("GPU 1 (GPU-00000000-0000-0000-0000-000000000001) is lost", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_GpuCannotBeIdentified_SaysWhyOnceAndComesUpWhenItAnswers()
    {
        using var control = new ControlFile("no_uuid=1\n");
        await using var agent = await AgentProcess.StartAsync(control.Environment, $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu");
        using var client = new HttpClient();
        const string Gpu0 = "gpu=\"0\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"";
        const string Gpu1 = "gpu=\"1\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\"";

        var samples = await WaitForAsync(agent, client, s => s.ContainsKey("gpu_up{gpu=\"1\",uuid=\"\"}") && s.GetValueOrDefault($"gpu_up{{{Gpu0}}}") == 1);
        Assert.Equal(0, samples["gpu_up{gpu=\"1\",uuid=\"\"}"]);
        Assert.Equal(100, samples[$"gpu_power_watts{{{Gpu0}}}"]);
        await WaitForAsync(agent, client, s => agent.Log.Contains("GPU 1 cannot be identified", StringComparison.Ordinal));

        // It answers again: identified, up, and the unidentified series is gone.
        control.Write("no_uuid=-1\n");
        samples = await WaitForAsync(agent, client, s => s.GetValueOrDefault($"gpu_up{{{Gpu1}}}") == 1);
        Assert.DoesNotContain("gpu_up{gpu=\"1\",uuid=\"\"}", samples.Keys);
        Assert.Equal(101, samples[$"gpu_power_watts{{{Gpu1}}}"]);
        Assert.Single(agent.Log.Split('\n'), l => l.Contains("GPU 1 cannot be identified (nvmlDeviceGetUUID: Unknown Error, 999)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_GpuCannotBeOpened_ShownDownWithTheReason()
    {
        using var control = new ControlFile("no_handle=0\n");
        await using var agent = await AgentProcess.StartAsync(control.Environment, $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu");
        using var client = new HttpClient();
        const string Gpu1 = "gpu=\"1\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\"";

        var samples = await WaitForAsync(agent, client, s => s.GetValueOrDefault($"gpu_up{{{Gpu1}}}") == 1);
        Assert.Equal(0, samples["gpu_up{gpu=\"0\",uuid=\"\"}"]);
        Assert.Single(agent.Log.Split('\n'), l => l.Contains("GPU 0 cannot be opened (nvmlDeviceGetHandleByIndex_v2: Insufficient Permissions (4))", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_PreR510Driver_MissingMemoryV2_FallsBackToV1()
    {
        await using var agent = await AgentProcess.StartAsync($"--nvml.library={fake.WithoutMemoryV2}", "--collector.disable-defaults", "--collector.gpu");
        using var client = new HttpClient();
        const string Gpu0 = "gpu=\"0\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"";

        var samples = await WaitForAsync(agent, client, s => s.ContainsKey($"gpu_memory_used_bytes{{{Gpu0}}}"));

        // v1 "used" includes the driver's reservation, which v1 cannot separate: no reserved series.
        Assert.Equal((1L << 30) + 503316480, samples[$"gpu_memory_used_bytes{{{Gpu0}}}"]);
        Assert.DoesNotContain($"gpu_memory_reserved_bytes{{{Gpu0}}}", samples.Keys);
        Assert.Equal(85520809984 - 503316480 - (1L << 30), samples[$"gpu_memory_free_bytes{{{Gpu0}}}"]);
    }

    [Fact]
    public async Task Agent_Gpm_ValuesInBaseUnitsPerGpuAndPerMigInstance()
    {
        // GPU 0 whole, GPU 1 in MIG mode with instances 1 and 2; SM occupancy (id 3) fails with its own result code.
        using var control = new ControlFile("mig=1\ngpm_bad_metric=3\n");
        await using var agent = await AgentProcess.StartAsync(
            control.Environment, $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.gpm-interval=1s", "--compat.dcgm");
        using var client = new HttpClient();
        const string Gpu0 = "gpu=\"0\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"";
        const string Gpu1Uuid = "uuid=\"GPU-00000000-0000-0000-0000-000000000001\"";

        var samples = await WaitForAsync(agent, client, s =>
            s.ContainsKey($"gpu_tensor_active_ratio{{{Gpu0}}}") && s.ContainsKey($"gpu_mig_tensor_active_ratio{{gpu=\"1\",gpu_instance=\"2\",{Gpu1Uuid}}}"));

        // Whole GPU 0: base + 0, % to ratios and MiB/s to bytes/s.
        Assert.Equal(0.50, samples[$"gpu_graphics_engine_active_ratio{{{Gpu0}}}"], 12);
        Assert.Equal(0.40, samples[$"gpu_sm_active_ratio{{{Gpu0}}}"], 12);
        Assert.Equal(0.30, samples[$"gpu_tensor_active_ratio{{{Gpu0}}}"], 12);
        Assert.Equal(0.20, samples[$"gpu_dram_active_ratio{{{Gpu0}}}"], 12);
        Assert.Equal(0.02, samples["gpu_pipe_active_ratio{gpu=\"0\",pipe=\"fp64\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"}"], 12);
        Assert.Equal(0.03, samples["gpu_pipe_active_ratio{gpu=\"0\",pipe=\"fp32\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"}"], 12);
        Assert.Equal(0.04, samples["gpu_pipe_active_ratio{gpu=\"0\",pipe=\"fp16\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"}"], 12);
        Assert.Equal(0.01, samples["gpu_pipe_active_ratio{gpu=\"0\",pipe=\"int\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"}"], 12);
        Assert.Equal(100.0 * 1024 * 1024, samples[$"gpu_pcie_gpm_bytes_per_second{{direction=\"tx\",{Gpu0}}}"]);
        Assert.Equal(200.0 * 1024 * 1024, samples[$"gpu_pcie_gpm_bytes_per_second{{direction=\"rx\",{Gpu0}}}"]);
        Assert.Equal(400.0 * 1024 * 1024, samples[$"gpu_nvlink_gpm_bytes_per_second{{direction=\"tx\",{Gpu0}}}"]);
        Assert.Equal(300.0 * 1024 * 1024, samples[$"gpu_nvlink_gpm_bytes_per_second{{direction=\"rx\",{Gpu0}}}"]);

        // Its own result code failed: absent everywhere, never 0.
        Assert.DoesNotContain(samples.Keys, k => k.Contains("sm_occupancy_ratio", StringComparison.Ordinal) || k.StartsWith("DCGM_FI_PROF_SM_OCCUPANCY", StringComparison.Ordinal));

        // GPU 1 is in MIG mode: per GPU instance (base + 10 × instance), nothing for the whole GPU.
        Assert.Equal(0.60, samples[$"gpu_mig_graphics_engine_active_ratio{{gpu=\"1\",gpu_instance=\"1\",{Gpu1Uuid}}}"], 12);
        Assert.Equal(0.70, samples[$"gpu_mig_graphics_engine_active_ratio{{gpu=\"1\",gpu_instance=\"2\",{Gpu1Uuid}}}"], 12);
        Assert.Equal(0.50, samples[$"gpu_mig_tensor_active_ratio{{gpu=\"1\",gpu_instance=\"2\",{Gpu1Uuid}}}"], 12);
        Assert.Equal(120.0 * 1024 * 1024, samples[$"gpu_mig_pcie_gpm_bytes_per_second{{direction=\"tx\",gpu=\"1\",gpu_instance=\"2\",{Gpu1Uuid}}}"]);
        Assert.DoesNotContain($"gpu_graphics_engine_active_ratio{{gpu=\"1\",{Gpu1Uuid}}}", samples.Keys);

        // dcgm-exporter's profiling fields for the whole GPU.
        Assert.Equal(0.30, samples.Single(s => s.Key.StartsWith("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{", StringComparison.Ordinal) && s.Key.Contains(",gpu=\"0\",", StringComparison.Ordinal)).Value, 12);
        Assert.Equal(100.0 * 1024 * 1024, samples.Single(s => s.Key.StartsWith("DCGM_FI_PROF_PCIE_TX_BYTES{", StringComparison.Ordinal) && s.Key.Contains(",gpu=\"0\",", StringComparison.Ordinal)).Value);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Agent_Gpm_UnsupportedGpuSaysSoAndHasNoGpmSeries(bool olderDriver)
    {
        // A pre-Hopper GPU 1 on a current driver, or a driver without the nvmlGpm* symbols at all.
        using var control = new ControlFile("gpm_unsupported=1\n");
        await using var agent = await AgentProcess.StartAsync(
            control.Environment, $"--nvml.library={(olderDriver ? fake.WithoutGpm : fake.Current)}", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.gpm-interval=1s");
        using var client = new HttpClient();

        var samples = await WaitForAsync(agent, client, s => olderDriver
            ? s.Keys.Any(k => k.StartsWith("gpu_power_watts{gpu=\"1\"", StringComparison.Ordinal)) && s.ContainsKey("monitor_agent_collector_duration_seconds{collector=\"gpu\"}")
            : s.Keys.Any(k => k.StartsWith("gpu_tensor_active_ratio{gpu=\"0\"", StringComparison.Ordinal)));
        if (olderDriver)
        {
            // Several intervals: still nothing.
            await Task.Delay(2500);
            samples = PromSamples.Parse(await agent.ScrapeAsync(client));
        }

        Assert.Contains(samples.Keys, k => k.StartsWith("gpu_info{", StringComparison.Ordinal) && k.Contains("gpm=\"unsupported\",gpu=\"1\"", StringComparison.Ordinal));
        Assert.DoesNotContain(samples.Keys, k => (k.StartsWith("gpu_tensor_active_ratio{gpu=\"1\"", StringComparison.Ordinal) || k.StartsWith("gpu_sm_active_ratio{gpu=\"1\"", StringComparison.Ordinal)));
        var gpu0Info = samples.Keys.Single(k => k.StartsWith("gpu_info{", StringComparison.Ordinal) && k.Contains("gpu=\"0\"", StringComparison.Ordinal));
        Assert.Contains(olderDriver ? "gpm=\"unsupported\"" : "gpm=\"supported\"", gpu0Info, StringComparison.Ordinal);
        Assert.Equal(olderDriver ? 0 : 1, samples.Keys.Count(k => k.StartsWith("gpu_tensor_active_ratio{", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Agent_DriverMismatch_ReinitializesAndKeepsCountingXids()
    {
        using var control = new ControlFile("mismatch=0\n");
        await using var agent = await AgentProcess.StartAsync(control.Environment, $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu");
        using var client = new HttpClient();
        const string Gpu0 = "gpu=\"0\",uuid=\"GPU-00000000-0000-0000-0000-000000000000\"";
        await WaitForAsync(agent, client, s => s.GetValueOrDefault("gpu_nvml_up") == 1 && s.ContainsKey($"gpu_power_watts{{{Gpu0}}}"));

        control.Write("mismatch=1\n");
        var down = await WaitForAsync(agent, client, s => s.GetValueOrDefault("gpu_nvml_up", 1) == 0);
        Assert.DoesNotContain($"gpu_power_watts{{{Gpu0}}}", down.Keys);
        Assert.Equal(1, down["monitor_agent_collector_success{collector=\"gpu\"}"]);

        control.Write("mismatch=0\n");
        await WaitForAsync(agent, client, s => s.GetValueOrDefault("gpu_nvml_up") == 1 && s.ContainsKey($"gpu_power_watts{{{Gpu0}}}"));

        // The new session has its own XID listener.
        control.Write("mismatch=0\nxid=48\nxid_gpu=0\n");
        var xid = await WaitForAsync(agent, client, s => s.GetValueOrDefault($"gpu_xid_errors_total{{{Gpu0},xid=\"48\"}}") >= 1);
        Assert.Equal(1, xid[$"gpu_xid_errors_total{{{Gpu0},xid=\"48\"}}"]);
        Assert.Single(agent.Log.Split('\n'), l => l.Contains("NVML session lost", StringComparison.Ordinal));
        Assert.Equal(2, agent.Log.Split('\n').Count(l => l.Contains("NVML initialized", StringComparison.Ordinal)));
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Agent_Simulate8_EightPlausibleGpusAndPromtoolClean(bool compat)
    {
        await using var agent = await AgentProcess.StartAsync(compat ? ["--gpu.simulate=8", "--compat.dcgm"] : ["--gpu.simulate=8"]);
        using var client = new HttpClient();

        var body = await ScrapeUntilAsync(agent, client, "gpu_energy_joules_total");
        var samples = PromSamples.Parse(body);

        Assert.Equal(8, samples.Keys.Count(k => k.StartsWith("gpu_info{", StringComparison.Ordinal)));
        Assert.All(samples.Where(s => s.Key.StartsWith("gpu_utilization_ratio{", StringComparison.Ordinal)), s => Assert.InRange(s.Value, 0, 1));
        Assert.All(samples.Where(s => s.Key.StartsWith("gpu_power_watts{", StringComparison.Ordinal)), s => Assert.InRange(s.Value, 70, 700));
        Assert.All(samples.Where(s => s.Key.StartsWith("gpu_memory_used_bytes{", StringComparison.Ordinal)), s => Assert.InRange(s.Value, 0, 85520809984 - 503316480));
        Assert.Equal(8 * 32, samples.Keys.Count(k => k.StartsWith("gpu_xid_errors_total{", StringComparison.Ordinal)));
        Assert.Equal(compat ? 8 : 0, samples.Keys.Count(k => k.StartsWith("DCGM_FI_DEV_GPU_UTIL{", StringComparison.Ordinal)));
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

    /// <summary>Scrapes until <paramref name="condition"/> holds on a complete update (30 s at most).</summary>
    private static Task<Dictionary<string, double>> WaitForAsync(AgentProcess agent, HttpClient client, Func<Dictionary<string, double>, bool> condition) =>
        agent.ScrapeUntilAsync(client, s => s.ContainsKey("monitor_agent_collector_duration_seconds{collector=\"gpu\"}") && condition(s));

    private static async Task<string> ScrapeUntilAsync(AgentProcess agent, HttpClient client, string family)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            // Updates are published whole, so one scrape that has the family has the whole first update.
            var body = await agent.ScrapeAsync(client);
            if ((body.Contains(family, StringComparison.Ordinal) && body.Contains("monitor_agent_collector_duration_seconds{collector=\"gpu\"}", StringComparison.Ordinal)) || DateTime.UtcNow > deadline)
            {
                return body;
            }

            await Task.Delay(100);
        }
    }
}

/// <summary>The fake NVML's control file (FAKE_NVML_CONTROL), replaced atomically so the fake never reads half a write.</summary>
internal sealed class ControlFile : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("monitor-fake-nvml-control-").FullName;

    public ControlFile(string content) => Write(content);

    public string Path => System.IO.Path.Join(_directory, "control");

    public Dictionary<string, string> Environment => new() { ["FAKE_NVML_CONTROL"] = Path };

    public void Write(string content)
    {
        var temporary = Path + ".tmp";
        File.WriteAllText(temporary, content);
        File.Move(temporary, Path, overwrite: true);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
