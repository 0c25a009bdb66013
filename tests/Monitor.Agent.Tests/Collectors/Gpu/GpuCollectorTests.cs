using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.Gpu;
using Monitor.Agent.Configuration;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Agent.Gpu.Xid;
using Monitor.Agent.Jobs;
using Monitor.Agent.Tests.Support;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Gpu;

public sealed class GpuCollectorTests
{
    private const string Model = "NVIDIA H100 80GB HBM3 (simulated)";

    [Fact]
    public void Update_TwoGpus_ExportsBaseUnits()
    {
        var nvml = Steady(2);
        nvml.AdjustEnergy(1, 2000.5);
        foreach (var gpu in nvml.Gpus)
        {
            gpu.ClockEventReasons = 0x44;
        }

        nvml.Gpus[0].RemappedRows = (3, 1, 1, 0);
        nvml.Gpus[0].PcieLink = (4, 8);
        nvml.Gpus[0].PcieReplays = 7;
        nvml.Gpus[1].EccMode = (false, true);
        nvml.Gpus[1].RecoveryAction = 1;
        nvml.Gpus[1].EccCorrected = 2;
        nvml.Gpus[1].EccUncorrected = 112;
        var samples = PromSamples.Parse(Harness(nvml).Scrape());

        Assert.Equal(1, samples["gpu_nvml_up"]);
        Assert.Equal(1, samples[$"gpu_info{{compute_capability=\"9.0\",driver_version=\"580.159.04\",gpm=\"supported\",gpu=\"1\",name=\"{Model}\",pci_bus_id=\"00000000:1A:00.0\",serial=\"1654320000001\",uuid=\"{Uuid(1)}\",vbios_version=\"96.00.74.00.01\"}}"]);
        Assert.Equal(1, samples[$"gpu_up{{{Gpu(0)}}}"]);
        Assert.Equal(0, samples[$"gpu_sampling_stalled{{{Gpu(1)}}}"]);

        // Load 0.4 on GPU 0 and 0.8 on GPU 1.
        Assert.Equal(0.8, samples[$"gpu_utilization_ratio{{{Gpu(1)}}}"]);
        Assert.Equal(0.48, samples[$"gpu_memory_utilization_ratio{{{Gpu(1)}}}"]);
        Assert.Equal(61212595322, samples[$"gpu_memory_used_bytes{{{Gpu(1)}}}"]);
        Assert.Equal(85520809984, samples[$"gpu_memory_total_bytes{{{Gpu(0)}}}"]);
        Assert.Equal(54411195843, samples[$"gpu_memory_free_bytes{{{Gpu(0)}}}"]);
        Assert.Equal(503316480, samples[$"gpu_memory_reserved_bytes{{{Gpu(0)}}}"]);
        Assert.Equal(67, samples[$"gpu_temperature_celsius{{{Gpu(1)}}}"]);
        Assert.Equal(52, samples[$"gpu_memory_temperature_celsius{{{Gpu(0)}}}"]);
        Assert.Equal(64, samples[$"gpu_memory_temperature_celsius{{{Gpu(1)}}}"]);
        Assert.Equal(574, samples[$"gpu_power_watts{{{Gpu(1)}}}"]);
        Assert.Equal(322, samples[$"gpu_power_watts{{{Gpu(0)}}}"]);
        Assert.Equal(2000.5, samples[$"gpu_energy_joules_total{{{Gpu(1)}}}"]);
        Assert.Equal(700, samples[$"gpu_power_limit_watts{{{Gpu(1)}}}"]);
        Assert.Equal(1653e6, samples[$"gpu_clock_hertz{{clock=\"sm\",{Gpu(1)}}}"]);
        Assert.Equal(999e6, samples[$"gpu_clock_hertz{{clock=\"graphics\",{Gpu(0)}}}"]);
        Assert.Equal(1521e6, samples[$"gpu_clock_hertz{{clock=\"video\",{Gpu(1)}}}"]);
        Assert.Equal(2619e6, samples[$"gpu_clock_hertz{{clock=\"memory\",{Gpu(1)}}}"]);
        Assert.Equal(2619e6, samples[$"gpu_clock_max_hertz{{clock=\"memory\",{Gpu(0)}}}"]);
        Assert.Equal(1980e6, samples[$"gpu_clock_max_hertz{{clock=\"sm\",{Gpu(0)}}}"]);
        Assert.Equal(0, samples[$"gpu_performance_state{{{Gpu(0)}}}"]);

        // One process per GPU, pid 40001 + i, holding the used memory.
        Assert.Equal(61212595322, samples[$"gpu_process_memory_used_bytes{{gpu=\"1\",pid=\"40002\",uuid=\"{Uuid(1)}\"}}"]);
        Assert.Equal(0.8, samples[$"gpu_process_utilization_ratio{{gpu=\"1\",pid=\"40002\",uuid=\"{Uuid(1)}\"}}"]);
        Assert.Equal(0.48, samples[$"gpu_process_memory_utilization_ratio{{gpu=\"1\",pid=\"40002\",uuid=\"{Uuid(1)}\"}}"]);

        // State set on the model.
        Assert.Equal(1, samples[$"gpu_clock_event_reason{{gpu=\"0\",reason=\"sw_power_cap\",uuid=\"{Uuid(0)}\"}}"]);
        Assert.Equal(1, samples[$"gpu_clock_event_reason{{gpu=\"0\",reason=\"hw_thermal_slowdown\",uuid=\"{Uuid(0)}\"}}"]);
        Assert.Equal(0, samples[$"gpu_clock_event_reason{{gpu=\"0\",reason=\"gpu_idle\",uuid=\"{Uuid(0)}\"}}"]);
        Assert.Equal(9, samples.Keys.Count(k => k.StartsWith("gpu_clock_event_reason{gpu=\"1\"", StringComparison.Ordinal)));
        Assert.Equal(89, samples[$"gpu_temperature_slowdown_threshold_celsius{{{Gpu(0)}}}"]);
        Assert.Equal(95, samples[$"gpu_temperature_shutdown_threshold_celsius{{{Gpu(0)}}}"]);
        Assert.Equal(1, samples[$"gpu_ecc_mode_enabled{{{Gpu(0)}}}"]);
        Assert.Equal(0, samples[$"gpu_ecc_mode_enabled{{{Gpu(1)}}}"]);
        Assert.Equal(1, samples[$"gpu_ecc_mode_pending_enabled{{{Gpu(1)}}}"]);
        Assert.Equal(2, samples[$"gpu_ecc_errors_total{{counter=\"volatile\",error=\"corrected\",{Gpu(1)}}}"]);
        Assert.Equal(112, samples[$"gpu_ecc_errors_total{{counter=\"aggregate\",error=\"uncorrected\",{Gpu(1)}}}"]);
        Assert.Equal(0, samples[$"gpu_ecc_errors_total{{counter=\"volatile\",error=\"corrected\",{Gpu(0)}}}"]);
        Assert.Equal(0, samples[$"gpu_recovery_action{{{Gpu(0)}}}"]);
        Assert.Equal(1, samples[$"gpu_recovery_action{{{Gpu(1)}}}"]);
        Assert.Equal(3, samples[$"gpu_remapped_rows{{error=\"correctable\",{Gpu(0)}}}"]);
        Assert.Equal(1, samples[$"gpu_remapped_rows{{error=\"uncorrectable\",{Gpu(0)}}}"]);
        Assert.Equal(1, samples[$"gpu_remapped_rows_pending{{{Gpu(0)}}}"]);
        Assert.Equal(0, samples[$"gpu_remapped_rows_failure{{{Gpu(0)}}}"]);
        Assert.Equal(0, samples[$"gpu_remapped_rows_pending{{{Gpu(1)}}}"]);
        Assert.Equal(4, samples[$"gpu_pcie_link_generation{{{Gpu(0)}}}"]);
        Assert.Equal(8, samples[$"gpu_pcie_link_width{{{Gpu(0)}}}"]);
        Assert.Equal(5, samples[$"gpu_pcie_link_generation{{{Gpu(1)}}}"]);
        Assert.Equal(5, samples[$"gpu_pcie_link_max_generation{{{Gpu(0)}}}"]);
        Assert.Equal(16, samples[$"gpu_pcie_link_max_width{{{Gpu(0)}}}"]);
        Assert.Equal(7, samples[$"gpu_pcie_replay_errors_total{{{Gpu(0)}}}"]);
        Assert.Equal(0, samples[$"gpu_encoder_utilization_ratio{{{Gpu(0)}}}"]);
        Assert.Equal(0, samples[$"gpu_decoder_utilization_ratio{{{Gpu(0)}}}"]);

        // NOT_SUPPORTED (an H100 has no fans, no NVLink on PCIe), or off by default: left out, not 0.
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_fan_speed_ratio", StringComparison.Ordinal));
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_pcie_throughput_bytes_per_second", StringComparison.Ordinal));
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_nvlink", StringComparison.Ordinal));
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("DCGM_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Update_XidEvent_PreSeededCounterRises()
    {
        var nvml = Steady(2);
        var harness = Harness(nvml);
        var before = PromSamples.Parse(harness.Scrape());
        Assert.Equal(2 * XidCatalog.KnownCodes.Count, before.Keys.Count(k => k.StartsWith("gpu_xid_errors_total{", StringComparison.Ordinal)));
        Assert.Equal(0, before[$"gpu_xid_errors_total{{{Gpu(1)},xid=\"79\"}}"]);

        nvml.RaiseXid(1, 79);
        nvml.RaiseXid(1, 79);
        nvml.RaiseXid(0, 13);

        // The listener is a thread of its own blocked in the event wait, so the test waits for it on the wall clock.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        Dictionary<string, double> after;
        do
        {
            await Task.Delay(20);
            after = PromSamples.Parse(harness.Scrape());
        }
        while (after.GetValueOrDefault($"gpu_xid_errors_total{{{Gpu(0)},xid=\"13\"}}") < 1 && DateTime.UtcNow < deadline);

        Assert.Equal(2, after[$"gpu_xid_errors_total{{{Gpu(1)},xid=\"79\"}}"]);
        Assert.Equal(1, after[$"gpu_xid_errors_total{{{Gpu(0)},xid=\"13\"}}"]);
        Assert.Equal(0, after[$"gpu_xid_errors_total{{{Gpu(0)},xid=\"79\"}}"]);
        Assert.Contains($"gpu_last_xid_timestamp_seconds{{{Gpu(1)}}}", after.Keys);
        Assert.DoesNotContain($"gpu_last_xid_timestamp_seconds{{{Gpu(0)}}}", before.Keys);
    }

    [Fact]
    public void Update_StaticFields_ReadAtSlowCadenceButKept()
    {
        var nvml = Steady(1);
        var harness = Harness(nvml);

        harness.Update();
        harness.Update();
        var samples = PromSamples.Parse(harness.Scrape());

        // Four clocks, read once at identification.
        Assert.Equal(4, nvml.Calls(nameof(INvml.MaxClock)));
        Assert.Equal(1980e6, samples[$"gpu_clock_max_hertz{{clock=\"graphics\",{Gpu(0)}}}"]);
    }

    [Fact]
    public void Update_NotSupported_IsAskedOnceAndLeftOut()
    {
        var nvml = Steady(2);
        foreach (var gpu in nvml.Gpus)
        {
            gpu.Results[nameof(INvml.Temperature)] = NvmlReturn.NotSupported;
        }

        var harness = Harness(nvml);

        harness.Update();
        harness.Update();
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(2, nvml.Calls(nameof(INvml.Temperature)));
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_temperature_celsius", StringComparison.Ordinal));
        Assert.Equal(1, samples[$"gpu_up{{{Gpu(0)}}}"]);
        Assert.Equal(322, samples[$"gpu_power_watts{{{Gpu(0)}}}"]);
    }

    [Fact]
    public void Update_LostGpu_OnlyThatGpuIsDown()
    {
        var nvml = Steady(2);
        nvml.Gpus[1].Lost = true;
        var samples = PromSamples.Parse(Harness(nvml).Scrape());

        Assert.Equal(0, samples[$"gpu_up{{{Gpu(1)}}}"]);
        Assert.DoesNotContain($"gpu_power_watts{{{Gpu(1)}}}", samples.Keys);
        Assert.Equal(1, samples[$"gpu_up{{{Gpu(0)}}}"]);
        Assert.Equal(322, samples[$"gpu_power_watts{{{Gpu(0)}}}"]);
    }

    [Fact]
    public void Update_NoDriver_ReportsNvmlDownRetriesLater()
    {
        var nvml = Steady(2);
        nvml.InitProblem = "cannot load libnvidia-ml.so.1";
        var harness = Harness(nvml);

        var samples = PromSamples.Parse(harness.Scrape());
        harness.Update();

        Assert.Equal(0, samples["gpu_nvml_up"]);
        Assert.Single(samples);
        Assert.Equal(1, nvml.Calls(nameof(INvml.TryInitialize)));
    }

    [Fact]
    public void Energy_BetweenSlowReads_AdvancesByThePowerIntegralAndNeverGoesBack()
    {
        // GPU 0 draws 322 W and its counter reads 1000.5 J; energy is read every 5 s, power every second.
        var time = TestClock.Create();
        var nvml = Steady(1, time);
        nvml.AdjustEnergy(0, 1000.5);
        var harness = Harness(nvml, new Dictionary<string, string?> { ["slow-interval"] = "5s" }, time);
        var exported = new List<double>();
        for (var second = 0; second <= 7; second++)
        {
            if (second == 5)
            {
                // The real counter falls 50 J behind the integral (2610.5 J at t = 5): the counter takes the real one.
                nvml.AdjustEnergy(0, -50);
            }

            exported.Add(PromSamples.Parse(harness.Scrape())[$"gpu_energy_joules_total{{{Gpu(0)}}}"]);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal([1000.5, 1322.5, 1644.5, 1966.5, 2288.5, 2560.5, 2882.5, 3204.5], exported);
    }

    [Fact]
    public void Energy_SlowIntervalOfOneTick_ReadEveryTickThoughTicksJitter()
    {
        // Energy read every second, a tick every second, but one tick 80 ms late and the next on time: the on-time
        // tick is 0.92 s after the late one and must still read the counter. The counter is held still against the
        // 322 W the GPU reports, so a tick that integrated power instead of reading it would move the energy on.
        var time = TestClock.Create();
        var nvml = Steady(1, time);
        nvml.AdjustEnergy(0, 1000.5);
        var harness = Harness(nvml, new Dictionary<string, string?> { ["slow-interval"] = "1s" }, time);
        var exported = new List<double>();
        foreach (var step in new[] { 1000, 1080, 920, 1000 })
        {
            exported.Add(PromSamples.Parse(harness.Scrape())[$"gpu_energy_joules_total{{{Gpu(0)}}}"]);
            time.Advance(TimeSpan.FromMilliseconds(step));
            nvml.AdjustEnergy(0, -322 * step / 1000.0);
        }

        exported.Add(PromSamples.Parse(harness.Scrape())[$"gpu_energy_joules_total{{{Gpu(0)}}}"]);
        Assert.Equal([1000.5, 1000.5, 1000.5, 1000.5, 1000.5], exported);
    }

    [Fact]
    public void Update_HungDevice_OnlyThatGpuStallsAndRecovers()
    {
        using var hang = new ManualResetEventSlim(false);
        var nvml = Steady(2);
        nvml.Gpus[1].Hang = (nameof(INvml.Utilization), hang);
        var harness = Harness(nvml, new Dictionary<string, string?> { ["device-timeout"] = "200ms" });

        var first = PromSamples.Parse(harness.Scrape());
        var second = PromSamples.Parse(harness.Scrape());

        Assert.Equal(1, first[$"gpu_up{{{Gpu(0)}}}"]);
        Assert.Equal(322, first[$"gpu_power_watts{{{Gpu(0)}}}"]);
        Assert.Equal(0, first[$"gpu_up{{{Gpu(1)}}}"]);
        Assert.Equal(1, first[$"gpu_sampling_stalled{{{Gpu(1)}}}"]);
        Assert.DoesNotContain($"gpu_power_watts{{{Gpu(1)}}}", first.Keys);
        Assert.Equal(1, second[$"gpu_sampling_stalled{{{Gpu(1)}}}"]);
        Assert.Equal(1, second["gpu_nvml_up"]);

        // GPU 1's stuck tick is not queued again: GPU 0 was asked twice, GPU 1 once.
        Assert.Equal(3, nvml.Calls(nameof(INvml.Utilization)));

        // The stuck call returns on a sampler thread; the test waits for it on the wall clock.
        nvml.Gpus[1].Hang = null;
        hang.Set();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        Dictionary<string, double> after;
        do
        {
            Thread.Sleep(20);
            after = PromSamples.Parse(harness.Scrape());
        }
        while (after[$"gpu_up{{{Gpu(1)}}}"] == 0 && DateTime.UtcNow < deadline);

        Assert.Equal(0, after[$"gpu_sampling_stalled{{{Gpu(1)}}}"]);
        Assert.Equal(574, after[$"gpu_power_watts{{{Gpu(1)}}}"]);
    }

    [Fact]
    public void Update_SessionLost_ShutsDownAndReinitializesWithBackoff()
    {
        var time = TestClock.Create();
        var nvml = Steady(2, time);
        var harness = Harness(nvml, time: time);
        Assert.Equal(1, PromSamples.Parse(harness.Scrape())["gpu_nvml_up"]);

        nvml.SessionResult = NvmlReturn.LibRmVersionMismatch;
        var lost = PromSamples.Parse(harness.Scrape());
        harness.Update();

        Assert.Equal(0, lost["gpu_nvml_up"]);
        Assert.Equal(1, nvml.Calls(nameof(INvml.Shutdown)));
        Assert.Equal(1, nvml.Calls(nameof(INvml.TryInitialize)));

        // 1 s later: NVML initializes but counting devices still fails, so it shuts down again and waits 2 s.
        time.Advance(TimeSpan.FromSeconds(1.1));
        harness.Update();
        Assert.Equal(2, nvml.Calls(nameof(INvml.TryInitialize)));
        Assert.Equal(2, nvml.Calls(nameof(INvml.Shutdown)));

        nvml.SessionResult = NvmlReturn.Success;
        time.Advance(TimeSpan.FromSeconds(1.1));
        harness.Update();
        Assert.Equal(2, nvml.Calls(nameof(INvml.TryInitialize)));

        time.Advance(TimeSpan.FromSeconds(1));
        var back = PromSamples.Parse(harness.Scrape());
        Assert.Equal(3, nvml.Calls(nameof(INvml.TryInitialize)));
        Assert.Equal(1, back["gpu_nvml_up"]);
        Assert.Equal(574, back[$"gpu_power_watts{{{Gpu(1)}}}"]);
    }

    [Fact]
    public void CompatDcgm_DefaultCountersInDcgmUnitsAndLabels()
    {
        var nvml = Steady(2);
        nvml.AdjustEnergy(1, 2000.5);
        var harness = Harness(nvml, new Dictionary<string, string?> { ["compat-dcgm"] = "true" });
        var samples = PromSamples.Parse(harness.Scrape());
        var labels = $"DCGM_FI_DRIVER_VERSION=\"580.159.04\",Hostname=\"{Environment.MachineName}\",UUID=\"{Uuid(1)}\",container=\"\",device=\"nvidia1\",gpu=\"1\",hpc_job=\"\",modelName=\"{Model}\",namespace=\"\",pci_bus_id=\"00000000:1A:00.0\",pod=\"\"";

        Assert.Equal(80, samples[$"DCGM_FI_DEV_GPU_UTIL{{{labels}}}"]);
        Assert.Equal(48, samples[$"DCGM_FI_DEV_MEM_COPY_UTIL{{{labels}}}"]);
        Assert.Equal(61212595322.0 / (1 << 20), samples[$"DCGM_FI_DEV_FB_USED{{{labels}}}"], 9);
        Assert.Equal(23804898182.0 / (1 << 20), samples[$"DCGM_FI_DEV_FB_FREE{{{labels}}}"], 9);
        Assert.Equal(480, samples[$"DCGM_FI_DEV_FB_RESERVED{{{labels}}}"], 9);
        Assert.Equal(574, samples[$"DCGM_FI_DEV_POWER_USAGE{{{labels}}}"]);
        Assert.Equal(2_000_500, samples[$"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{labels}}}"]);
        Assert.Equal(1653, samples[$"DCGM_FI_DEV_SM_CLOCK{{{labels}}}"]);
        Assert.Equal(2619, samples[$"DCGM_FI_DEV_MEM_CLOCK{{{labels}}}"]);
        Assert.Equal(67, samples[$"DCGM_FI_DEV_GPU_TEMP{{{labels}}}"]);
        Assert.Equal(64, samples[$"DCGM_FI_DEV_MEMORY_TEMP{{{labels}}}"]);
        Assert.Equal(0, samples[$"DCGM_FI_DEV_XID_ERRORS{{{labels.Replace("device=\"nvidia1\",", "device=\"nvidia1\",err_code=\"0\",err_msg=\"No XID error\",", StringComparison.Ordinal)}}}"]);
        Assert.Equal(2, samples.Keys.Count(k => k.StartsWith("DCGM_FI_DEV_GPU_TEMP{", StringComparison.Ordinal)));

        // No NVML source, or GPM off (the default): left out, not zero.
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", StringComparison.Ordinal));
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("DCGM_FI_DEV_VGPU_LICENSE_STATUS", StringComparison.Ordinal));
    }

