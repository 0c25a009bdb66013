using Monitor.Agent.Collectors.Gpu;
using Monitor.Agent.Configuration;
using Monitor.Agent.Gpu;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Agent.Tests.Collectors;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Gpu;

public sealed class GpuCollectorTests
{
    [Fact]
    public void Update_TwoGpus_ExportsBaseUnits()
    {
        var nvml = new ManagedNvml(2);
        var samples = PromSamples.Parse(Harness(nvml).Scrape());

        Assert.Equal(1, samples["gpu_nvml_up"]);
        Assert.Equal(1, samples["gpu_info{compute_capability=\"9.0\",driver_version=\"580.1\",gpm=\"unsupported\",gpu=\"1\",name=\"Test GPU\",pci_bus_id=\"00000000:01:00.0\",serial=\"S1\",uuid=\"GPU-1\",vbios_version=\"96.0\"}"]);
        Assert.Equal(61, samples["gpu_memory_temperature_celsius{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(1, samples["gpu_ecc_mode_enabled{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(0, samples["gpu_ecc_mode_enabled{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(1, samples["gpu_ecc_mode_pending_enabled{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(1, samples["gpu_recovery_action{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(700.002, samples["gpu_power_limit_watts{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(5, samples["gpu_pcie_link_max_generation{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(16, samples["gpu_pcie_link_max_width{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(2 << 20, samples["gpu_process_memory_used_bytes{gpu=\"1\",pid=\"101\",uuid=\"GPU-1\"}"]);
        Assert.Equal(0.5, samples["gpu_process_utilization_ratio{gpu=\"1\",pid=\"101\",uuid=\"GPU-1\"}"]);
        Assert.Equal(0.25, samples["gpu_process_memory_utilization_ratio{gpu=\"1\",pid=\"101\",uuid=\"GPU-1\"}"]);
        Assert.Equal(0, samples["gpu_sampling_stalled{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_pcie_throughput_bytes_per_second", StringComparison.Ordinal));
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_nvlink", StringComparison.Ordinal));
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("DCGM_", StringComparison.Ordinal));
        Assert.Equal(0.2, samples["gpu_utilization_ratio{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(0.1, samples["gpu_memory_utilization_ratio{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(2.0 * (1 << 30), samples["gpu_memory_used_bytes{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(80e9, samples["gpu_memory_total_bytes{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(80e9 - 500e6 - (1 << 30), samples["gpu_memory_free_bytes{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(500e6, samples["gpu_memory_reserved_bytes{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(41, samples["gpu_temperature_celsius{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(101.5, samples["gpu_power_watts{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(2000.5, samples["gpu_energy_joules_total{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(1, samples["gpu_up{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(102e6, samples["gpu_clock_hertz{clock=\"sm\",gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(302e6, samples["gpu_clock_hertz{clock=\"video\",gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(2002e6, samples["gpu_clock_max_hertz{clock=\"memory\",gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(2, samples["gpu_performance_state{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(1, samples["gpu_clock_event_reason{gpu=\"0\",reason=\"sw_power_cap\",uuid=\"GPU-0\"}"]);
        Assert.Equal(1, samples["gpu_clock_event_reason{gpu=\"0\",reason=\"hw_thermal_slowdown\",uuid=\"GPU-0\"}"]);
        Assert.Equal(0, samples["gpu_clock_event_reason{gpu=\"0\",reason=\"gpu_idle\",uuid=\"GPU-0\"}"]);
        Assert.Equal(9, samples.Keys.Count(k => k.StartsWith("gpu_clock_event_reason{gpu=\"1\"", StringComparison.Ordinal)));
        Assert.Equal(89, samples["gpu_temperature_slowdown_threshold_celsius{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(95, samples["gpu_temperature_shutdown_threshold_celsius{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(2, samples["gpu_ecc_errors_total{counter=\"volatile\",error=\"corrected\",gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(112, samples["gpu_ecc_errors_total{counter=\"aggregate\",error=\"uncorrected\",gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(3, samples["gpu_remapped_rows{error=\"correctable\",gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(1, samples["gpu_remapped_rows{error=\"uncorrectable\",gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(1, samples["gpu_remapped_rows_pending{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(0, samples["gpu_remapped_rows_failure{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(4, samples["gpu_pcie_link_generation{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(8, samples["gpu_pcie_link_width{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(7, samples["gpu_pcie_replay_errors_total{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(0.2, samples["gpu_encoder_utilization_ratio{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(0.3, samples["gpu_decoder_utilization_ratio{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(1.1, samples["gpu_fan_speed_ratio{gpu=\"0\",uuid=\"GPU-0\"}"]);
    }

    [Fact]
    public async Task Update_XidEvent_PreSeededCounterRises()
    {
        var nvml = new ManagedNvml(2);
        var harness = Harness(nvml);
        var before = PromSamples.Parse(harness.Scrape());
        Assert.Equal(2 * Monitor.Agent.Gpu.Xid.XidCatalog.KnownCodes.Count, before.Keys.Count(k => k.StartsWith("gpu_xid_errors_total{", StringComparison.Ordinal)));
        Assert.Equal(0, before["gpu_xid_errors_total{gpu=\"1\",uuid=\"GPU-1\",xid=\"79\"}"]);

        nvml.Events.Enqueue(new NvmlEventData { Device = 2, EventType = 0x8, EventData = 79 });
        nvml.Events.Enqueue(new NvmlEventData { Device = 2, EventType = 0x8, EventData = 79 });
        nvml.Events.Enqueue(new NvmlEventData { Device = 1, EventType = 0x8, EventData = 13 });
        var deadline = DateTime.UtcNow.AddSeconds(5);
        Dictionary<string, double> after;
        do
        {
            await Task.Delay(20);
            after = PromSamples.Parse(harness.Scrape());
        }
        while (after.GetValueOrDefault("gpu_xid_errors_total{gpu=\"0\",uuid=\"GPU-0\",xid=\"13\"}") < 1 && DateTime.UtcNow < deadline);

        Assert.Equal(2, after["gpu_xid_errors_total{gpu=\"1\",uuid=\"GPU-1\",xid=\"79\"}"]);
        Assert.Equal(1, after["gpu_xid_errors_total{gpu=\"0\",uuid=\"GPU-0\",xid=\"13\"}"]);
        Assert.Equal(0, after["gpu_xid_errors_total{gpu=\"0\",uuid=\"GPU-0\",xid=\"79\"}"]);
        Assert.Contains("gpu_last_xid_timestamp_seconds{gpu=\"1\",uuid=\"GPU-1\"}", after.Keys);
    }

    [Fact]
    public void Update_StaticFields_ReadAtSlowCadenceButKept()
    {
        var nvml = new ManagedNvml(1);
        var harness = Harness(nvml);

        harness.Update();
        harness.Update();
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(4, nvml.MaxClockCalls);
        Assert.Equal(2000e6, samples["gpu_clock_max_hertz{clock=\"graphics\",gpu=\"0\",uuid=\"GPU-0\"}"]);
    }

    [Fact]
    public void Update_NotSupported_IsAskedOnceAndLeftOut()
    {
        var nvml = new ManagedNvml(2) { TemperatureResult = NvmlReturn.NotSupported };
        var harness = Harness(nvml);

        harness.Update();
        harness.Update();
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(2, nvml.TemperatureCalls);
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_temperature_celsius", StringComparison.Ordinal));
        Assert.Equal(1, samples["gpu_up{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Contains("gpu_power_watts{gpu=\"0\",uuid=\"GPU-0\"}", samples.Keys);
    }

    [Fact]
    public void Update_LostGpu_OnlyThatGpuIsDown()
    {
        var nvml = new ManagedNvml(2) { LostDevice = 1 };
        var samples = PromSamples.Parse(Harness(nvml).Scrape());

        Assert.Equal(0, samples["gpu_up{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.DoesNotContain("gpu_power_watts{gpu=\"1\",uuid=\"GPU-1\"}", samples.Keys);
        Assert.Equal(1, samples["gpu_up{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(100, samples["gpu_power_watts{gpu=\"0\",uuid=\"GPU-0\"}"]);
    }

    [Fact]
    public void Update_NoDriver_ReportsNvmlDownRetriesLater()
    {
        var nvml = new ManagedNvml(2) { InitProblem = "cannot load libnvidia-ml.so.1" };
        var harness = Harness(nvml);

        var samples = PromSamples.Parse(harness.Scrape());
        harness.Update();

        Assert.Equal(0, samples["gpu_nvml_up"]);
        Assert.Single(samples);
        Assert.Equal(1, nvml.InitCalls);
    }

    [Fact]
    public void Energy_BetweenSlowReads_AdvancesByThePowerIntegralAndNeverGoesBack()
    {
        // GPU 0 draws 100 W and its counter reads 1000.5 J; energy is read every 5 s, power every second.
        var time = TestClock.Create();
        var nvml = new ManagedNvml(1);
        var harness = new CollectorHarness(
            GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default, new Dictionary<string, string?> { ["slow-interval"] = "5s" }, time: time);
        var exported = new List<double>();
        for (var second = 0; second <= 7; second++)
        {
            if (second == 5)
            {
                // The real counter is 50 J behind the integral (1400.5 J at t = 4): the counter holds, then follows the real one.
                nvml.EnergyMillijoules = 1_450_500;
            }

            exported.Add(PromSamples.Parse(harness.Scrape())["gpu_energy_joules_total{gpu=\"0\",uuid=\"GPU-0\"}"]);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal([1000.5, 1100.5, 1200.5, 1300.5, 1400.5, 1450.5, 1550.5, 1650.5], exported);
    }

    [Fact]
    public void Update_HungDevice_OnlyThatGpuStallsAndRecovers()
    {
        using var hang = new ManualResetEventSlim(false);
        var nvml = new ManagedNvml(2) { HangDevice = 1, Hang = hang };
        var harness = new CollectorHarness(
            GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default, new Dictionary<string, string?> { ["device-timeout"] = "200ms" });

        var first = PromSamples.Parse(harness.Scrape());
        var second = PromSamples.Parse(harness.Scrape());

        Assert.Equal(1, first["gpu_up{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(100, first["gpu_power_watts{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(0, first["gpu_up{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(1, first["gpu_sampling_stalled{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.DoesNotContain("gpu_power_watts{gpu=\"1\",uuid=\"GPU-1\"}", first.Keys);
        Assert.Equal(1, second["gpu_sampling_stalled{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(1, second["gpu_nvml_up"]);

        // GPU 1's stuck tick is not queued again: GPU 0 was asked twice, GPU 1 once.
        Assert.Equal(3, nvml.UtilizationCalls);

        hang.Set();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        Dictionary<string, double> after;
        do
        {
            Thread.Sleep(20);
            after = PromSamples.Parse(harness.Scrape());
        }
        while (after["gpu_up{gpu=\"1\",uuid=\"GPU-1\"}"] == 0 && DateTime.UtcNow < deadline);

        Assert.Equal(0, after["gpu_sampling_stalled{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.Equal(101.5, after["gpu_power_watts{gpu=\"1\",uuid=\"GPU-1\"}"]);
    }

    [Fact]
    public void Update_SessionLost_ShutsDownAndReinitializesWithBackoff()
    {
        var time = TestClock.Create();
        var nvml = new ManagedNvml(2);
        var harness = new CollectorHarness(GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default, time: time);
        Assert.Equal(1, PromSamples.Parse(harness.Scrape())["gpu_nvml_up"]);

        nvml.SessionResult = NvmlReturn.LibRmVersionMismatch;
        var lost = PromSamples.Parse(harness.Scrape());
        harness.Update();

        Assert.Equal(0, lost["gpu_nvml_up"]);
        Assert.Equal(1, nvml.ShutdownCalls);
        Assert.Equal(1, nvml.InitCalls);

        // 1 s later: NVML initializes but counting devices still fails, so it shuts down again and waits 2 s.
        time.Advance(TimeSpan.FromSeconds(1.1));
        harness.Update();
        Assert.Equal(2, nvml.InitCalls);
        Assert.Equal(2, nvml.ShutdownCalls);

        nvml.SessionResult = NvmlReturn.Success;
        time.Advance(TimeSpan.FromSeconds(1.1));
        harness.Update();
        Assert.Equal(2, nvml.InitCalls);

        time.Advance(TimeSpan.FromSeconds(1));
        var back = PromSamples.Parse(harness.Scrape());
        Assert.Equal(3, nvml.InitCalls);
        Assert.Equal(1, back["gpu_nvml_up"]);
        Assert.Equal(101.5, back["gpu_power_watts{gpu=\"1\",uuid=\"GPU-1\"}"]);
    }

    [Fact]
    public void CompatDcgm_DefaultCountersInDcgmUnitsAndLabels()
    {
        var nvml = new ManagedNvml(2);
        var harness = new CollectorHarness(
            GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default, new Dictionary<string, string?> { ["compat-dcgm"] = "true" });
        var samples = PromSamples.Parse(harness.Scrape());
        var labels = $"DCGM_FI_DRIVER_VERSION=\"580.1\",Hostname=\"{Environment.MachineName}\",UUID=\"GPU-1\",container=\"\",device=\"nvidia1\",gpu=\"1\",hpc_job=\"\",modelName=\"Test GPU\",namespace=\"\",pci_bus_id=\"00000000:01:00.0\",pod=\"\"";

        Assert.Equal(20, samples[$"DCGM_FI_DEV_GPU_UTIL{{{labels}}}"]);
        Assert.Equal(10, samples[$"DCGM_FI_DEV_MEM_COPY_UTIL{{{labels}}}"]);
        Assert.Equal(2048, samples[$"DCGM_FI_DEV_FB_USED{{{labels}}}"]);
        Assert.Equal((80e9 - 500e6 - (2.0 * (1 << 30))) / (1 << 20), samples[$"DCGM_FI_DEV_FB_FREE{{{labels}}}"], 9);
        Assert.Equal(500e6 / (1 << 20), samples[$"DCGM_FI_DEV_FB_RESERVED{{{labels}}}"], 9);
        Assert.Equal(101.5, samples[$"DCGM_FI_DEV_POWER_USAGE{{{labels}}}"]);
        Assert.Equal(2_000_500, samples[$"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{labels}}}"]);
        Assert.Equal(102, samples[$"DCGM_FI_DEV_SM_CLOCK{{{labels}}}"]);
        Assert.Equal(202, samples[$"DCGM_FI_DEV_MEM_CLOCK{{{labels}}}"]);
        Assert.Equal(41, samples[$"DCGM_FI_DEV_GPU_TEMP{{{labels}}}"]);
        Assert.Equal(61, samples[$"DCGM_FI_DEV_MEMORY_TEMP{{{labels}}}"]);
        Assert.Equal(0, samples[$"DCGM_FI_DEV_XID_ERRORS{{{labels.Replace("device=\"nvidia1\",", "device=\"nvidia1\",err_code=\"0\",err_msg=\"No XID error\",", StringComparison.Ordinal)}}}"]);
        Assert.Equal(2, samples.Keys.Count(k => k.StartsWith("DCGM_FI_DEV_GPU_TEMP{", StringComparison.Ordinal)));

        // No NVML source: left out, not zero.
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", StringComparison.Ordinal));
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("DCGM_FI_DEV_VGPU_LICENSE_STATUS", StringComparison.Ordinal));
    }

    [Fact]
    public void Update_CallThatThrows_OnlyThatGpuDownLoggedOnce()
    {
        // A binding bug or a symbol missing from an old driver must not end the process from a sampler thread.
        using var logs = new Monitor.Agent.Tests.Support.CollectingLoggerFactory();
        var nvml = new ManagedNvml(2) { ThrowOnDevice = 1 };
        var harness = new CollectorHarness(GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default, logger: logs.CreateLogger("gpu"));

        harness.Update();
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(0, samples["gpu_up{gpu=\"1\",uuid=\"GPU-1\"}"]);
        Assert.DoesNotContain("gpu_power_watts{gpu=\"1\",uuid=\"GPU-1\"}", samples.Keys);
        Assert.Equal(1, samples["gpu_up{gpu=\"0\",uuid=\"GPU-0\"}"]);
        Assert.Equal(1, samples["gpu_nvml_up"]);
        Assert.Single(logs.Entries, e => e.Id.Id == 3008);
    }

    [Fact]
    public void Gpm_FirstIntervalNeedsTwoSamplesThenValuesHoldUntilTheNext()
    {
        // GPU 0 has GPM (metric id m reads m × 5 %, SM occupancy fails on its own); GPU 1 is pre-Hopper.
        var time = TestClock.Create();
        var nvml = new ManagedNvml(2);
        var harness = new CollectorHarness(
            GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default,
            new Dictionary<string, string?> { ["gpm-interval"] = "10s", ["compat-dcgm"] = "true" }, time: time);
        const string Gpu0 = "gpu=\"0\",uuid=\"GPU-0\"";

        var first = PromSamples.Parse(harness.Scrape());
        time.Advance(TimeSpan.FromSeconds(5));
        var between = PromSamples.Parse(harness.Scrape());
        time.Advance(TimeSpan.FromSeconds(5));
        var second = PromSamples.Parse(harness.Scrape());
        time.Advance(TimeSpan.FromSeconds(1));
        var held = PromSamples.Parse(harness.Scrape());

        Assert.DoesNotContain(first.Keys, k => k.StartsWith("gpu_tensor_active_ratio", StringComparison.Ordinal));
        Assert.DoesNotContain(between.Keys, k => k.StartsWith("gpu_tensor_active_ratio", StringComparison.Ordinal));
        Assert.Equal(2, nvml.GpmSamplesTaken);
        foreach (var samples in new[] { second, held })
        {
            Assert.Equal(0.05, samples[$"gpu_graphics_engine_active_ratio{{{Gpu0}}}"], 12);
            Assert.Equal(0.10, samples[$"gpu_sm_active_ratio{{{Gpu0}}}"], 12);
            Assert.Equal(0.25, samples[$"gpu_tensor_active_ratio{{{Gpu0}}}"], 12);
            Assert.Equal(0.50, samples[$"gpu_dram_active_ratio{{{Gpu0}}}"], 12);
            Assert.Equal(0.55, samples[$"gpu_pipe_active_ratio{{gpu=\"0\",pipe=\"fp64\",uuid=\"GPU-0\"}}"], 12);
            Assert.Equal(0.60, samples[$"gpu_pipe_active_ratio{{gpu=\"0\",pipe=\"fp32\",uuid=\"GPU-0\"}}"], 12);
            Assert.Equal(0.65, samples[$"gpu_pipe_active_ratio{{gpu=\"0\",pipe=\"fp16\",uuid=\"GPU-0\"}}"], 12);
            Assert.Equal(0.20, samples[$"gpu_pipe_active_ratio{{gpu=\"0\",pipe=\"int\",uuid=\"GPU-0\"}}"], 12);
            Assert.Equal(100.0 * 1024 * 1024, samples[$"gpu_pcie_gpm_bytes_per_second{{direction=\"tx\",{Gpu0}}}"]);
            Assert.Equal(105.0 * 1024 * 1024, samples[$"gpu_pcie_gpm_bytes_per_second{{direction=\"rx\",{Gpu0}}}"]);
            Assert.Equal(305.0 * 1024 * 1024, samples[$"gpu_nvlink_gpm_bytes_per_second{{direction=\"tx\",{Gpu0}}}"]);
            Assert.Equal(300.0 * 1024 * 1024, samples[$"gpu_nvlink_gpm_bytes_per_second{{direction=\"rx\",{Gpu0}}}"]);

            // Its own return code failed: left out, not 0.
            Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_sm_occupancy_ratio", StringComparison.Ordinal));

            // The pre-Hopper GPU says so and has no GPM series.
            Assert.Contains(samples.Keys, k => k.StartsWith("gpu_info{", StringComparison.Ordinal) && k.Contains("gpm=\"unsupported\",gpu=\"1\"", StringComparison.Ordinal));
            Assert.Contains(samples.Keys, k => k.StartsWith("gpu_info{", StringComparison.Ordinal) && k.Contains("gpm=\"supported\",gpu=\"0\"", StringComparison.Ordinal));
            Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_tensor_active_ratio{gpu=\"1\"", StringComparison.Ordinal));

            // dcgm-exporter's profiling fields, as 0–1 ratios and bytes/s.
            Assert.Equal(0.25, samples.Single(s => s.Key.StartsWith("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{", StringComparison.Ordinal)).Value, 12);
            Assert.Equal(0.05, samples.Single(s => s.Key.StartsWith("DCGM_FI_PROF_GR_ENGINE_ACTIVE{", StringComparison.Ordinal)).Value, 12);
            Assert.Equal(100.0 * 1024 * 1024, samples.Single(s => s.Key.StartsWith("DCGM_FI_PROF_PCIE_TX_BYTES{", StringComparison.Ordinal)).Value);
        }

        Assert.Equal(2, nvml.GpmSamplesTaken);

        // Active seconds integrate the ratios over each interval's wall time: 10 s at 25 % tensor and 10 % SM, twice.
        Assert.Equal(2.5, second[$"gpu_tensor_active_seconds_total{{{Gpu0}}}"], 9);
        Assert.Equal(1.0, second[$"gpu_sm_active_seconds_total{{{Gpu0}}}"], 9);
        Assert.Equal(2.5, held[$"gpu_tensor_active_seconds_total{{{Gpu0}}}"], 9);
        time.Advance(TimeSpan.FromSeconds(9));
        var third = PromSamples.Parse(harness.Scrape());
        Assert.Equal(5.0, third[$"gpu_tensor_active_seconds_total{{{Gpu0}}}"], 9);
        Assert.Equal(2.0, third[$"gpu_sm_active_seconds_total{{{Gpu0}}}"], 9);
        Assert.DoesNotContain(third.Keys, k => k.StartsWith("gpu_tensor_active_seconds_total{gpu=\"1\"", StringComparison.Ordinal));
    }

    [Fact]
    public void CompatDcgm_JobsOnTheGpu_OneSeriesPerJobWithItsLabels()
    {
        // As dcgm-exporter: a GPU shared by two Slurm jobs is duplicated with hpc_job; a pod gets pod/namespace/container.
        var services = new Monitor.Agent.Collectors.AgentServices();
        services.Jobs.Holders = new Dictionary<string, Monitor.Agent.Jobs.JobIdentity[]>(StringComparer.Ordinal)
        {
            ["GPU-1"] = [new() { JobId = "1234" }, new() { JobId = "99" }],
            ["GPU-0"] = [new() { JobId = "ml/train-0", Scheduler = "kubernetes", Namespace = "ml", Pod = "train-0", Containers = ["trainer"] }],
        };
        var nvml = new ManagedNvml(2);
        var harness = new CollectorHarness(
            GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default,
            new Dictionary<string, string?> { ["compat-dcgm"] = "true" }, services: services);

        var samples = PromSamples.Parse(harness.Scrape());
        var util = samples.Where(s => s.Key.StartsWith("DCGM_FI_DEV_GPU_UTIL{", StringComparison.Ordinal)).ToList();

        Assert.Equal(3, util.Count);
        Assert.Equal(2, util.Count(s => s.Key.Contains("gpu=\"1\"", StringComparison.Ordinal) && (s.Key.Contains("hpc_job=\"1234\"", StringComparison.Ordinal) || s.Key.Contains("hpc_job=\"99\"", StringComparison.Ordinal))));
        Assert.All(util.Where(s => s.Key.Contains("gpu=\"1\"", StringComparison.Ordinal)), s => Assert.Equal(20, s.Value));
        Assert.Single(util, s => s.Key.Contains("gpu=\"0\"", StringComparison.Ordinal) && s.Key.Contains("container=\"trainer\"", StringComparison.Ordinal)
            && s.Key.Contains("namespace=\"ml\"", StringComparison.Ordinal) && s.Key.Contains("pod=\"train-0\"", StringComparison.Ordinal) && s.Key.Contains("hpc_job=\"\"", StringComparison.Ordinal));

        // The native series carry no job labels.
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("gpu_", StringComparison.Ordinal) && k.Contains("job", StringComparison.Ordinal));
    }

    [Fact]
    public void Events_Transitions_OneEventEachWithItsFields()
    {
        using var logs = new Monitor.Agent.Tests.Support.CollectingLoggerFactory();
        var nvml = new ManagedNvml(2);
        var harness = new CollectorHarness(GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default, logger: logs.CreateLogger("gpu"));
        int Count(int id) => logs.Entries.Count(e => e.Id.Id == id);

        // First sample: states that already need attention are reported (thermal slowdown, pending remap on both GPUs,
        // recovery action 1 on GPU 1); the software power cap is normal and never an event; ECC sets its baseline.
        harness.Update();
        Assert.Equal(2, Count(3009));
        Assert.All(logs.Entries.Where(e => e.Id.Id == 3009), e => Assert.Contains("hw_thermal_slowdown", e.Message, StringComparison.Ordinal));
        Assert.Equal(2, Count(3013));
        Assert.Equal(1, Count(3015));
        Assert.Contains("GPU 1 (GPU-1): the driver's recovery action is now 1 (reset the GPU)", logs.Entries.Single(e => e.Id.Id == 3015).Message, StringComparison.Ordinal);
        Assert.Equal(0, Count(3011));

        // Then: the thermal slowdown ends, 3 corrected ECC errors appear, remapping fails.
        nvml.Reasons = 0x4;
        nvml.EccAdded = 3;
        nvml.RemapFailure = 1;
        harness.Update();
        harness.Update();

        Assert.Equal(2, Count(3010));
        Assert.Equal(2, Count(3011));
        Assert.Contains("GPU 0 (GPU-0): 3 new corrected ECC errors (4 since the driver loaded)", logs.Entries.First(e => e.Id.Id == 3011).Message, StringComparison.Ordinal);
        Assert.Equal(2, Count(3014));
        Assert.Equal(2, Count(3009));
        Assert.Equal(2, Count(3013));
        Assert.Equal(1, Count(3015));
    }

    [Fact]
    public void Update_NotSupportedField_IsDroppedFromLaterBatches()
    {
        var nvml = new ManagedNvml(1);
        var harness = Harness(nvml);

        harness.Update();
        harness.Update();

        // Memory temperature and recovery action stay in the batch; field 91 (NVLink count, not supported) was asked once.
        Assert.Equal([NvmlFields.MemoryTemperature, NvmlFields.RecoveryAction], nvml.LastFieldBatch);
        Assert.Equal(1, nvml.FieldRequests.Count(f => f == NvmlFields.NvLinkCount));
    }

    private static CollectorHarness Harness(ManagedNvml nvml) =>
        new(GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default);

    /// <summary>A managed NVML double: GPU i reports values derived from i.</summary>
    private sealed class ManagedNvml(uint count) : INvml
    {
        public string? InitProblem { get; init; }

        public NvmlReturn TemperatureResult { get; init; } = NvmlReturn.Success;

        public int LostDevice { get; init; } = -1;

        public int InitCalls { get; private set; }

        private int _temperatureCalls;
        private int _maxClockCalls;
        private int _shutdownCalls;
        private int _utilizationCalls;

        public int TemperatureCalls => Volatile.Read(ref _temperatureCalls);

        public int MaxClockCalls => Volatile.Read(ref _maxClockCalls);

        public int ShutdownCalls => Volatile.Read(ref _shutdownCalls);

        public int UtilizationCalls => Volatile.Read(ref _utilizationCalls);

        /// <summary>Device index whose utilization call blocks until <see cref="Hang"/> is set.</summary>
        public int HangDevice { get; init; } = -1;

        public ManualResetEventSlim? Hang { get; init; }

        /// <summary>Not Success: every device call and the device count answer this (driver reloaded, version mismatch).</summary>
        public NvmlReturn SessionResult { get; set; } = NvmlReturn.Success;

        /// <summary>Device index whose utilization call throws, as a missing entry point would.</summary>
        public int ThrowOnDevice { get; init; } = -1;

        /// <summary>The clock event reason mask every GPU reports (default sw_power_cap and hw_thermal_slowdown).</summary>
        public ulong Reasons { get; set; } = 0x44;

        /// <summary>Added to every GPU's volatile corrected ECC count.</summary>
        public ulong EccAdded { get; set; }

        /// <summary>Every GPU's remap-failure flag.</summary>
        public uint RemapFailure { get; set; }

        /// <summary>Overrides GPU 0's energy counter, mJ.</summary>
        public ulong? EnergyMillijoules { get; set; }

        public bool TryInitialize(string path, out string? problem)
        {
            InitCalls++;
            problem = InitProblem;
            return problem is null;
        }

        public NvmlReturn DeviceCount(out uint count1)
        {
            count1 = count;
            return SessionResult;
        }

        public NvmlReturn DeviceHandle(uint index, out nint device)
        {
            device = (nint)(index + 1);
            return NvmlReturn.Success;
        }

        public NvmlReturn Name(nint device, out string name)
        {
            name = "Test GPU";
            return NvmlReturn.Success;
        }

        public NvmlReturn Uuid(nint device, out string uuid)
        {
            uuid = $"GPU-{device - 1}";
            return NvmlReturn.Success;
        }

        public NvmlReturn Utilization(nint device, out NvmlUtilization utilization)
        {
            Interlocked.Increment(ref _utilizationCalls);
            if (device - 1 == HangDevice)
            {
                Hang!.Wait();
            }

            if (device - 1 == ThrowOnDevice)
            {
                throw new EntryPointNotFoundException("Unable to find an entry point named 'nvmlDeviceGetUtilizationRates'");
            }

            utilization = new NvmlUtilization { Gpu = 10 * (uint)device, Memory = 5 * (uint)device };
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn Memory(nint device, out ulong total, out ulong used, out ulong free, out ulong? reserved)
        {
            (total, used, reserved) = (80_000_000_000UL, (ulong)device << 30, 500_000_000UL);
            free = total - reserved.Value - used;
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn Temperature(nint device, out uint celsius)
        {
            Interlocked.Increment(ref _temperatureCalls);
            celsius = 39 + (uint)device;
            return Result(device, TemperatureResult);
        }

        public NvmlReturn PowerUsage(nint device, out uint milliwatts)
        {
            milliwatts = 98_500 + (1_500 * (uint)device);
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn Energy(nint device, out ulong millijoules)
        {
            millijoules = device == 1 && EnergyMillijoules is { } e ? e : (1_000_000UL * (ulong)device) + 500;
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn Clock(nint device, int clockType, out uint megahertz)
        {
            megahertz = (uint)((clockType * 100) + device);
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn MaxClock(nint device, int clockType, out uint megahertz)
        {
            Interlocked.Increment(ref _maxClockCalls);
            megahertz = 2000 + (uint)clockType;
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn PerformanceState(nint device, out int state)
        {
            state = 2;
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn ClockEventReasons(nint device, out ulong reasons)
        {
            reasons = Reasons;
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn TemperatureThreshold(nint device, int threshold, out uint celsius)
        {
            celsius = threshold == 0 ? 95u : 89u;
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn EccErrors(nint device, int errorType, int counterType, out ulong count)
        {
            count = (ulong)((errorType * 100) + (counterType * 10) + device) + (errorType == 0 && counterType == 0 ? EccAdded : 0);
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn RemappedRows(nint device, out uint correctable, out uint uncorrectable, out uint pending, out uint failure)
        {
            (correctable, uncorrectable, pending, failure) = (3, 1, 1, RemapFailure);
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn PcieLink(nint device, out uint generation, out uint width)
        {
            (generation, width) = (4, 8);
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn PcieReplays(nint device, out uint count)
        {
            count = 7;
            return Result(device, NvmlReturn.Success);
        }

        public System.Collections.Concurrent.ConcurrentQueue<NvmlEventData> Events { get; } = new();

        public nint CreateXidEventSet(IReadOnlyList<nint> devices) => 1;

        public NvmlReturn WaitEvent(nint set, uint timeoutMilliseconds, out NvmlEventData data)
        {
            if (Events.TryDequeue(out data))
            {
                return NvmlReturn.Success;
            }

            Thread.Sleep(5);
            return NvmlReturn.Timeout;
        }

        public NvmlReturn CodecUtilization(nint device, bool decoder, out uint percent)
        {
            percent = decoder ? 30u : 20u;
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn FanSpeed(nint device, out uint percent)
        {
            percent = 110;
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn Shutdown()
        {
            Interlocked.Increment(ref _shutdownCalls);
            return NvmlReturn.Success;
        }

        public NvmlReturn DriverVersion(out string version) => Answer("580.1", out version);

        public NvmlReturn Serial(nint device, out string serial) => Answer($"S{device - 1}", out serial);

        public NvmlReturn PciBusId(nint device, out string busId) => Answer($"00000000:0{device - 1}:00.0", out busId);

        public NvmlReturn VbiosVersion(nint device, out string version) => Answer("96.0", out version);

        public NvmlReturn ComputeCapability(nint device, out int major, out int minor)
        {
            (major, minor) = (9, 0);
            return NvmlReturn.Success;
        }

        public NvmlReturn PowerLimit(nint device, out uint milliwatts) => Answer(700_000u + (uint)device, out milliwatts);

        public NvmlReturn MaxPcieLink(nint device, out uint generation, out uint width)
        {
            width = 16;
            return Answer(5u, out generation);
        }

        public NvmlReturn PcieThroughput(nint device, int counter, out uint kilobytesPerSecond) => Answer(counter == 0 ? 100u : 200u, out kilobytesPerSecond);

        public NvmlReturn RetiredPages(nint device, int cause, out uint count1) => Unsupported(out count1);

        public NvmlReturn RetiredPagesPending(nint device, out bool pending) => Unsupported(out pending);

        /// <summary>ECC on for GPU 0; GPU 1 has it off now and on after the next reboot.</summary>
        public NvmlReturn EccMode(nint device, out bool current, out bool pending)
        {
            (current, pending) = (device == 1, true);
            return NvmlReturn.Success;
        }

        public System.Collections.Concurrent.ConcurrentQueue<uint> FieldRequests { get; } = new();

        public uint[] LastFieldBatch { get; private set; } = [];

        /// <summary>Memory temperature 60 + i, recovery action i; no NVLink.</summary>
        public NvmlReturn FieldValues(nint device, Span<NvmlFieldValue> values)
        {
            var batch = new uint[values.Length];
            for (var i = 0; i < values.Length; i++)
            {
                batch[i] = values[i].FieldId;
                FieldRequests.Enqueue(values[i].FieldId);
            }

            LastFieldBatch = batch;
            foreach (ref var field in values)
            {
                (field.NvmlReturn, field.ValueType, field.Timestamp) = ((int)NvmlReturn.Success, 1, 1);
                switch (field.FieldId)
                {
                    case NvmlFields.MemoryTemperature:
                        field.Value.UInt = 60 + (uint)device - 1;
                        break;
                    case NvmlFields.RecoveryAction:
                        field.Value.UInt = (uint)device - 1;
                        break;
                    default:
                        field.NvmlReturn = (int)NvmlReturn.NotSupported;
                        break;
                }
            }

            return NvmlReturn.Success;
        }

        /// <summary>One process per GPU: pid 100 + i with (i + 1) MiB, at 50 % SM and 25 % memory.</summary>
        public NvmlReturn ComputeProcesses(nint device, List<NvmlProcessInfo> into)
        {
            into.Clear();
            into.Add(new NvmlProcessInfo { Pid = 100 + (uint)device - 1, UsedGpuMemory = (ulong)device << 20, GpuInstanceId = uint.MaxValue, ComputeInstanceId = uint.MaxValue });
            return NvmlReturn.Success;
        }

        public NvmlReturn ProcessUtilization(nint device, ulong lastSeen, List<NvmlProcessUtilizationSample> into)
        {
            into.Clear();
            into.Add(new NvmlProcessUtilizationSample { Pid = 100 + (uint)device - 1, TimeStamp = lastSeen + 1, SmUtil = 50, MemUtil = 25 });
            return NvmlReturn.Success;
        }

        public NvmlReturn MigMode(nint device, out uint current) => Unsupported(out current);

        public NvmlReturn MigDevices(nint device, List<NvmlMigDevice> into) => NvmlReturn.NotSupported;

        /// <summary>GPU 0 supports GPM, GPU 1 does not (a pre-Hopper board).</summary>
        public NvmlReturn GpmSupported(nint device, out bool supported)
        {
            supported = device == 1;
            return NvmlReturn.Success;
        }

        public int GpmSamplesTaken => Volatile.Read(ref _gpmSamplesTaken);

        private int _gpmSamplesTaken;
        private long _gpmNext = 1000;

        public NvmlReturn GpmSampleAlloc(out nint sample)
        {
            sample = (nint)Interlocked.Increment(ref _gpmNext);
            return NvmlReturn.Success;
        }

        public NvmlReturn GpmSampleFree(nint sample) => NvmlReturn.Success;

        public NvmlReturn GpmSample(nint device, uint? gpuInstanceId, nint sample)
        {
            Interlocked.Increment(ref _gpmSamplesTaken);
            return NvmlReturn.Success;
        }

        /// <summary>Metric id m reads m × 5 % (MiB/s for the rates); SM occupancy (3) fails with its own code.</summary>
        public NvmlReturn GpmMetrics(nint earlier, nint later, ReadOnlySpan<uint> ids, Span<(NvmlReturn Result, double Value)> results)
        {
            for (var i = 0; i < ids.Length; i++)
            {
                results[i] = ids[i] == NvmlGpm.SmOccupancy ? (NvmlReturn.NotSupported, 0) : (NvmlReturn.Success, ids[i] * 5.0);
            }

            return NvmlReturn.Success;
        }

        private static NvmlReturn Answer<T>(T answer, out T value)
        {
            value = answer;
            return NvmlReturn.Success;
        }

        private static NvmlReturn Unsupported<T>(out T value)
        {
            value = default!;
            return NvmlReturn.NotSupported;
        }

        public string ErrorString(NvmlReturn result) => result.ToString();

        private NvmlReturn Result(nint device, NvmlReturn result) =>
            SessionResult != NvmlReturn.Success ? SessionResult : device - 1 == LostDevice ? NvmlReturn.GpuIsLost : result;
    }
}
