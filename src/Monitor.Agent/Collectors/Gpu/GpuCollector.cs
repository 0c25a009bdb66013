using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Agent.Gpu.Xid;
using Monitor.Agent.Gpu;
using Monitor.Agent.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Gpu;

/// <summary>
/// GPU metrics from NVML, sampled in the background once a second, so a scrape never calls NVML. Native names in
/// base units with <c>gpu</c> and <c>uuid</c> labels, identity in one <c>gpu_info</c> series (architecture, metric
/// conventions); with <c>--compat.dcgm</c> also dcgm-exporter's default set (<see cref="DcgmCompat"/>).
/// </summary>
/// <remarks>
/// Each GPU is sampled by its own <see cref="GpuDeviceSampler"/> on the thread pool; an update starts them all,
/// waits up to <c>--collector.gpu.device-timeout</c>, and publishes what finished. A device whose NVML call hangs is
/// reported as stalled (<c>gpu_up 0</c>) and is not waited for again until that call returns. Without a driver the
/// collector exports <c>gpu_nvml_up 0</c>, logs the reason once and retries with backoff (1 s doubling to 60 s);
/// the same backoff re-initializes NVML after the driver is reloaded or the library no longer matches it.
/// </remarks>
internal sealed partial class GpuCollector : ICollector
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(60);
    private static readonly string[] GpuLabels = ["gpu", "uuid"];

    /// <summary>NVML clock types in enum order (GRAPHICS=0, SM=1, MEM=2, VIDEO=3) and their label values.</summary>
    private static readonly string[] ClockNames = ["graphics", "sm", "memory", "video"];

    /// <summary>Clock event (throttle) reason bits 0x1…0x100 and their label values (reference nvml.md §6).</summary>
    private static readonly string[] ReasonNames =
        ["gpu_idle", "applications_clocks_setting", "sw_power_cap", "hw_slowdown", "sync_boost", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "display_clock_setting"];

    private static readonly string[] NvLinkErrorNames = ["crc_flit", "crc_data", "replay", "recovery"];

    /// <summary>
    /// Reasons whose start and end are node events: hardware slowdown, software and hardware thermal slowdown, power
    /// brake. Idle, application clocks, the software power cap (normal at full load) and sync boost toggle too often
    /// to be events.
    /// </summary>
    private const ulong AlertingReasons = 0x8 | 0x20 | 0x40 | 0x80;

    /// <summary>The plain gauges and counters: one series per GPU from one value, times a scale.</summary>
    private static readonly (GpuValue Value, string Name, string Help, bool Counter, double Scale)[] Scalars =
    [
        (GpuValue.Utilization, "gpu_utilization_ratio", "Fraction of the last sample period the GPU was busy (NVML utilization.gpu / 100).", false, 1),
        (GpuValue.MemoryUtilization, "gpu_memory_utilization_ratio", "Fraction of the last sample period the memory controller was busy.", false, 1),
        (GpuValue.MemoryTotal, "gpu_memory_total_bytes", "Total GPU memory.", false, 1),
        (GpuValue.MemoryUsed, "gpu_memory_used_bytes", "GPU memory used by processes (NVML memory v2 used, as nvidia-smi reports).", false, 1),
        (GpuValue.MemoryFree, "gpu_memory_free_bytes", "Free GPU memory.", false, 1),
        (GpuValue.MemoryReserved, "gpu_memory_reserved_bytes", "GPU memory reserved by the driver.", false, 1),
        (GpuValue.Temperature, "gpu_temperature_celsius", "GPU temperature.", false, 1),
        (GpuValue.MemoryTemperature, "gpu_memory_temperature_celsius", "GPU memory (HBM) temperature.", false, 1),
        (GpuValue.SlowdownThreshold, "gpu_temperature_slowdown_threshold_celsius", "Temperature at which the GPU starts to slow down.", false, 1),
        (GpuValue.ShutdownThreshold, "gpu_temperature_shutdown_threshold_celsius", "Temperature at which the GPU shuts down.", false, 1),
        (GpuValue.Power, "gpu_power_watts", "Power draw (NVML power usage; a 1 s average on Ampere and later, except GA100).", false, 1),
        (GpuValue.PowerLimit, "gpu_power_limit_watts", "Enforced power limit.", false, 1),
        (GpuValue.Energy, "gpu_energy_joules_total", "Energy consumed since the driver was loaded: NVML's counter, read at the slow cadence, advanced by the power integral in between.", true, 1),
        (GpuValue.PerformanceState, "gpu_performance_state", "Performance state: 0 (maximum) to 15 (minimum).", false, 1),
        (GpuValue.EccMode, "gpu_ecc_mode_enabled", "Whether ECC is enabled (1) or not (0).", false, 1),
        (GpuValue.EccMode + 1, "gpu_ecc_mode_pending_enabled", "Whether ECC will be enabled (1) or not (0) after the next reboot.", false, 1),
        (GpuValue.RetiredPagesPending, "gpu_retired_pages_pending", "Whether a page retirement waits for the next GPU reset (1) or not (0); pre-Ampere ECC GPUs.", false, 1),
        (GpuValue.RemapPending, "gpu_remapped_rows_pending", "Whether a row remap waits for the next GPU reset (1) or not (0).", false, 1),
        (GpuValue.RemapFailure, "gpu_remapped_rows_failure", "Whether a row remap has failed (1): NVIDIA's RMA criterion.", false, 1),
        (GpuValue.PcieGeneration, "gpu_pcie_link_generation", "Current PCIe link generation.", false, 1),
        (GpuValue.PcieWidth, "gpu_pcie_link_width", "Current PCIe link width (lanes).", false, 1),
        (GpuValue.PcieMaxGeneration, "gpu_pcie_link_max_generation", "Maximum PCIe link generation of the GPU and system.", false, 1),
        (GpuValue.PcieMaxWidth, "gpu_pcie_link_max_width", "Maximum PCIe link width (lanes).", false, 1),
        (GpuValue.PcieReplays, "gpu_pcie_replay_errors_total", "PCIe replay events.", true, 1),
        (GpuValue.Encoder, "gpu_encoder_utilization_ratio", "Fraction of the sample period the video encoder was busy.", false, 1),
        (GpuValue.Decoder, "gpu_decoder_utilization_ratio", "Fraction of the sample period the video decoder was busy.", false, 1),
        (GpuValue.Fan, "gpu_fan_speed_ratio", "Fan speed as a fraction of its maximum (can exceed 1); absent on boards without fans.", false, 1),
        (GpuValue.RecoveryAction, "gpu_recovery_action", "The driver's recommended recovery action (NVML field 230): 0 none, 1 GPU reset, 2 node reboot, 3 drain peer-to-peer, 4 drain and reset.", false, 1),
        (GpuValue.MigMode, "gpu_mig_mode", "Whether MIG mode is enabled (1) or not (0).", false, 1),
        (GpuValue.NvLinkCount, "gpu_nvlink_links", "NVLink links on the GPU.", false, 1),
        (GpuValue.NvLinkTransmit, "gpu_nvlink_transmit_bytes_total", "Data transmitted over all NVLink links.", true, 1),
        (GpuValue.NvLinkReceive, "gpu_nvlink_receive_bytes_total", "Data received over all NVLink links.", true, 1),
        (GpuValue.TensorActiveSeconds, "gpu_tensor_active_seconds_total", "Seconds of tensor-pipe activity: the GPM tensor ratio integrated over each interval (Hopper+).", true, 1),
        (GpuValue.SmActiveSeconds, "gpu_sm_active_seconds_total", "Seconds of SM activity: the GPM SM-active ratio integrated over each interval (Hopper+).", true, 1),
    ];

    /// <summary>
    /// GPM series in <see cref="GpuValue.Gpm"/> order: name after <c>gpu_</c> (or <c>gpu_mig_</c>), HELP, and the extra
    /// label and value that distinguish members of one family. Families repeat for labelled members.
    /// </summary>
    private static readonly (string Name, string Help, string? Label, string? Value)[] Gpm =
    [
        ("graphics_engine_active_ratio", "Fraction of the GPM interval the graphics/compute engine was active (GPM GRAPHICS_UTIL).", null, null),
        ("sm_active_ratio", "Fraction of the GPM interval the SMs were active (GPM SM_UTIL).", null, null),
        ("sm_occupancy_ratio", "Resident warps relative to the SMs' maximum over the GPM interval (GPM SM_OCCUPANCY).", null, null),
        ("tensor_active_ratio", "Fraction of the GPM interval any tensor pipe was active (GPM ANY_TENSOR_UTIL).", null, null),
        ("dram_active_ratio", "Fraction of the GPM interval the memory interface was busy (GPM DRAM_BW_UTIL).", null, null),
        ("pipe_active_ratio", "Fraction of the GPM interval the pipe was active (GPM FP64/FP32/FP16/INTEGER_UTIL).", "pipe", "fp64"),
        ("pipe_active_ratio", string.Empty, "pipe", "fp32"),
        ("pipe_active_ratio", string.Empty, "pipe", "fp16"),
        ("pipe_active_ratio", string.Empty, "pipe", "int"),
        ("pcie_gpm_bytes_per_second", "PCIe rate over the GPM interval (GPM PCIE_TX/RX_PER_SEC).", "direction", "tx"),
        ("pcie_gpm_bytes_per_second", string.Empty, "direction", "rx"),
        ("nvlink_gpm_bytes_per_second", "NVLink rate over all links over the GPM interval (GPM NVLINK_TOTAL_TX/RX_PER_SEC).", "direction", "tx"),
        ("nvlink_gpm_bytes_per_second", string.Empty, "direction", "rx"),
    ];

    private readonly INvml _nvml;
    private readonly string _libraryPath;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly GpuSamplerOptions _options;
    private readonly TimeSpan _deviceTimeout;
    private readonly DcgmCompat? _dcgm;
    private readonly MetricFamily[] _scalars;
    private readonly MetricFamily _nvmlUp;
    private readonly MetricFamily _info;
    private readonly MetricFamily _up;
    private readonly MetricFamily _stalled;
    private readonly MetricFamily _clock;
    private readonly MetricFamily _maxClock;
    private readonly MetricFamily _reason;
    private readonly MetricFamily _ecc;
    private readonly MetricFamily _retired;
    private readonly MetricFamily _remapped;
    private readonly MetricFamily _pcieThroughput;
    private readonly MetricFamily _nvlinkUp;
    private readonly MetricFamily _nvlinkErrors;
    private readonly MetricFamily _processMemory;
    private readonly MetricFamily _processUtilization;
    private readonly MetricFamily _processMemoryUtilization;
    private readonly MetricFamily _migMemoryTotal;
    private readonly MetricFamily _migMemoryUsed;
    private readonly MetricFamily _migMemoryFree;
    private readonly MetricFamily _migUtilization;
    private readonly MetricFamily[] _gpm;
    private readonly MetricFamily[] _gpmMig;
    private readonly MetricFamily _xids;
    private readonly MetricFamily _lastXid;
    private readonly MetricFamily _exportMissing;
    private readonly List<(string Index, string Problem)> _inaccessible = [];
    private IReadOnlyList<string> _missingExports = [];
    private readonly Lock _xidLock = new();
    private readonly Dictionary<(string Uuid, ulong Xid), long> _xidCounts = [];
    private readonly Dictionary<string, (double Time, ulong Xid)> _lastXidSeen = [];
    private readonly List<GpuSample> _samples = [];
    private readonly List<GpuTickDevice> _tick = [];
    private readonly GpuTelemetry _telemetry;
    private List<GpuDeviceSampler>? _devices;
    private int _generation;
    private long _nextAttempt = long.MinValue;
    private TimeSpan _retry = FirstRetry;
    private string? _lastProblem;

    public GpuCollector(CollectorContext context)
        : this(context, Setting(context, "simulate", 0) is > 0 and var n ? new SimulatedNvml(n, context.Time) : new NativeNvml())
    {
    }

    internal GpuCollector(CollectorContext context, INvml nvml)
    {
        _nvml = nvml;
        _libraryPath = context.Settings["nvml-library"] is { Length: > 0 } path ? path : NvmlLibrary.DefaultPath;
        _logger = context.Logger;
        _time = context.Time;
        _options = new GpuSamplerOptions(
            context.PositiveDuration("slow-interval", DefaultSlowInterval),
            bool.TryParse(context.Settings["pcie-throughput"], out var pcie) && pcie,
            !bool.TryParse(context.Settings["processes"], out var processes) || processes,
            context.PositiveDuration("gpm-interval", DefaultGpmInterval));
        _deviceTimeout = context.PositiveDuration("device-timeout", DefaultDeviceTimeout);
        _telemetry = context.Services.Gpu;
        var g = context.Group;
        _nvmlUp = g.Gauge("gpu_nvml_up", "Whether NVML is loaded and initialized (1) or not (0: no driver, or it failed; see the log).");
        _info = g.Gauge("gpu_info", "GPU identity; always 1. gpm=\"unsupported\" on GPUs without GPM profiling (pre-Hopper, or an older driver).", "gpu", "uuid", "name", "pci_bus_id", "serial", "driver_version", "vbios_version", "compute_capability", "gpm");
        _up = g.Gauge("gpu_up", "Whether the GPU answers NVML (0 after GPU_IS_LOST, or while its sampling is stalled).", GpuLabels);
        _stalled = g.Gauge("gpu_sampling_stalled", "Whether an NVML call for this GPU has not returned within --collector.gpu.device-timeout (1) or not (0).", GpuLabels);
        _scalars = [.. Scalars.Select(s => s.Counter ? g.Counter(s.Name, s.Help, GpuLabels) : g.Gauge(s.Name, s.Help, GpuLabels))];
        _clock = g.Gauge("gpu_clock_hertz", "Current clock frequency.", "gpu", "uuid", "clock");
        _maxClock = g.Gauge("gpu_clock_max_hertz", "Maximum clock frequency.", "gpu", "uuid", "clock");
        _reason = g.Gauge("gpu_clock_event_reason", "Whether the reason currently holds the clocks down (1) or not (0); sw_power_cap at the power limit is normal under load.", "gpu", "uuid", "reason");
        _ecc = g.Counter("gpu_ecc_errors_total", "ECC errors; counter=volatile resets when the driver loads, counter=aggregate is the board's lifetime count.", "gpu", "uuid", "error", "counter");
        _retired = g.Gauge("gpu_retired_pages", "Memory pages retired, by cause (pre-Ampere ECC GPUs; Ampere and later remap rows instead).", "gpu", "uuid", "cause");
        _remapped = g.Gauge("gpu_remapped_rows", "Memory rows remapped, by the error that caused it.", "gpu", "uuid", "error");
        _pcieThroughput = g.Gauge("gpu_pcie_throughput_bytes_per_second", "PCIe throughput over a 20 ms window at the slow cadence (--collector.gpu.pcie-throughput).", "gpu", "uuid", "direction");
        _nvlinkUp = g.Gauge("gpu_nvlink_link_up", "Whether the NVLink link is active (1) or not (0).", "gpu", "uuid", "link");
        _nvlinkErrors = g.Counter("gpu_nvlink_errors_total", "NVLink errors summed over links, by kind.", "gpu", "uuid", "error");
        _processMemory = g.Gauge("gpu_process_memory_used_bytes", "GPU memory used by a compute process.", "gpu", "uuid", "pid");
        _processUtilization = g.Gauge("gpu_process_utilization_ratio", "Fraction of the last second the process kept the GPU's SMs busy.", "gpu", "uuid", "pid");
        _processMemoryUtilization = g.Gauge("gpu_process_memory_utilization_ratio", "Fraction of the last second the process kept the memory controller busy.", "gpu", "uuid", "pid");
        string[] migLabels = ["gpu", "uuid", "gpu_instance", "compute_instance", "mig_uuid"];
        _migMemoryTotal = g.Gauge("gpu_mig_memory_total_bytes", "Memory of a MIG device.", migLabels);
        _migMemoryUsed = g.Gauge("gpu_mig_memory_used_bytes", "Memory used on a MIG device.", migLabels);
        _migMemoryFree = g.Gauge("gpu_mig_memory_free_bytes", "Memory free on a MIG device.", migLabels);
        _migUtilization = g.Gauge("gpu_mig_utilization_ratio", "Fraction of time the MIG device was busy, where the driver reports it.", migLabels);
        // One family per name; labelled members (pipe, direction) share it.
        var gpm = Gpm.DistinctBy(m => m.Name).ToDictionary(
            m => m.Name, m => g.Gauge("gpu_" + m.Name, m.Help, m.Label is { } l ? ["gpu", "uuid", l] : GpuLabels));
        var gpmMig = Gpm.DistinctBy(m => m.Name).ToDictionary(
            m => m.Name, m => g.Gauge("gpu_mig_" + m.Name, m.Help + " Per MIG GPU instance.", m.Label is { } l ? ["gpu", "uuid", "gpu_instance", l] : ["gpu", "uuid", "gpu_instance"]));
        _gpm = [.. Gpm.Select(m => gpm[m.Name])];
        _gpmMig = [.. Gpm.Select(m => gpmMig[m.Name])];
        _xids = g.Counter("gpu_xid_errors_total", "XID errors reported by the driver through NVML events; every catalogued code starts at 0.", "gpu", "uuid", "xid");
        _lastXid = g.Gauge("gpu_last_xid_timestamp_seconds", "Unix time of the GPU's last XID error.", GpuLabels);
        _exportMissing = g.Gauge("gpu_nvml_export_missing", "1 for each optional NVML function the loaded library lacks; the values that need it are absent (see the log).", "export");
        if (bool.TryParse(context.Settings["compat-dcgm"], out var dcgm) && dcgm)
        {
            _dcgm = new DcgmCompat(g, Environment.MachineName, context.Services.Jobs);
        }
    }

    /// <summary>Default of <c>--collector.gpu.slow-interval</c>.</summary>
    internal const string DefaultSlowInterval = "15s";

    /// <summary>Default of <c>--collector.gpu.gpm-interval</c>.</summary>
    internal const string DefaultGpmInterval = "10s";

    /// <summary>Default of <c>--collector.gpu.device-timeout</c>.</summary>
    internal const string DefaultDeviceTimeout = "2s";

    /// <summary>Registration: on by default, background at 1 s.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "gpu", "NVIDIA GPU metrics through NVML (no DCGM, no nvidia-smi).", true, Cadence.Background, TimeSpan.FromSeconds(1),
        c => new GpuCollector(c),
        [
            new CollectorFlag("slow-interval", DefaultSlowInterval, "How often static and expensive GPU values are read: max clocks, thresholds, PCIe link and replays, retired pages, MIG layout, NVLink count, the energy counter.", FlagKind.Duration),
            new CollectorFlag("device-timeout", DefaultDeviceTimeout, "How long an update waits for one GPU's NVML calls before it reports that GPU as stalled and serves the others.", FlagKind.Duration),
            new CollectorFlag("processes", "true", "Export per-process GPU memory and utilization (gpu_process_*).", FlagKind.Bool),
            new CollectorFlag("gpm-interval", DefaultGpmInterval, "GPM profiling interval on Hopper and newer GPUs (SM, tensor, DRAM activity): one sample per interval, values derived between the last two.", FlagKind.Duration),
            new CollectorFlag("pcie-throughput", "false", "Read PCIe throughput at the slow cadence (each direction blocks NVML for 20 ms).", FlagKind.Bool),
        ]);

    public void Update(CancellationToken cancellationToken)
    {
        if (_devices is null && !TryStart())
        {
            _nvmlUp.Get().Set(0);
            return;
        }

        var devices = _devices!;
        foreach (var device in devices)
        {
            if (!device.Busy)
            {
                device.Start();
            }
        }

        var deadline = _time.GetTimestamp() + (long)(_deviceTimeout.TotalSeconds * _time.TimestampFrequency);
        NvmlReturn? sessionError = null;
        _tick.Clear();
        for (var d = 0; d < devices.Count; d++)
        {
            var device = devices[d];
            if (_samples.Count <= d)
            {
                _samples.Add(new GpuSample());
            }

            var finished = device.Wait(_time.GetElapsedTime(_time.GetTimestamp(), deadline));
            if (finished == device.Stalled)
            {
                device.Stalled = !finished;
                if (finished)
                {
                    LogRecovered(_logger, device.Index, device.Uuid);
                }
                else
                {
                    LogStalled(_logger, device.Index, device.Uuid, _deviceTimeout.TotalSeconds);
                }
            }

            sessionError ??= device.SessionError;
            var healthy = Publish(device, _samples[d]);
            if (device.Uuid.Length > 0 && _telemetry.HasSubscribers)
            {
                // Only with a listener (the jobs collector): 8 small records a second otherwise spent for nothing.
                _tick.Add(new GpuTickDevice(device.Index, device.Uuid, _samples[d], healthy));
            }
        }

        foreach (var (index, _) in _inaccessible)
        {
            _up.Get(index, string.Empty).Set(0);
        }

        foreach (var export in _missingExports)
        {
            _exportMissing.Get(export).Set(1);
        }

        if (_telemetry.HasSubscribers)
        {
            // The jobs collector integrates over every tick, on this thread (its work is bounded and allocation-light).
            _telemetry.Publish(_time.GetTimestamp(), _tick);
        }

        if (sessionError is { } error)
        {
            Stop(error);
            _nvmlUp.Get().Set(0);
            return;
        }

        _nvmlUp.Get().Set(1);
    }

    private static int Setting(CollectorContext context, string key, int fallback) =>
        int.TryParse(context.Settings[key], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : fallback;


    private bool TryStart()
    {
        var now = _time.GetTimestamp();
        if (now < _nextAttempt)
        {
            return false;
        }

        if (!TryOpenSession(out var problem))
        {
            _nextAttempt = now + (long)(_retry.TotalSeconds * _time.TimestampFrequency);
            if (problem != _lastProblem)
            {
                LogUnavailable(_logger, problem, MaxRetry.TotalSeconds);
                _lastProblem = problem;
            }

            _retry = TimeSpan.FromTicks(Math.Min(_retry.Ticks * 2, MaxRetry.Ticks));
            return false;
        }

        _retry = FirstRetry;
        _lastProblem = null;
        return true;
    }

    private bool TryOpenSession(out string problem)
    {
        if (!_nvml.TryInitialize(_libraryPath, out var initProblem))
        {
            problem = initProblem ?? "unknown";
            return false;
        }

        var result = _nvml.DeviceCount(out var count);
        if (result != NvmlReturn.Success)
        {
            problem = $"nvmlDeviceGetCount_v2: {_nvml.ErrorString(result)} ({(int)result})";
            _ = _nvml.Shutdown();
            return false;
        }

        var driver = _nvml.DriverVersion(out var d) == NvmlReturn.Success ? d : string.Empty;
        var devices = new List<GpuDeviceSampler>((int)count);
        _inaccessible.Clear();
        for (var i = 0u; i < count; i++)
        {
            // A device this process may not open (cgroups, permissions) is counted but left out, as NVML documents;
            // it shows as gpu_up{uuid=""} 0 and the log says why.
            if (_nvml.DeviceHandle(i, out var handle) is var opened && opened != NvmlReturn.Success)
            {
                var reason = $"{_nvml.ErrorString(opened)} ({(int)opened})";
                _inaccessible.Add((i.ToString(CultureInfo.InvariantCulture), reason));
                LogInaccessible(_logger, (int)i, reason);
                continue;
            }

            devices.Add(new GpuDeviceSampler(_nvml, _time, _options, (int)i, handle, driver));
        }

        _devices = devices;
        _generation++;
        LogStarted(_logger, devices.Count, driver);
        _missingExports = _nvml.MissingExports;
        if (_missingExports.Count > 0)
        {
            LogMissingExports(_logger, _missingExports.Count, string.Join(", ", _missingExports));
        }

        StartXidListener(devices, _generation);
        problem = string.Empty;
        return true;
    }

    /// <summary>The session is gone (driver reloaded, version mismatch): drop the devices, shut NVML down, retry with backoff.</summary>
    private void Stop(NvmlReturn error)
    {
        LogSessionLost(_logger, _nvml.ErrorString(error), (int)error);
        _devices = null;
        _generation++;
        _ = _nvml.Shutdown();
        _lastProblem = null;
        _nextAttempt = _time.GetTimestamp() + (long)(FirstRetry.TotalSeconds * _time.TimestampFrequency);
        _retry = FirstRetry * 2;
    }

    /// <summary>
    /// XIDs arrive through an NVML event set, waited on by a dedicated thread (a wait blocks up to its timeout, so it
    /// must not hold a pool thread). The thread also registers the devices, since registration calls every device and
    /// one may hang. It only counts; the 1 s update writes the counts into the series.
    /// </summary>
    private void StartXidListener(List<GpuDeviceSampler> devices, int generation)
    {
        var thread = new Thread(() => ListenForXids(devices, generation), 256 * 1024) { IsBackground = true, Name = "nvml-xid" };
        thread.Start();
    }

    private void ListenForXids(List<GpuDeviceSampler> devices, int generation)
    {
        var set = _nvml.CreateXidEventSet([.. devices.Select(d => d.Handle)]);
        if (set == 0)
        {
            return;
        }

        // Handle to index and UUID; the UUID is asked here, as the device's sampler may not have identified it yet.
        var byHandle = new Dictionary<nint, (int Index, string Uuid)>();
        while (Volatile.Read(ref _generation) == generation)
        {
            var result = _nvml.WaitEvent(set, 1000, out var data);
            if (result == NvmlReturn.Timeout)
            {
                continue;
            }

            if (result != NvmlReturn.Success)
            {
                // Uninitialized after shutdown, or a broken set: stop listening; the next session starts a new one.
                LogXidListenerStopped(_logger, _nvml.ErrorString(result));
                return;
            }

            if ((data.EventType & 0x8) == 0 || devices.Find(d => d.Handle == data.Device) is not { } sampler)
            {
                continue;
            }

            if (!byHandle.TryGetValue(data.Device, out var device))
            {
                device = (sampler.Index, _nvml.Uuid(data.Device, out var uuid) == NvmlReturn.Success ? uuid : sampler.Uuid);
                byHandle[data.Device] = device;
            }

            var xid = data.EventData;
            lock (_xidLock)
            {
                _xidCounts[(device.Uuid, xid)] = _xidCounts.GetValueOrDefault((device.Uuid, xid)) + 1;
                _lastXidSeen[device.Uuid] = (_time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0, xid);
            }

            var code = (uint)Math.Min(xid, uint.MaxValue);
            var resolution = XidCatalog.Resolve(code);
            LogXid(_logger, device.Index, device.Uuid, xid, XidCatalog.Describe(code), XidCatalog.Code(resolution), XidCatalog.Action(resolution));
        }
    }

    /// <summary>Writes one GPU's series from its latest sample (copied into <paramref name="sample"/>); true when it is healthy.</summary>
    private bool Publish(GpuDeviceSampler device, GpuSample sample)
    {
        var gpu = device.IndexLabel;
        var uuid = device.Uuid;
        _stalled.Get(gpu, uuid).Set(device.Stalled ? 1 : 0);

        // Logged whether or not the GPU is identified yet: a failure in identification must not be silent.
        var error = device.Error;
        if ((error is not null) != device.ReportedError)
        {
            device.ReportedError = error is not null;
            if (error is not null)
            {
                LogSamplingFailed(_logger, error, device.Index, uuid.Length > 0 ? uuid : "not identified");
            }
        }

        if (uuid.Length == 0)
        {
            // Not identified yet (its first tick is stalled or failed): only its index is known.
            var identify = device.Busy ? NvmlReturn.Success : device.IdentifyResult;
            if ((identify != NvmlReturn.Success) != device.ReportedIdentify)
            {
                device.ReportedIdentify = identify != NvmlReturn.Success;
                if (identify != NvmlReturn.Success)
                {
                    LogUnidentified(_logger, device.Index, _nvml.ErrorString(identify), (int)identify);
                }
            }

            _up.Get(gpu, uuid).Set(0);
            return false;
        }

        var id = device.Identity;
        _info.Get([gpu, uuid, device.Name, id.PciBusId, id.Serial, id.DriverVersion, id.VbiosVersion, id.ComputeCapability, id.Gpm]).Set(1);
        var last = WriteXids(device, gpu, out var xidTotal);
        device.CopyPublished(sample);
        sample.XidErrors = xidTotal;

        var healthy = !device.Stalled && !sample.Lost && sample.Timestamp != 0 && error is null;
        _up.Get(gpu, uuid).Set(healthy ? 1 : 0);
        if (sample.Lost != device.ReportedLost)
        {
            device.ReportedLost = sample.Lost;
            if (sample.Lost)
            {
                LogLost(_logger, device.Index, uuid);
            }
            else
            {
                LogRecoveredFromLoss(_logger, device.Index, uuid);
            }
        }

        if (!healthy)
        {
            return false;
        }

        var v = sample.Values;
        ReportTransitions(device, v);
        for (var i = 0; i < Scalars.Length; i++)
        {
            if (v[(int)Scalars[i].Value] is var value && !double.IsNaN(value))
            {
                _scalars[i].Get(gpu, uuid).Set(value * Scalars[i].Scale);
            }
        }

        for (var type = 0; type < ClockNames.Length; type++)
        {
            SetIf(_clock, gpu, uuid, ClockNames[type], v[(int)GpuValue.Clock + type] * 1e6);
            SetIf(_maxClock, gpu, uuid, ClockNames[type], v[(int)GpuValue.MaxClock + type] * 1e6);
        }

        if (!double.IsNaN(v[(int)GpuValue.ClockEventReasons]))
        {
            var reasons = (ulong)v[(int)GpuValue.ClockEventReasons];
            for (var bit = 0; bit < ReasonNames.Length; bit++)
            {
                _reason.Get(gpu, uuid, ReasonNames[bit]).Set((reasons >> bit) & 1);
            }
        }

        for (var i = 0; i < 4; i++)
        {
            if (!double.IsNaN(v[(int)GpuValue.Ecc + i]))
            {
                _ecc.Get([gpu, uuid, i / 2 == 0 ? "corrected" : "uncorrected", i % 2 == 0 ? "volatile" : "aggregate"]).Set(v[(int)GpuValue.Ecc + i]);
            }

            SetIf(_nvlinkErrors, gpu, uuid, NvLinkErrorNames[i], v[(int)GpuValue.NvLinkErrors + i]);
        }

        SetIf(_retired, gpu, uuid, "multiple_single_bit_ecc", v[(int)GpuValue.RetiredPages]);
        SetIf(_retired, gpu, uuid, "double_bit_ecc", v[(int)GpuValue.RetiredPages + 1]);
        SetIf(_remapped, gpu, uuid, "correctable", v[(int)GpuValue.RemappedCorrectable]);
        SetIf(_remapped, gpu, uuid, "uncorrectable", v[(int)GpuValue.RemappedUncorrectable]);
        SetIf(_pcieThroughput, gpu, uuid, "tx", v[(int)GpuValue.PcieTransmit]);
        SetIf(_pcieThroughput, gpu, uuid, "rx", v[(int)GpuValue.PcieReceive]);

        Span<char> number = stackalloc char[11];
        for (var link = 0; link < sample.NvLinkUp.Count; link++)
        {
            link.TryFormat(number, out var n, default, CultureInfo.InvariantCulture);
            SetIf(_nvlinkUp, gpu, uuid, number[..n], sample.NvLinkUp[link]);
        }

        foreach (var process in sample.Processes)
        {
            process.Pid.TryFormat(number, out var n, default, CultureInfo.InvariantCulture);
            SetIf(_processMemory, gpu, uuid, number[..n], process.MemoryBytes);
            SetIf(_processUtilization, gpu, uuid, number[..n], process.Utilization);
            SetIf(_processMemoryUtilization, gpu, uuid, number[..n], process.MemoryUtilization);
        }

        foreach (var mig in sample.Mig)
        {
            string[] labels = [gpu, uuid, mig.GpuInstanceId.ToString(CultureInfo.InvariantCulture), mig.ComputeInstanceId.ToString(CultureInfo.InvariantCulture), mig.Uuid];
            SetIf(_migMemoryTotal, labels, mig.MemoryTotal);
            SetIf(_migMemoryUsed, labels, mig.MemoryUsed);
            SetIf(_migMemoryFree, labels, mig.MemoryFree);
            SetIf(_migUtilization, labels, mig.Utilization);
        }

        PublishGpm(gpu, uuid, sample);
        _dcgm?.Publish(device, sample, last);
        return true;
    }

    /// <summary>
    /// Node events for changes between two samples of a healthy GPU: a slowdown reason starting or ending, new ECC
    /// errors, a row remap becoming pending or failing, the driver asking for a recovery action. The first sample only
    /// sets the baseline, except for states that already need attention (pending or failed remap, a recovery action).
    /// </summary>
    private void ReportTransitions(GpuDeviceSampler device, double[] v)
    {
        var state = device.Events;
        var first = !state.Seen;
        state.Seen = true;

        if (!double.IsNaN(v[(int)GpuValue.ClockEventReasons]))
        {
            var reasons = (ulong)v[(int)GpuValue.ClockEventReasons];
            var changed = first ? reasons & AlertingReasons : (reasons ^ state.Reasons) & AlertingReasons;
            for (var bit = 0; bit < ReasonNames.Length; bit++)
            {
                if ((changed & (1UL << bit)) == 0)
                {
                    continue;
                }

                if ((reasons & (1UL << bit)) != 0)
                {
                    LogReasonStarted(_logger, device.Index, device.Uuid, ReasonNames[bit]);
                }
                else
                {
                    LogReasonEnded(_logger, device.Index, device.Uuid, ReasonNames[bit]);
                }
            }

            state.Reasons = reasons;
        }

        for (var i = 0; i < 2; i++)
        {
            // Volatile counts: corrected (Ecc + 0) and uncorrected (Ecc + 2).
            var count = v[(int)GpuValue.Ecc + (2 * i)];
            if (double.IsNaN(count))
            {
                continue;
            }

            if (!first && !double.IsNaN(state.Ecc[i]) && count > state.Ecc[i])
            {
                var delta = (long)(count - state.Ecc[i]);
                if (i == 0)
                {
                    LogEccCorrected(_logger, device.Index, device.Uuid, delta, (long)count);
                }
                else
                {
                    LogEccUncorrected(_logger, device.Index, device.Uuid, delta, (long)count);
                }
            }

            state.Ecc[i] = count;
        }

        if (v[(int)GpuValue.RemapPending] is var pending && !double.IsNaN(pending))
        {
            if (pending == 1 && state.RemapPending != 1)
            {
                LogRemapPending(_logger, device.Index, device.Uuid, (long)Zero(v[(int)GpuValue.RemappedCorrectable]), (long)Zero(v[(int)GpuValue.RemappedUncorrectable]));
            }

            state.RemapPending = pending;
        }

        if (v[(int)GpuValue.RemapFailure] is var failure && !double.IsNaN(failure))
        {
            if (failure == 1 && state.RemapFailure != 1)
            {
                LogRemapFailure(_logger, device.Index, device.Uuid);
            }

            state.RemapFailure = failure;
        }

        if (v[(int)GpuValue.RecoveryAction] is var action && !double.IsNaN(action))
        {
            if (action != state.RecoveryAction && (action != 0 || !double.IsNaN(state.RecoveryAction)))
            {
                LogRecoveryAction(_logger, device.Index, device.Uuid, (int)action, RecoveryActionName((int)action));
            }

            state.RecoveryAction = action;
        }
    }

    private static double Zero(double value) => double.IsNaN(value) ? 0 : value;

    private static string RecoveryActionName(int action) => action switch
    {
        0 => "none",
        1 => "reset the GPU",
        2 => "reboot the node",
        3 => "drain peer-to-peer traffic",
        4 => "drain peer-to-peer traffic and reset the GPU",
        _ => "see NVIDIA's documentation for this action",
    };

    private void PublishGpm(string gpu, string uuid, GpuSample sample)
    {
        var v = sample.Values;
        for (var i = 0; i < Gpm.Length; i++)
        {
            var value = v[(int)GpuValue.Gpm + i];
            if (double.IsNaN(value))
            {
                continue;
            }

            (Gpm[i].Value is { } label ? _gpm[i].Get(gpu, uuid, label) : _gpm[i].Get(gpu, uuid)).Set(value);
        }

        foreach (var mig in sample.GpmMig)
        {
            var instance = mig.GpuInstanceId.ToString(CultureInfo.InvariantCulture);
            for (var i = 0; i < Gpm.Length; i++)
            {
                if (!double.IsNaN(mig.Values[i]))
                {
                    (Gpm[i].Value is { } label ? _gpmMig[i].Get([gpu, uuid, instance, label]) : _gpmMig[i].Get(gpu, uuid, instance)).Set(mig.Values[i]);
                }
            }
        }
    }

    private static void SetIf(MetricFamily family, ReadOnlySpan<char> gpu, ReadOnlySpan<char> uuid, ReadOnlySpan<char> label, double value)
    {
        if (!double.IsNaN(value))
        {
            family.Get(gpu, uuid, label).Set(value);
        }
    }

    private static void SetIf(MetricFamily family, string[] labels, double value)
    {
        if (!double.IsNaN(value))
        {
            family.Get(labels).Set(value);
        }
    }

    /// <summary>Writes the XID counters (every catalogued code from 0) and returns the last XID seen, if any.</summary>
    private (double Time, ulong Xid)? WriteXids(GpuDeviceSampler device, ReadOnlySpan<char> gpu, out long total)
    {
        total = 0;
        // Every catalogued code starts at 0 so increase() sees the first occurrence (alerting.md, pitfalls).
        Span<char> code = stackalloc char[20];
        var codes = XidCatalog.KnownCodes;
        for (var k = 0; k < codes.Count; k++)
        {
            // Indexed, not foreach: enumerating an IReadOnlyList boxes its enumerator on every GPU and tick.
            codes[k].TryFormat(code, out var n, default, CultureInfo.InvariantCulture);
            _xids.Get(gpu, device.Uuid, code[..n]).Set(0);
        }

        lock (_xidLock)
        {
            foreach (var ((uuid, xid), count) in _xidCounts)
            {
                if (uuid == device.Uuid)
                {
                    total += count;
                    xid.TryFormat(code, out var n, default, CultureInfo.InvariantCulture);
                    _xids.Get(gpu, device.Uuid, code[..n]).Set(count);
                }
            }

            if (_lastXidSeen.TryGetValue(device.Uuid, out var last))
            {
                _lastXid.Get(gpu, device.Uuid).Set(last.Time);
                return last;
            }
        }

        return null;
    }

    [LoggerMessage(EventId = EventIds.NvmlUnavailable, EventName = "nvml_unavailable", Level = LogLevel.Information,
        Message = "NVML not available, GPU metrics off (gpu_nvml_up 0); retrying with backoff up to every {RetrySeconds} s: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason, double retrySeconds);

    [LoggerMessage(EventId = EventIds.NvmlStarted, EventName = "nvml_started", Level = LogLevel.Information, Message = "NVML initialized: {Count} GPUs, driver {Driver}")]
    private static partial void LogStarted(ILogger logger, int count, string driver);

    [LoggerMessage(EventId = EventIds.GpuLost, EventName = "gpu_lost", Level = LogLevel.Error, Message = "GPU {Gpu} ({Uuid}) is lost (GPU_IS_LOST); the other GPUs keep reporting")]
    private static partial void LogLost(ILogger logger, int gpu, string uuid);

    [LoggerMessage(EventId = EventIds.GpuXid, EventName = "gpu_xid", Level = LogLevel.Error,
        Message = "XID {Xid} on GPU {Gpu} ({Uuid}): {Description}; resolution {Resolution}: {Action}")]
    private static partial void LogXid(ILogger logger, int gpu, string uuid, ulong xid, string description, string resolution, string action);

    [LoggerMessage(EventId = EventIds.XidListenerStopped, EventName = "xid_listener_stopped", Level = LogLevel.Warning, Message = "XID listener stopped: {Reason}")]
    private static partial void LogXidListenerStopped(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.GpuSamplingStalled, EventName = "gpu_sampling_stalled", Level = LogLevel.Error,
        Message = "GPU {Gpu} ({Uuid}): an NVML call has not returned within {TimeoutSeconds} s; reporting it as stalled (gpu_up 0) while the other GPUs keep reporting")]
    private static partial void LogStalled(ILogger logger, int gpu, string uuid, double timeoutSeconds);

    [LoggerMessage(EventId = EventIds.GpuSamplingRecovered, EventName = "gpu_sampling_recovered", Level = LogLevel.Warning, Message = "GPU {Gpu} ({Uuid}): sampling completes again")]
    private static partial void LogRecovered(ILogger logger, int gpu, string uuid);

    [LoggerMessage(EventId = EventIds.GpuSamplingFailed, EventName = "gpu_sampling_failed", Level = LogLevel.Error,
        Message = "GPU {Gpu} ({Uuid}): sampling failed (gpu_up 0 until it succeeds again); the other GPUs keep reporting")]
    private static partial void LogSamplingFailed(ILogger logger, Exception exception, int gpu, string uuid);

    [LoggerMessage(EventId = EventIds.GpuSlowdownStarted, EventName = "gpu_slowdown_started", Level = LogLevel.Warning,
        Message = "GPU {Gpu} ({Uuid}): clocks held down by {Reason}")]
    private static partial void LogReasonStarted(ILogger logger, int gpu, string uuid, string reason);

    [LoggerMessage(EventId = EventIds.GpuSlowdownEnded, EventName = "gpu_slowdown_ended", Level = LogLevel.Information,
        Message = "GPU {Gpu} ({Uuid}): {Reason} no longer holds the clocks down")]
    private static partial void LogReasonEnded(ILogger logger, int gpu, string uuid, string reason);

    [LoggerMessage(EventId = EventIds.GpuEccCorrected, EventName = "gpu_ecc_corrected", Level = LogLevel.Information,
        Message = "GPU {Gpu} ({Uuid}): {Delta} new corrected ECC errors ({Total} since the driver loaded)")]
    private static partial void LogEccCorrected(ILogger logger, int gpu, string uuid, long delta, long total);

    [LoggerMessage(EventId = EventIds.GpuEccUncorrected, EventName = "gpu_ecc_uncorrected", Level = LogLevel.Error,
        Message = "GPU {Gpu} ({Uuid}): {Delta} new uncorrectable ECC errors ({Total} since the driver loaded); drain and reset the GPU, RMA if they recur")]
    private static partial void LogEccUncorrected(ILogger logger, int gpu, string uuid, long delta, long total);

    [LoggerMessage(EventId = EventIds.GpuRemapPending, EventName = "gpu_remap_pending", Level = LogLevel.Warning,
        Message = "GPU {Gpu} ({Uuid}): a memory row remap waits for the next GPU reset ({Correctable} correctable, {Uncorrectable} uncorrectable rows remapped)")]
    private static partial void LogRemapPending(ILogger logger, int gpu, string uuid, long correctable, long uncorrectable);

    [LoggerMessage(EventId = EventIds.GpuRemapFailure, EventName = "gpu_remap_failure", Level = LogLevel.Error,
        Message = "GPU {Gpu} ({Uuid}): row remapping failed, NVIDIA's RMA criterion; drain the node and RMA the GPU")]
    private static partial void LogRemapFailure(ILogger logger, int gpu, string uuid);

    [LoggerMessage(EventId = EventIds.GpuRecoveryAction, EventName = "gpu_recovery_action", Level = LogLevel.Error,
        Message = "GPU {Gpu} ({Uuid}): the driver's recovery action is now {RecoveryAction} ({Action})")]
    private static partial void LogRecoveryAction(ILogger logger, int gpu, string uuid, int recoveryAction, string action);

    [LoggerMessage(EventId = EventIds.GpuRecovered, EventName = "gpu_recovered", Level = LogLevel.Warning, Message = "GPU {Gpu} ({Uuid}) answers NVML again after it was lost")]
    private static partial void LogRecoveredFromLoss(ILogger logger, int gpu, string uuid);

    [LoggerMessage(EventId = EventIds.NvmlExportsMissing, EventName = "nvml_exports_missing", Level = LogLevel.Warning,
        Message = "The NVML library lacks {Count} optional functions; the values that need them are absent (gpu_nvml_export_missing): {Exports}")]
    private static partial void LogMissingExports(ILogger logger, int count, string exports);

    [LoggerMessage(EventId = EventIds.GpuInaccessible, EventName = "gpu_inaccessible", Level = LogLevel.Error,
        Message = "GPU {Gpu} cannot be opened (nvmlDeviceGetHandleByIndex_v2: {Reason}); it is left out (gpu_up{{uuid=\"\"}} 0): check the device cgroup and the permissions of /dev/nvidia*")]
    private static partial void LogInaccessible(ILogger logger, int gpu, string reason);

    [LoggerMessage(EventId = EventIds.GpuUnidentified, EventName = "gpu_unidentified", Level = LogLevel.Error,
        Message = "GPU {Gpu} cannot be identified (nvmlDeviceGetUUID: {Reason}, {Code}); it reports gpu_up{{uuid=\"\"}} 0 until it answers")]
    private static partial void LogUnidentified(ILogger logger, int gpu, string reason, int code);

    [LoggerMessage(EventId = EventIds.NvmlSessionLost, EventName = "nvml_session_lost", Level = LogLevel.Warning,
        Message = "NVML session lost ({Reason}, {Code}): the driver was reloaded or no longer matches the library; re-initializing with backoff")]
    private static partial void LogSessionLost(ILogger logger, string reason, int code);
}