    [Fact]
    public void Update_CallThatThrows_OnlyThatGpuDownLoggedOnce()
    {
        // A binding bug or a symbol missing from an old driver must not end the process from a sampler thread.
        using var logs = new CollectingLoggerFactory();
        var nvml = Steady(2);
        nvml.Gpus[1].Throws = nameof(INvml.Utilization);
        var harness = Harness(nvml, logger: logs.CreateLogger("gpu"));

        harness.Update();
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(0, samples[$"gpu_up{{{Gpu(1)}}}"]);
        Assert.DoesNotContain($"gpu_power_watts{{{Gpu(1)}}}", samples.Keys);
        Assert.Equal(1, samples[$"gpu_up{{{Gpu(0)}}}"]);
        Assert.Equal(1, samples["gpu_nvml_up"]);
        Assert.Single(logs.Entries, e => e.Id.Id == 3008);
    }

    [Fact]
    public void Gpm_FirstIntervalNeedsTwoSamplesThenValuesHoldUntilTheNext()
    {
        // GPU 0 has GPM at 40 % load, SM occupancy failing on its own; GPU 1 is a pre-Hopper board.
        var time = TestClock.Create();
        var nvml = Steady(2, time);
        nvml.Gpus[0].GpmFailures[NvmlGpm.SmOccupancy] = true;
        nvml.Gpus[1].GpmSupported = false;
        var harness = Harness(nvml, new Dictionary<string, string?> { ["gpm-interval"] = "10s", ["compat-dcgm"] = "true" }, time);
        const double MiB = 1 << 20;

        var first = PromSamples.Parse(harness.Scrape());
        time.Advance(TimeSpan.FromSeconds(5));
        var between = PromSamples.Parse(harness.Scrape());
        time.Advance(TimeSpan.FromSeconds(5));
        var second = PromSamples.Parse(harness.Scrape());
        time.Advance(TimeSpan.FromSeconds(1));
        var held = PromSamples.Parse(harness.Scrape());

        Assert.DoesNotContain(first.Keys, k => k.StartsWith("gpu_tensor_active_ratio", StringComparison.Ordinal));
        Assert.DoesNotContain(between.Keys, k => k.StartsWith("gpu_tensor_active_ratio", StringComparison.Ordinal));
        Assert.Equal(2, nvml.Calls(nameof(INvml.GpmSample)));
        foreach (var samples in new[] { second, held })
        {
            // 0.4 × the H100 profile: graphics 100, SM 96.6, tensor 93.8, DRAM 24.1, fp32 2 %; PCIe 5.5 / 16.2 MiB/s.
            Assert.Equal(0.4, samples[$"gpu_graphics_engine_active_ratio{{{Gpu(0)}}}"], 12);
            Assert.Equal(0.3864, samples[$"gpu_sm_active_ratio{{{Gpu(0)}}}"], 12);
            Assert.Equal(0.3752, samples[$"gpu_tensor_active_ratio{{{Gpu(0)}}}"], 12);
            Assert.Equal(0.0964, samples[$"gpu_dram_active_ratio{{{Gpu(0)}}}"], 12);
            Assert.Equal(0, samples[$"gpu_pipe_active_ratio{{gpu=\"0\",pipe=\"fp64\",uuid=\"{Uuid(0)}\"}}"], 12);
            Assert.Equal(0.008, samples[$"gpu_pipe_active_ratio{{gpu=\"0\",pipe=\"fp32\",uuid=\"{Uuid(0)}\"}}"], 12);
            Assert.Equal(0, samples[$"gpu_pipe_active_ratio{{gpu=\"0\",pipe=\"fp16\",uuid=\"{Uuid(0)}\"}}"], 12);
            Assert.Equal(0, samples[$"gpu_pipe_active_ratio{{gpu=\"0\",pipe=\"int\",uuid=\"{Uuid(0)}\"}}"], 12);
            Assert.Equal(2.2 * MiB, samples[$"gpu_pcie_gpm_bytes_per_second{{direction=\"tx\",{Gpu(0)}}}"], 6);
            Assert.Equal(6.48 * MiB, samples[$"gpu_pcie_gpm_bytes_per_second{{direction=\"rx\",{Gpu(0)}}}"], 6);

            // Its own return code failed, or NVLink is not supported: left out, not 0.
            Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_sm_occupancy_ratio", StringComparison.Ordinal));
            Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_nvlink_gpm_bytes_per_second", StringComparison.Ordinal));

            // The pre-Hopper GPU says so and has no GPM series.
            Assert.Contains(samples.Keys, k => k.StartsWith("gpu_info{", StringComparison.Ordinal) && k.Contains("gpm=\"unsupported\",gpu=\"1\"", StringComparison.Ordinal));
            Assert.Contains(samples.Keys, k => k.StartsWith("gpu_info{", StringComparison.Ordinal) && k.Contains("gpm=\"supported\",gpu=\"0\"", StringComparison.Ordinal));
            Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_tensor_active_ratio{gpu=\"1\"", StringComparison.Ordinal));

            // dcgm-exporter's profiling fields, as 0–1 ratios and bytes/s.
            Assert.Equal(0.3752, samples.Single(s => s.Key.StartsWith("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{", StringComparison.Ordinal)).Value, 12);
            Assert.Equal(0.4, samples.Single(s => s.Key.StartsWith("DCGM_FI_PROF_GR_ENGINE_ACTIVE{", StringComparison.Ordinal)).Value, 12);
            Assert.Equal(2.2 * MiB, samples.Single(s => s.Key.StartsWith("DCGM_FI_PROF_PCIE_TX_BYTES{", StringComparison.Ordinal)).Value, 6);
        }

