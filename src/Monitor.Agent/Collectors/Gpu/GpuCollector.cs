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
    private readonly HashSet<(int Device, Call Call)> _unsupported = [];
    private List<Device>? _devices;
    private long _nextAttempt = long.MinValue;
    private string? _lastProblem;

    public GpuCollector(CollectorContext context)
        : this(context, new NativeNvml())
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
    }

    /// <summary>Registration: on by default, background at 1 s.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "gpu", "NVIDIA GPU metrics through NVML (no DCGM, no nvidia-smi).", true, Cadence.Background, TimeSpan.FromSeconds(1),
        c => new GpuCollector(c),
        [new CollectorFlag("nvml-library", NvmlLibrary.DefaultPath, "NVML library to load: a soname or a path (e.g. /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1).")]);

    /// <summary>Calls the collector has stopped making because the device said NOT_SUPPORTED.</summary>
    internal IReadOnlyCollection<(int Device, Call Call)> Unsupported => _unsupported;

    public void Update(CancellationToken cancellationToken)
    {
        if (_devices is null && !TryStart())
        {
            _nvmlUp.Get().Set(0);
            return;
        }

        _nvmlUp.Get().Set(1);
        Span<char> index = stackalloc char[11];
        foreach (var device in _devices!)
        {
            device.Index.TryFormat(index, out var n, default, CultureInfo.InvariantCulture);
            Sample(device, index[..n]);
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
        return true;
    }

    private void Sample(Device device, ReadOnlySpan<char> gpu)
    {
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

    [LoggerMessage(EventId = 3002, EventName = "gpu_lost", Level = LogLevel.Error, Message = "GPU {Gpu} ({Uuid}) is lost (GPU_IS_LOST); the other GPUs keep reporting")]
    private static partial void LogLost(ILogger logger, int gpu, string uuid);

    private sealed class Device(int index, nint handle, string uuid, string name)
    {
        public int Index { get; } = index;

        public nint Handle { get; } = handle;

        public string Uuid { get; } = uuid;

        public string Name { get; } = name;

        public bool Lost { get; set; }
    }
}
