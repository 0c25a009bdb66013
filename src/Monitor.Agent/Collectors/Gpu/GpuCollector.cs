using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Gpu;

/// <summary>
/// GPU metrics from NVML, sampled in the background once a second, so a scrape never calls NVML. Native names in
/// base units with <c>gpu</c> and <c>uuid</c> labels, identity in one <c>gpu_info</c> series (architecture, metric
/// conventions). Without a driver it exports <c>gpu_nvml_up 0</c>, logs the reason once, retries every minute, and
/// the rest of the agent is unaffected. A call that returns NOT_SUPPORTED is remembered per device and never asked
/// again; GPU_IS_LOST marks only that device (<c>gpu_up 0</c>).
/// </summary>
/// <remarks>
/// Issue 3 in progress: this covers utilization, memory, temperature, power and energy. The rest of the metric set
/// (clocks, throttle reasons, ECC, remapping, PCIe, processes, XID events, dcgm compatibility) builds on it.
/// </remarks>
internal sealed partial class GpuCollector : ICollector
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMinutes(1);
    private static readonly string[] GpuLabels = ["gpu", "uuid"];

    /// <summary>NVML clock types in enum order (GRAPHICS=0, SM=1, MEM=2, VIDEO=3) and their label values.</summary>
    private static readonly string[] ClockNames = ["graphics", "sm", "memory", "video"];

    /// <summary>Clock event (throttle) reason bits 0x1…0x100 and their label values (reference nvml.md §6).</summary>
    private static readonly string[] ReasonNames =
        ["gpu_idle", "applications_clocks_setting", "sw_power_cap", "hw_slowdown", "sync_boost", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "display_clock_setting"];

    /// <summary>Max clocks and temperature thresholds are static; they are re-read at this slower cadence.</summary>
    private static readonly TimeSpan SlowInterval = TimeSpan.FromSeconds(30);

    private readonly INvml _nvml;
    private readonly string _libraryPath;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly MetricFamily _nvmlUp;
    private readonly MetricFamily _info;
    private readonly MetricFamily _up;
    private readonly MetricFamily _utilization;
    private readonly MetricFamily _memoryUtilization;
    private readonly MetricFamily _memoryTotal;
    private readonly MetricFamily _memoryUsed;
    private readonly MetricFamily _memoryFree;
    private readonly MetricFamily _memoryReserved;
    private readonly MetricFamily _temperature;
    private readonly MetricFamily _power;
    private readonly MetricFamily _energy;
    private readonly MetricFamily _clock;
    private readonly MetricFamily _maxClock;
    private readonly MetricFamily _pstate;
    private readonly MetricFamily _reason;
    private readonly MetricFamily _slowdown;
    private readonly MetricFamily _shutdown;
    private readonly MetricFamily _ecc;
    private readonly MetricFamily _remapped;
    private readonly MetricFamily _remapPending;
    private readonly MetricFamily _remapFailure;
    private readonly MetricFamily _pcieGeneration;
    private readonly MetricFamily _pcieWidth;
    private readonly MetricFamily _pcieReplays;
    private readonly MetricFamily _encoder;
    private readonly MetricFamily _decoder;
    private readonly MetricFamily _fan;
    private readonly MetricFamily _xids;
    private readonly MetricFamily _lastXid;
    private readonly Lock _xidLock = new();
    private readonly Dictionary<(int Device, ulong Xid), long> _xidCounts = [];
    private readonly Dictionary<int, double> _lastXidTime = [];
    private long _nextSlow = long.MinValue;
    private readonly HashSet<(int Device, Call Call)> _unsupported = [];
    private List<Device>? _devices;
    private long _nextAttempt = long.MinValue;
    private string? _lastProblem;

    public GpuCollector(CollectorContext context)
        : this(context, Simulated(context) is > 0 and var n ? new SimulatedNvml(n, context.Time) : new NativeNvml())
    {
    }

    internal GpuCollector(CollectorContext context, INvml nvml)
    {
        _nvml = nvml;
        _libraryPath = context.Settings["nvml-library"] is { Length: > 0 } path ? path : NvmlLibrary.DefaultPath;
        _logger = context.Logger;
        _time = context.Time;
        var g = context.Group;
        _nvmlUp = g.Gauge("gpu_nvml_up", "Whether NVML is loaded and initialized (1) or not (0: no driver, or it failed; see the log).");
        _info = g.Gauge("gpu_info", "GPU identity; always 1.", "gpu", "uuid", "name");
        _up = g.Gauge("gpu_up", "Whether the GPU answers NVML (0 after GPU_IS_LOST or another device error).", GpuLabels);
        _utilization = g.Gauge("gpu_utilization_ratio", "Fraction of the last sample period the GPU was busy (NVML utilization.gpu / 100).", GpuLabels);
        _memoryUtilization = g.Gauge("gpu_memory_utilization_ratio", "Fraction of the last sample period the memory controller was busy.", GpuLabels);
        _memoryTotal = g.Gauge("gpu_memory_total_bytes", "Total GPU memory.", GpuLabels);
        _memoryUsed = g.Gauge("gpu_memory_used_bytes", "GPU memory used by processes (NVML memory v2 used, as nvidia-smi reports).", GpuLabels);
        _memoryFree = g.Gauge("gpu_memory_free_bytes", "Free GPU memory.", GpuLabels);
        _memoryReserved = g.Gauge("gpu_memory_reserved_bytes", "GPU memory reserved by the driver.", GpuLabels);
        _temperature = g.Gauge("gpu_temperature_celsius", "GPU temperature.", GpuLabels);
        _power = g.Gauge("gpu_power_watts", "Power draw (NVML power usage; a 1 s average on Ampere and later, except GA100).", GpuLabels);
        _energy = g.Counter("gpu_energy_joules_total", "Energy consumed since the driver was loaded.", GpuLabels);
        _clock = g.Gauge("gpu_clock_hertz", "Current clock frequency.", "gpu", "uuid", "clock");
        _maxClock = g.Gauge("gpu_clock_max_hertz", "Maximum clock frequency.", "gpu", "uuid", "clock");
        _pstate = g.Gauge("gpu_performance_state", "Performance state: 0 (maximum) to 15 (minimum).", GpuLabels);
        _reason = g.Gauge("gpu_clock_event_reason", "Whether the reason currently holds the clocks down (1) or not (0); sw_power_cap at the power limit is normal under load.", "gpu", "uuid", "reason");
        _slowdown = g.Gauge("gpu_temperature_slowdown_threshold_celsius", "Temperature at which the GPU starts to slow down.", GpuLabels);
        _shutdown = g.Gauge("gpu_temperature_shutdown_threshold_celsius", "Temperature at which the GPU shuts down.", GpuLabels);
        _ecc = g.Counter("gpu_ecc_errors_total", "ECC errors; counter=volatile resets when the driver loads, counter=aggregate is the board's lifetime count.", "gpu", "uuid", "error", "counter");
        _remapped = g.Gauge("gpu_remapped_rows", "Memory rows remapped, by the error that caused it.", "gpu", "uuid", "error");
        _remapPending = g.Gauge("gpu_remapped_rows_pending", "Whether a row remap waits for the next GPU reset (1) or not (0).", GpuLabels);
        _remapFailure = g.Gauge("gpu_remapped_rows_failure", "Whether a row remap has failed (1): NVIDIA's RMA criterion.", GpuLabels);
        _pcieGeneration = g.Gauge("gpu_pcie_link_generation", "Current PCIe link generation.", GpuLabels);
        _pcieWidth = g.Gauge("gpu_pcie_link_width", "Current PCIe link width (lanes).", GpuLabels);
        _pcieReplays = g.Counter("gpu_pcie_replay_errors_total", "PCIe replay events.", GpuLabels);
        _encoder = g.Gauge("gpu_encoder_utilization_ratio", "Fraction of the sample period the video encoder was busy.", GpuLabels);
        _decoder = g.Gauge("gpu_decoder_utilization_ratio", "Fraction of the sample period the video decoder was busy.", GpuLabels);
        _fan = g.Gauge("gpu_fan_speed_ratio", "Fan speed as a fraction of its maximum (can exceed 1); absent on boards without fans.", GpuLabels);
        _xids = g.Counter("gpu_xid_errors_total", "XID errors reported by the driver through NVML events; every catalogued code starts at 0.", "gpu", "uuid", "xid");
        _lastXid = g.Gauge("gpu_last_xid_timestamp_seconds", "Unix time of the GPU's last XID error.", GpuLabels);
    }

    /// <summary>NVML calls that can be remembered as unsupported.</summary>
    internal enum Call
    {
        /// <summary>Utilization rates.</summary>
        Utilization,

        /// <summary>Memory info.</summary>
        Memory,

        /// <summary>GPU temperature.</summary>
        Temperature,

        /// <summary>Power usage.</summary>
        Power,

        /// <summary>Total energy.</summary>
        Energy,

        /// <summary>Current clocks (per type: <see cref="Clock"/> + type).</summary>
        Clock,

        /// <summary>Max clocks (per type).</summary>
        MaxClock = Clock + 4,

        /// <summary>Performance state.</summary>
        PerformanceState = MaxClock + 4,

        /// <summary>Clock event reasons.</summary>
        ClockEventReasons,

        /// <summary>Slowdown threshold.</summary>
        SlowdownThreshold,

        /// <summary>Shutdown threshold.</summary>
        ShutdownThreshold,

        /// <summary>ECC counters (per error and counter type: <see cref="Ecc"/> + errorType * 2 + counterType).</summary>
        Ecc,

        /// <summary>Remapped rows.</summary>
        RemappedRows = Ecc + 4,

        /// <summary>PCIe link generation and width.</summary>
        PcieLink,

        /// <summary>PCIe replay counter.</summary>
        PcieReplays,

        /// <summary>Encoder utilization.</summary>
        Encoder,

        /// <summary>Decoder utilization.</summary>
        Decoder,

        /// <summary>Fan speed.</summary>
        Fan,
    }

    /// <summary>Registration: on by default, background at 1 s.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "gpu", "NVIDIA GPU metrics through NVML (no DCGM, no nvidia-smi).", true, Cadence.Background, TimeSpan.FromSeconds(1),
        c => new GpuCollector(c),
        [new CollectorFlag("nvml-library", NvmlLibrary.DefaultPath, "NVML library to load: a soname or a path (e.g. /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1).")]);

    private static int Simulated(CollectorContext context) =>
        int.TryParse(context.Settings["simulate"], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;

    public void Update(CancellationToken cancellationToken)
    {
        if (_devices is null && !TryStart())
        {
            _nvmlUp.Get().Set(0);
            return;
        }

        _nvmlUp.Get().Set(1);
        var now = _time.GetTimestamp();
        var slow = now >= _nextSlow;
        if (slow)
        {
            _nextSlow = now + (long)(SlowInterval.TotalSeconds * _time.TimestampFrequency);
        }

        Span<char> index = stackalloc char[11];
        foreach (var device in _devices!)
        {
            device.Index.TryFormat(index, out var n, default, CultureInfo.InvariantCulture);
            Sample(device, index[..n], slow);
        }
    }

    private bool TryStart()
    {
        var now = _time.GetTimestamp();
        if (now < _nextAttempt)
        {
            return false;
        }

        _nextAttempt = now + (long)(RetryInterval.TotalSeconds * _time.TimestampFrequency);
        if (!_nvml.TryInitialize(_libraryPath, out var problem))
        {
            if (problem != _lastProblem)
            {
                LogUnavailable(_logger, problem ?? "unknown", RetryInterval.TotalSeconds);
                _lastProblem = problem;
            }

            return false;
        }

        var result = _nvml.DeviceCount(out var count);
        if (result != NvmlReturn.Success)
        {
            LogUnavailable(_logger, $"nvmlDeviceGetCount_v2: {_nvml.ErrorString(result)}", RetryInterval.TotalSeconds);
            return false;
        }

        var devices = new List<Device>((int)count);
        for (var i = 0u; i < count; i++)
        {
            // A device this process may not open (cgroups, permissions) is counted but left out, as NVML documents.
            if (_nvml.DeviceHandle(i, out var handle) != NvmlReturn.Success)
            {
                continue;
            }

            var uuid = _nvml.Uuid(handle, out var u) == NvmlReturn.Success ? u : string.Empty;
            var name = _nvml.Name(handle, out var m) == NvmlReturn.Success ? m : string.Empty;
            devices.Add(new Device((int)i, handle, uuid, name));
        }

        _devices = devices;
        LogStarted(_logger, devices.Count, string.Join(", ", devices.Select(d => d.Name).Distinct()));
        StartXidListener(devices);
        return true;
    }

    /// <summary>
    /// XIDs arrive through an NVML event set, waited on by a dedicated thread (a wait blocks up to its timeout, so it
    /// must not hold a pool thread). The thread only counts; the 1 s update writes the counts into the series.
    /// </summary>
    private void StartXidListener(List<Device> devices)
    {
        var set = _nvml.CreateXidEventSet([.. devices.Select(d => d.Handle)]);
        if (set == 0)
        {
            return;
        }

        var byHandle = devices.ToDictionary(d => d.Handle);
        var thread = new Thread(() => ListenForXids(set, byHandle), 256 * 1024) { IsBackground = true, Name = "nvml-xid" };
        thread.Start();
    }

    private void ListenForXids(nint set, Dictionary<nint, Device> devices)
    {
        while (true)
        {
            var result = _nvml.WaitEvent(set, 1000, out var data);
            if (result == NvmlReturn.Timeout)
            {
                continue;
            }

            if (result != NvmlReturn.Success)
            {
                // Uninitialized after shutdown, or a broken set: stop listening; the next re-init starts a new one.
                LogXidListenerStopped(_logger, _nvml.ErrorString(result));
                return;
            }

            if ((data.EventType & 0x8) == 0 || !devices.TryGetValue(data.Device, out var device))
            {
                continue;
            }

            var xid = data.EventData;
            lock (_xidLock)
            {
                _xidCounts[(device.Index, xid)] = _xidCounts.GetValueOrDefault((device.Index, xid)) + 1;
                _lastXidTime[device.Index] = _time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
            }

            var resolution = Monitor.Agent.Gpu.Xid.XidCatalog.Resolve((uint)Math.Min(xid, uint.MaxValue));
            LogXid(_logger, device.Index, device.Uuid, xid, Monitor.Agent.Gpu.Xid.XidCatalog.Describe((uint)Math.Min(xid, uint.MaxValue)),
                Monitor.Agent.Gpu.Xid.XidCatalog.Code(resolution), Monitor.Agent.Gpu.Xid.XidCatalog.Action(resolution));
        }
    }

    private void WriteXids(Device device, ReadOnlySpan<char> gpu)
    {
        // Every catalogued code starts at 0 so increase() sees the first occurrence (alerting.md, pitfalls).
        Span<char> code = stackalloc char[20];
        var codes = Monitor.Agent.Gpu.Xid.XidCatalog.KnownCodes;
        for (var k = 0; k < codes.Count; k++)
        {
            // Indexed, not foreach: enumerating an IReadOnlyList boxes its enumerator on every GPU and tick.
            codes[k].TryFormat(code, out var n, default, CultureInfo.InvariantCulture);
            _xids.Get(gpu, device.Uuid, code[..n]).Set(0);
        }

        lock (_xidLock)
        {
            foreach (var ((index, xid), count) in _xidCounts)
            {
                if (index == device.Index)
                {
                    xid.TryFormat(code, out var n, default, CultureInfo.InvariantCulture);
                    _xids.Get(gpu, device.Uuid, code[..n]).Set(count);
                }
            }

            if (_lastXidTime.TryGetValue(device.Index, out var last))
            {
                _lastXid.Get(gpu, device.Uuid).Set(last);
            }
        }
    }

    private void Sample(Device device, ReadOnlySpan<char> gpu, bool slow)
    {
        WriteXids(device, gpu);
        _info.Get(gpu, device.Uuid, device.Name).Set(1);
        var lost = false;

        if (Supported(device, Call.Utilization) && Ask(device, Call.Utilization, _nvml.Utilization(device.Handle, out var utilization), ref lost))
        {
            _utilization.Get(gpu, device.Uuid).Set(utilization.Gpu / 100.0);
            _memoryUtilization.Get(gpu, device.Uuid).Set(utilization.Memory / 100.0);
        }

        if (!lost && Supported(device, Call.Memory) && Ask(device, Call.Memory, _nvml.Memory(device.Handle, out var total, out var used, out var free, out var reserved), ref lost))
        {
            _memoryTotal.Get(gpu, device.Uuid).Set(total);
            _memoryUsed.Get(gpu, device.Uuid).Set(used);
            _memoryFree.Get(gpu, device.Uuid).Set(free);
            if (reserved is { } r)
            {
                _memoryReserved.Get(gpu, device.Uuid).Set(r);
            }
        }

        if (!lost && Supported(device, Call.Temperature) && Ask(device, Call.Temperature, _nvml.Temperature(device.Handle, out var celsius), ref lost))
        {
            _temperature.Get(gpu, device.Uuid).Set(celsius);
        }

        if (!lost && Supported(device, Call.Power) && Ask(device, Call.Power, _nvml.PowerUsage(device.Handle, out var milliwatts), ref lost))
        {
            _power.Get(gpu, device.Uuid).Set(milliwatts / 1000.0);
        }

        if (!lost && Supported(device, Call.Energy) && Ask(device, Call.Energy, _nvml.Energy(device.Handle, out var millijoules), ref lost))
        {
            _energy.Get(gpu, device.Uuid).Set(millijoules / 1000.0);
        }

        for (var type = 0; type < ClockNames.Length && !lost; type++)
        {
            if (Supported(device, Call.Clock + type) && Ask(device, Call.Clock + type, _nvml.Clock(device.Handle, type, out var mhz), ref lost))
            {
                _clock.Get(gpu, device.Uuid, ClockNames[type]).Set(mhz * 1e6);
            }
        }

        if (!lost && Supported(device, Call.PerformanceState) && Ask(device, Call.PerformanceState, _nvml.PerformanceState(device.Handle, out var pstate), ref lost) && pstate is >= 0 and <= 15)
        {
            _pstate.Get(gpu, device.Uuid).Set(pstate);
        }

        if (!lost && Supported(device, Call.ClockEventReasons) && Ask(device, Call.ClockEventReasons, _nvml.ClockEventReasons(device.Handle, out var reasons), ref lost))
        {
            for (var bit = 0; bit < ReasonNames.Length; bit++)
            {
                _reason.Get(gpu, device.Uuid, ReasonNames[bit]).Set((reasons >> bit) & 1);
            }
        }

        if (!lost && Supported(device, Call.Encoder) && Ask(device, Call.Encoder, _nvml.CodecUtilization(device.Handle, decoder: false, out var encoder), ref lost))
        {
            _encoder.Get(gpu, device.Uuid).Set(encoder / 100.0);
        }

        if (!lost && Supported(device, Call.Decoder) && Ask(device, Call.Decoder, _nvml.CodecUtilization(device.Handle, decoder: true, out var decoder), ref lost))
        {
            _decoder.Get(gpu, device.Uuid).Set(decoder / 100.0);
        }

        if (!lost && Supported(device, Call.Fan) && Ask(device, Call.Fan, _nvml.FanSpeed(device.Handle, out var fan), ref lost))
        {
            _fan.Get(gpu, device.Uuid).Set(fan / 100.0);
        }

        if (!lost && Supported(device, Call.PcieReplays) && Ask(device, Call.PcieReplays, _nvml.PcieReplays(device.Handle, out var replays), ref lost))
        {
            _pcieReplays.Get(gpu, device.Uuid).Set(replays);
        }

        if (!lost)
        {
            SampleStatic(device, gpu, slow, ref lost);
        }

        _up.Get(gpu, device.Uuid).Set(lost ? 0 : 1);
        if (lost != device.Lost)
        {
            device.Lost = lost;
            if (lost)
            {
                LogLost(_logger, device.Index, device.Uuid);
            }
        }
    }

    /// <summary>
    /// Max clocks, thresholds, ECC counters, remapped rows and the PCIe link: read at the slow cadence, and kept in between (the runner drops series an update
    /// does not set, so the last values are set again from the cache).
    /// </summary>
    private void SampleStatic(Device device, ReadOnlySpan<char> gpu, bool slow, ref bool lost)
    {
        if (slow)
        {
            for (var type = 0; type < ClockNames.Length && !lost; type++)
            {
                device.MaxClocks[type] = Supported(device, Call.MaxClock + type) && Ask(device, Call.MaxClock + type, _nvml.MaxClock(device.Handle, type, out var mhz), ref lost) ? mhz : null;
            }

            device.Slowdown = !lost && Supported(device, Call.SlowdownThreshold) && Ask(device, Call.SlowdownThreshold, _nvml.TemperatureThreshold(device.Handle, 1, out var slowdown), ref lost) ? slowdown : null;
            device.Shutdown = !lost && Supported(device, Call.ShutdownThreshold) && Ask(device, Call.ShutdownThreshold, _nvml.TemperatureThreshold(device.Handle, 0, out var shutdown), ref lost) ? shutdown : null;
            for (var i = 0; i < 4 && !lost; i++)
            {
                device.Ecc[i] = Supported(device, Call.Ecc + i) && Ask(device, Call.Ecc + i, _nvml.EccErrors(device.Handle, i / 2, i % 2, out var count), ref lost) ? count : null;
            }

            device.Remap = !lost && Supported(device, Call.RemappedRows) && Ask(device, Call.RemappedRows, _nvml.RemappedRows(device.Handle, out var corr, out var unc, out var pending, out var failure), ref lost)
                ? (corr, unc, pending, failure)
                : null;
            device.Pcie = !lost && Supported(device, Call.PcieLink) && Ask(device, Call.PcieLink, _nvml.PcieLink(device.Handle, out var generation, out var width), ref lost)
                ? (generation, width)
                : null;
        }

        for (var i = 0; i < 4; i++)
        {
            if (device.Ecc[i] is { } count)
            {
                _ecc.Get(device.IndexLabel, device.Uuid, i / 2 == 0 ? "corrected" : "uncorrected", i % 2 == 0 ? "volatile" : "aggregate").Set(count);
            }
        }

        if (device.Remap is { } remap)
        {
            _remapped.Get(gpu, device.Uuid, "correctable").Set(remap.Correctable);
            _remapped.Get(gpu, device.Uuid, "uncorrectable").Set(remap.Uncorrectable);
            _remapPending.Get(gpu, device.Uuid).Set(remap.Pending != 0 ? 1 : 0);
            _remapFailure.Get(gpu, device.Uuid).Set(remap.Failure != 0 ? 1 : 0);
        }

        if (device.Pcie is { } pcie)
        {
            _pcieGeneration.Get(gpu, device.Uuid).Set(pcie.Generation);
            _pcieWidth.Get(gpu, device.Uuid).Set(pcie.Width);
        }

        for (var type = 0; type < ClockNames.Length; type++)
        {
            if (device.MaxClocks[type] is { } mhz)
            {
                _maxClock.Get(gpu, device.Uuid, ClockNames[type]).Set(mhz * 1e6);
            }
        }

        if (device.Slowdown is { } slowdownCelsius)
        {
            _slowdown.Get(gpu, device.Uuid).Set(slowdownCelsius);
        }

        if (device.Shutdown is { } shutdownCelsius)
        {
            _shutdown.Get(gpu, device.Uuid).Set(shutdownCelsius);
        }
    }

    private bool Supported(Device device, Call call) => !_unsupported.Contains((device.Index, call));

    /// <summary>
    /// True when the value may be used. The first NOT_SUPPORTED is remembered (NVML costs ~130 µs to say no) and
    /// the call is never made again for that device; GPU_IS_LOST stops this device's sample.
    /// </summary>
    private bool Ask(Device device, Call call, NvmlReturn result, ref bool lost)
    {
        switch (result)
        {
            case NvmlReturn.Success:
                return true;
            case NvmlReturn.NotSupported:
                _unsupported.Add((device.Index, call));
                return false;
            case NvmlReturn.GpuIsLost:
                lost = true;
                return false;
            default:
                return false;
        }
    }

    [LoggerMessage(EventId = 3000, EventName = "nvml_unavailable", Level = LogLevel.Information,
        Message = "NVML not available, GPU metrics off (gpu_nvml_up 0); retrying every {RetrySeconds} s: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason, double retrySeconds);

    [LoggerMessage(EventId = 3001, EventName = "nvml_started", Level = LogLevel.Information, Message = "NVML initialized: {Count} GPUs ({Models})")]
    private static partial void LogStarted(ILogger logger, int count, string models);

    [LoggerMessage(EventId = 3003, EventName = "gpu_xid", Level = LogLevel.Error,
        Message = "XID {Xid} on GPU {Gpu} ({Uuid}): {Description}; resolution {Resolution}: {Action}")]
    private static partial void LogXid(ILogger logger, int gpu, string uuid, ulong xid, string description, string resolution, string action);

    [LoggerMessage(EventId = 3004, EventName = "xid_listener_stopped", Level = LogLevel.Warning, Message = "XID listener stopped: {Reason}")]
    private static partial void LogXidListenerStopped(ILogger logger, string reason);

    [LoggerMessage(EventId = 3002, EventName = "gpu_lost", Level = LogLevel.Error, Message = "GPU {Gpu} ({Uuid}) is lost (GPU_IS_LOST); the other GPUs keep reporting")]
    private static partial void LogLost(ILogger logger, int gpu, string uuid);

    private sealed class Device(int index, nint handle, string uuid, string name)
    {
        public int Index { get; } = index;

        /// <summary>The index as a label value, for the four-label families whose lookup takes strings.</summary>
        public string IndexLabel { get; } = index.ToString(CultureInfo.InvariantCulture);

        public nint Handle { get; } = handle;

        public string Uuid { get; } = uuid;

        public string Name { get; } = name;

        public bool Lost { get; set; }

        public uint?[] MaxClocks { get; } = new uint?[4];

        public uint? Slowdown { get; set; }

        public uint? Shutdown { get; set; }

        public ulong?[] Ecc { get; } = new ulong?[4];

        public (uint Correctable, uint Uncorrectable, uint Pending, uint Failure)? Remap { get; set; }

        public (uint Generation, uint Width)? Pcie { get; set; }
    }
}
