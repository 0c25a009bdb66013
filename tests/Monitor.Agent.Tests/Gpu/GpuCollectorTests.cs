using Monitor.Agent.Collectors.Gpu;
using Monitor.Agent.Configuration;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Agent.Tests.Collectors;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Gpu;

public sealed class GpuCollectorTests
{
    [Fact]
    public void Update_TwoGpus_ExportsBaseUnits()
    {
        var nvml = new ManagedNvml(2);
        var samples = PromSamples.Parse(Harness(nvml).Scrape());

        Assert.Equal(1, samples["gpu_nvml_up"]);
        Assert.Equal(1, samples["gpu_info{gpu=\"1\",name=\"Test GPU\",uuid=\"GPU-1\"}"]);
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

    private static CollectorHarness Harness(ManagedNvml nvml) =>
        new(GpuCollector.Descriptor with { Create = c => new GpuCollector(c, nvml) }, HostPaths.Default);

    /// <summary>A managed NVML double: GPU i reports values derived from i.</summary>
    private sealed class ManagedNvml(uint count) : INvml
    {
        public string? InitProblem { get; init; }

        public NvmlReturn TemperatureResult { get; init; } = NvmlReturn.Success;

        public int LostDevice { get; init; } = -1;

        public int InitCalls { get; private set; }

        public int TemperatureCalls { get; private set; }

        public int MaxClockCalls { get; private set; }

        public bool TryInitialize(string path, out string? problem)
        {
            InitCalls++;
            problem = InitProblem;
            return problem is null;
        }

        public NvmlReturn DeviceCount(out uint count1)
        {
            count1 = count;
            return NvmlReturn.Success;
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
            TemperatureCalls++;
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
            millijoules = (1_000_000UL * (ulong)device) + 500;
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn Clock(nint device, int clockType, out uint megahertz)
        {
            megahertz = (uint)((clockType * 100) + device);
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn MaxClock(nint device, int clockType, out uint megahertz)
        {
            MaxClockCalls++;
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
            reasons = 0x44; // sw_power_cap and hw_thermal_slowdown
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn TemperatureThreshold(nint device, int threshold, out uint celsius)
        {
            celsius = threshold == 0 ? 95u : 89u;
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn EccErrors(nint device, int errorType, int counterType, out ulong count)
        {
            count = (ulong)((errorType * 100) + (counterType * 10) + device);
            return Result(device, NvmlReturn.Success);
        }

        public NvmlReturn RemappedRows(nint device, out uint correctable, out uint uncorrectable, out uint pending, out uint failure)
        {
            (correctable, uncorrectable, pending, failure) = (3, 1, 1, 0);
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

        public NvmlReturn Shutdown() => NvmlReturn.Success;

        public NvmlReturn DriverVersion(out string version) => Unsupported(out version);

        public NvmlReturn Serial(nint device, out string serial) => Unsupported(out serial);

        public NvmlReturn PciBusId(nint device, out string busId) => Unsupported(out busId);

        public NvmlReturn VbiosVersion(nint device, out string version) => Unsupported(out version);

        public NvmlReturn ComputeCapability(nint device, out int major, out int minor)
        {
            (major, minor) = (0, 0);
            return NvmlReturn.NotSupported;
        }

        public NvmlReturn PowerLimit(nint device, out uint milliwatts) => Unsupported(out milliwatts);

        public NvmlReturn MaxPcieLink(nint device, out uint generation, out uint width)
        {
            width = 0;
            return Unsupported(out generation);
        }

        public NvmlReturn PcieThroughput(nint device, int counter, out uint kilobytesPerSecond) => Unsupported(out kilobytesPerSecond);

        public NvmlReturn RetiredPages(nint device, int cause, out uint count1) => Unsupported(out count1);

        public NvmlReturn RetiredPagesPending(nint device, out bool pending) => Unsupported(out pending);

        public NvmlReturn FieldValues(nint device, Span<NvmlFieldValue> values) => NvmlReturn.NotSupported;

        public NvmlReturn ComputeProcesses(nint device, List<NvmlProcessInfo> into) => NvmlReturn.NotSupported;

        public NvmlReturn ProcessUtilization(nint device, ulong lastSeen, List<NvmlProcessUtilizationSample> into) => NvmlReturn.NotSupported;

        public NvmlReturn MigMode(nint device, out uint current) => Unsupported(out current);

        public NvmlReturn MigDevices(nint device, List<NvmlMigDevice> into) => NvmlReturn.NotSupported;

        private static NvmlReturn Unsupported<T>(out T value)
        {
            value = default!;
            return NvmlReturn.NotSupported;
        }

        public string ErrorString(NvmlReturn result) => result.ToString();

        private NvmlReturn Result(nint device, NvmlReturn result) => device - 1 == LostDevice ? NvmlReturn.GpuIsLost : result;
    }
}