        Assert.Equal(2, nvml.Calls(nameof(INvml.GpmSample)));

        // Active seconds integrate the ratios over each interval's wall time: 10 s at 37.52 % tensor and 38.64 % SM, twice.
        Assert.Equal(3.752, second[$"gpu_tensor_active_seconds_total{{{Gpu(0)}}}"], 9);
        Assert.Equal(3.864, second[$"gpu_sm_active_seconds_total{{{Gpu(0)}}}"], 9);
        Assert.Equal(3.752, held[$"gpu_tensor_active_seconds_total{{{Gpu(0)}}}"], 9);
        time.Advance(TimeSpan.FromSeconds(9));
        var third = PromSamples.Parse(harness.Scrape());
        Assert.Equal(7.504, third[$"gpu_tensor_active_seconds_total{{{Gpu(0)}}}"], 9);
        Assert.Equal(7.728, third[$"gpu_sm_active_seconds_total{{{Gpu(0)}}}"], 9);
        Assert.DoesNotContain(third.Keys, k => k.StartsWith("gpu_tensor_active_seconds_total{gpu=\"1\"", StringComparison.Ordinal));
    }

    [Fact]
    public void CompatDcgm_JobsOnTheGpu_OneSeriesPerJobWithItsLabels()
    {
        // As dcgm-exporter: a GPU shared by two Slurm jobs is duplicated with hpc_job; a pod gets pod/namespace/container.
        var services = new AgentServices();
        services.Jobs.Holders = new Dictionary<string, JobIdentity[]>(StringComparer.Ordinal)
        {
            [Uuid(1)] = [new() { JobId = "1234" }, new() { JobId = "99" }],
            [Uuid(0)] = [new() { JobId = "ml/train-0", Scheduler = "kubernetes", Namespace = "ml", Pod = "train-0", Containers = ["trainer"] }],
        };
        var nvml = Steady(2);
        var harness = Harness(nvml, new Dictionary<string, string?> { ["compat-dcgm"] = "true" }, services: services);

        var samples = PromSamples.Parse(harness.Scrape());
        var util = samples.Where(s => s.Key.StartsWith("DCGM_FI_DEV_GPU_UTIL{", StringComparison.Ordinal)).ToList();

        Assert.Equal(3, util.Count);
        Assert.Equal(2, util.Count(s => s.Key.Contains("gpu=\"1\"", StringComparison.Ordinal) && (s.Key.Contains("hpc_job=\"1234\"", StringComparison.Ordinal) || s.Key.Contains("hpc_job=\"99\"", StringComparison.Ordinal))));
        Assert.All(util.Where(s => s.Key.Contains("gpu=\"1\"", StringComparison.Ordinal)), s => Assert.Equal(80, s.Value));
        Assert.Single(util, s => s.Key.Contains("gpu=\"0\"", StringComparison.Ordinal) && s.Key.Contains("container=\"trainer\"", StringComparison.Ordinal)
            && s.Key.Contains("namespace=\"ml\"", StringComparison.Ordinal) && s.Key.Contains("pod=\"train-0\"", StringComparison.Ordinal) && s.Key.Contains("hpc_job=\"\"", StringComparison.Ordinal));

        // The native series carry no job labels.
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_", StringComparison.Ordinal) && k.Contains("job", StringComparison.Ordinal));
    }

    [Fact]
    public void Events_Transitions_OneEventEachWithItsFields()
    {
        using var logs = new CollectingLoggerFactory();
        var nvml = Steady(2);
        foreach (var gpu in nvml.Gpus)
        {
            gpu.ClockEventReasons = 0x44;
            gpu.RemappedRows = (0, 0, 1, 0);
        }

        nvml.Gpus[0].EccCorrected = 1;
        nvml.Gpus[1].RecoveryAction = 1;
        var harness = Harness(nvml, logger: logs.CreateLogger("gpu"));
        int Count(int id) => logs.Entries.Count(e => e.Id.Id == id);

        // First sample: states that already need attention are reported (thermal slowdown, pending remap on both GPUs,
        // recovery action 1 on GPU 1); the software power cap is normal and never an event; ECC sets its baseline.
        harness.Update();
        Assert.Equal(2, Count(3009));
        Assert.All(logs.Entries.Where(e => e.Id.Id == 3009), e => Assert.Contains("hw_thermal_slowdown", e.Message, StringComparison.Ordinal));
        Assert.Equal(2, Count(3013));
        Assert.Equal(1, Count(3015));
        Assert.Contains($"GPU 1 ({Uuid(1)}): the driver's recovery action is now 1 (reset the GPU)", logs.Entries.Single(e => e.Id.Id == 3015).Message, StringComparison.Ordinal);
        Assert.Equal(0, Count(3011));

        // Then: the thermal slowdown ends, 3 corrected ECC errors appear, remapping fails.
        foreach (var gpu in nvml.Gpus)
        {
            gpu.ClockEventReasons = 0x4;
            gpu.EccCorrected += 3;
            gpu.RemappedRows = (0, 0, 1, 1);
        }

        harness.Update();
        harness.Update();

        Assert.Equal(2, Count(3010));
        Assert.Equal(2, Count(3011));
        Assert.Contains($"GPU 0 ({Uuid(0)}): 3 new corrected ECC errors (4 since the driver loaded)", logs.Entries.First(e => e.Id.Id == 3011).Message, StringComparison.Ordinal);
        Assert.Equal(2, Count(3014));
        Assert.Equal(2, Count(3009));
        Assert.Equal(2, Count(3013));
        Assert.Equal(1, Count(3015));
    }

    [Fact]
    public void Update_NotSupportedField_IsDroppedFromLaterBatches()
    {
        var nvml = Steady(1);
        var harness = Harness(nvml);

        harness.Update();
        harness.Update();

        // Memory temperature and recovery action stay in the batch; field 91 (NVLink count, not supported) was asked once.
        Assert.Equal(2, nvml.FieldRequests(NvmlFields.MemoryTemperature));
        Assert.Equal(2, nvml.FieldRequests(NvmlFields.RecoveryAction));
        Assert.Equal(1, nvml.FieldRequests(NvmlFields.NvLinkCount));
    }

    private static CollectorHarness Harness(SimulatedNvml nvml, IDictionary<string, string?>? settings = null, TimeProvider? time = null, ILogger? logger = null, AgentServices? services = null) =>
        new(GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default, settings, time: time, logger: logger, services: services);

    /// <summary>
    /// Simulated GPUs held at fixed loads: GPU i at 0.4 × (i + 1), so GPU 0 at 40 % and GPU 1 at 80 %. Every value
    /// the tests expect follows from the model in <see cref="SimulatedNvml"/>'s remarks, worked out by hand.
    /// </summary>
    private static SimulatedNvml Steady(int count, TimeProvider? time = null)
    {
        var nvml = new SimulatedNvml(count, time ?? TimeProvider.System);
        foreach (var gpu in nvml.Gpus)
        {
            gpu.Load = 0.4 * (gpu.Index + 1);
        }

        return nvml;
    }

    /// <summary>The gpu and uuid labels of simulated GPU <paramref name="index"/>, in the exposition's order.</summary>
    private static string Gpu(int index) => $"gpu=\"{index}\",uuid=\"{Uuid(index)}\"";

    private static string Uuid(int index) => $"GPU-5131d000-0000-4000-8000-{index:D12}";
}
