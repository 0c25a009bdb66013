using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Gpu;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Agent.Gpu.Xid;
using Monitor.Agent.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Gpu;

/// <summary>
/// GPU metrics from NVML: turns each GPU's latest sample into series. Native names in base units with <c>gpu</c> and
/// <c>uuid</c> labels, one family per <see cref="GpuCatalog"/> name, identity in one <c>gpu_info</c> series
/// (architecture, metric conventions); with <c>--compat.dcgm</c> also dcgm-exporter's default set
/// (<see cref="DcgmCompat"/>).
/// </summary>
/// <remarks>
/// A background collector at 1 s: a scrape never calls NVML. Each update starts every GPU's
/// <see cref="GpuDeviceSampler"/> on that GPU's own thread, waits up to <c>--collector.gpu.device-timeout</c>, and
/// writes what finished; a GPU whose NVML call hangs is reported as stalled (<c>gpu_up 0</c>) and not waited for again
/// until that call returns. The NVML session and its backoff are <see cref="GpuSession"/>'s, XIDs
/// <see cref="XidListener"/>'s, node events <see cref="GpuEventDetector"/>'s. After writing, the update hands the
/// samples to <see cref="GpuTelemetry"/> (the jobs collector integrates them) on this same thread.
/// </remarks>
internal sealed partial class GpuCollector : ICollector
{
    private static readonly string[] GpuLabels = ["gpu", "uuid"];

    private readonly INvml _nvml;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _deviceTimeout;
    private readonly GpuSession _session;
    private readonly XidListener _xidListener;
    private readonly GpuEventDetector _events;
    private readonly DcgmCompat? _dcgm;
    private readonly GpuTelemetry _telemetry;

    /// <summary>The native family of each <see cref="GpuCatalog.Metrics"/> row, by row.</summary>
    private readonly MetricFamily[] _metrics;
    private readonly MetricFamily _nvmlUp;
    private readonly MetricFamily _info;
    private readonly MetricFamily _up;
    private readonly MetricFamily _stalled;
    private readonly MetricFamily _nvlinkUp;
    private readonly MetricFamily _processMemory;
    private readonly MetricFamily _processUtilization;
    private readonly MetricFamily _processMemoryUtilization;
    private readonly MetricFamily _migMemoryTotal;
    private readonly MetricFamily _migMemoryUsed;
    private readonly MetricFamily _migMemoryFree;
    private readonly MetricFamily _migUtilization;

    /// <summary>The per-GPU-instance family of each <see cref="GpuCatalog.Gpm"/> row (<c>gpu_mig_*</c>).</summary>
    private readonly MetricFamily[] _gpmMig;
    private readonly MetricFamily _xids;
    private readonly MetricFamily _lastXid;
    private readonly MetricFamily _exportMissing;
    private readonly List<(ulong Xid, long Count)> _xidCounts = [];
    private readonly List<GpuTickDevice> _tick = [];
    private List<TrackedGpu>? _devices;

    public GpuCollector(CollectorContext context)
        : this(context, Setting(context, "simulate", 0) is > 0 and var n ? new SimulatedNvml(n, context.Time) : new NativeNvml())
    {
    }

    internal GpuCollector(CollectorContext context, INvml nvml)
    {
        _nvml = nvml;
        _logger = context.Logger;
        _time = context.Time;
        var options = new GpuSamplerOptions(
            context.PositiveDuration("slow-interval", DefaultSlowInterval),
            bool.TryParse(context.Settings["pcie-throughput"], out var pcie) && pcie,
            !bool.TryParse(context.Settings["processes"], out var processes) || processes,
            context.PositiveDuration("gpm-interval", DefaultGpmInterval));
        _deviceTimeout = context.PositiveDuration("device-timeout", DefaultDeviceTimeout);
        var libraryPath = context.Settings["nvml-library"] is { Length: > 0 } path ? path : NvmlLibrary.DefaultPath;
        _session = new GpuSession(nvml, libraryPath, options, _time, _logger);
        _xidListener = new XidListener(nvml, _time, _logger);
        _events = new GpuEventDetector(_logger);
        _telemetry = context.Services.Gpu;
        var g = context.Group;
        _nvmlUp = g.Gauge("gpu_nvml_up", "Whether NVML is loaded and initialized (1) or not (0: no driver, or it failed; see the log).");
        _info = g.Gauge("gpu_info", "GPU identity; always 1. gpm=\"unsupported\" on GPUs without GPM profiling (pre-Hopper, or an older driver).", "gpu", "uuid", "name", "pci_bus_id", "serial", "driver_version", "vbios_version", "compute_capability", "gpm");
        _up = g.Gauge("gpu_up", "Whether the GPU answers NVML (0 after GPU_IS_LOST, or while its sampling is stalled).", GpuLabels);
        _stalled = g.Gauge("gpu_sampling_stalled", "Whether an NVML call for this GPU has not returned within --collector.gpu.device-timeout (1) or not (0).", GpuLabels);
        // One family per catalogue name; labelled members (clock, error, pipe, direction …) share it.
        var families = new Dictionary<string, MetricFamily>(StringComparer.Ordinal);
        foreach (var metric in GpuCatalog.Metrics.Where(m => !families.ContainsKey(m.Name)).DistinctBy(m => m.Name))
        {
            string[] labels = [.. GpuLabels, .. metric.LabelNames];
            families[metric.Name] = metric.Counter ? g.Counter(metric.Name, metric.Help, labels) : g.Gauge(metric.Name, metric.Help, labels);
        }

        _metrics = [.. GpuCatalog.Metrics.Select(m => families[m.Name])];
        _nvlinkUp = g.Gauge("gpu_nvlink_link_up", "Whether the NVLink link is active (1) or not (0).", "gpu", "uuid", "link");
        _processMemory = g.Gauge("gpu_process_memory_used_bytes", "GPU memory used by a compute process.", "gpu", "uuid", "pid");
        _processUtilization = g.Gauge("gpu_process_utilization_ratio", "Fraction of the last second the process kept the GPU's SMs busy.", "gpu", "uuid", "pid");
        _processMemoryUtilization = g.Gauge("gpu_process_memory_utilization_ratio", "Fraction of the last second the process kept the memory controller busy.", "gpu", "uuid", "pid");
        string[] migLabels = ["gpu", "uuid", "gpu_instance", "compute_instance", "mig_uuid"];
        _migMemoryTotal = g.Gauge("gpu_mig_memory_total_bytes", "Memory of a MIG device.", migLabels);
        _migMemoryUsed = g.Gauge("gpu_mig_memory_used_bytes", "Memory used on a MIG device.", migLabels);
        _migMemoryFree = g.Gauge("gpu_mig_memory_free_bytes", "Memory free on a MIG device.", migLabels);
        _migUtilization = g.Gauge("gpu_mig_utilization_ratio", "Fraction of time the MIG device was busy, where the driver reports it.", migLabels);
        var gpmMig = GpuCatalog.Gpm.DistinctBy(m => m.Name).ToDictionary(
            m => m.Name, m => g.Gauge("gpu_mig_" + m.Name["gpu_".Length..], m.Help + " Per MIG GPU instance.", ["gpu", "uuid", "gpu_instance", .. m.LabelNames]));
        _gpmMig = [.. GpuCatalog.Gpm.Select(m => gpmMig[m.Name])];
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
        ])
    {
        NodeExporter = false,
    };

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
            if (!device.Sampler.Busy)
            {
                device.Sampler.Start();
            }
        }

        var deadline = _time.GetTimestamp() + (long)(_deviceTimeout.TotalSeconds * _time.TimestampFrequency);
        NvmlReturn? sessionError = null;
        _tick.Clear();
        foreach (var device in devices)
        {
            var sampler = device.Sampler;
            var finished = sampler.Wait(_time.GetElapsedTime(_time.GetTimestamp(), deadline));
            if (finished == device.Stalled)
            {
                device.Stalled = !finished;
                if (finished)
                {
                    LogRecovered(_logger, sampler.Index, sampler.Uuid);
                }
                else
                {
                    LogStalled(_logger, sampler.Index, sampler.Uuid, _deviceTimeout.TotalSeconds);
                }
            }

            sessionError ??= sampler.SessionError;
            var healthy = Publish(device);
            if (sampler.Uuid.Length > 0 && _telemetry.HasSubscribers)
            {
                // Only with a listener (the jobs collector): 8 small records a second otherwise spent for nothing.
                _tick.Add(new GpuTickDevice(sampler.Index, sampler.Uuid, device.Sample, healthy));
            }
        }

        foreach (var (index, _) in _session.Inaccessible)
        {
            _up.Get(index, string.Empty).Set(0);
        }

        foreach (var export in _session.MissingExports)
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
            _session.Stop(error);
            _xidListener.Stop();
            _devices = null;
            _nvmlUp.Get().Set(0);
            return;
        }

        _nvmlUp.Get().Set(1);
    }

    private static int Setting(CollectorContext context, string key, int fallback) =>
        int.TryParse(context.Settings[key], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : fallback;

    private bool TryStart()
    {
        if (!_session.TryStart())
        {
            return false;
        }

        var samplers = _session.Devices!;
        _devices = [.. samplers.Select(s => new TrackedGpu(s))];
        _xidListener.Start(samplers);
        return true;
    }

    /// <summary>Writes one GPU's series from its latest sample (copied into its <see cref="TrackedGpu.Sample"/>); true when it is healthy.</summary>
    private bool Publish(TrackedGpu device)
    {
        var sampler = device.Sampler;
        var sample = device.Sample;
        var gpu = sampler.IndexLabel;
        var uuid = sampler.Uuid;
        _stalled.Get(gpu, uuid).Set(device.Stalled ? 1 : 0);

        // Logged whether or not the GPU is identified yet: a failure in identification must not be silent.
        var error = sampler.Error;
        if ((error is not null) != device.ReportedError)
        {
            device.ReportedError = error is not null;
            if (error is not null)
            {
                LogSamplingFailed(_logger, error, sampler.Index, uuid.Length > 0 ? uuid : "not identified");
            }
        }

        if (uuid.Length == 0)
        {
            // Not identified yet (its first tick is stalled or failed): only its index is known.
            var identify = sampler.Busy ? NvmlReturn.Success : sampler.IdentifyResult;
            if ((identify != NvmlReturn.Success) != device.ReportedIdentify)
            {
                device.ReportedIdentify = identify != NvmlReturn.Success;
                if (identify != NvmlReturn.Success)
                {
                    LogUnidentified(_logger, sampler.Index, _nvml.ErrorString(identify), (int)identify);
                }
            }

            _up.Get(gpu, uuid).Set(0);
            return false;
        }

        var id = sampler.Identity;
        _info.Get([gpu, uuid, sampler.Name, id.PciBusId, id.Serial, id.DriverVersion, id.VbiosVersion, id.ComputeCapability, id.Gpm]).Set(1);
        var last = WriteXids(sampler, gpu, out var xidTotal);
        sampler.CopyPublished(sample);
        sample.XidErrors = xidTotal;
        sample.LastXid = last is { } lastXid ? (uint)Math.Min(lastXid.Xid, uint.MaxValue) : 0;

        var healthy = !device.Stalled && !sample.Lost && sample.Timestamp != 0 && error is null;
        _up.Get(gpu, uuid).Set(healthy ? 1 : 0);
        if (sample.Lost != device.ReportedLost)
        {
            device.ReportedLost = sample.Lost;
            if (sample.Lost)
            {
                LogLost(_logger, sampler.Index, uuid);
            }
            else
            {
                LogRecoveredFromLoss(_logger, sampler.Index, uuid);
            }
        }

        if (!healthy)
        {
            return false;
        }

        var v = sample.Values;
        _events.Report(device, v);
        WriteValues(gpu, uuid, v);
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

        WriteGpmMig(gpu, uuid, sample);
        _dcgm?.Publish(sampler, sample, last);
        return true;
    }

    /// <summary>Every catalogue value the sample holds, into its family (NaN: absent, no series).</summary>
    private void WriteValues(string gpu, string uuid, double[] v)
    {
        var metrics = GpuCatalog.Metrics;
        for (var i = 0; i < metrics.Length; i++)
        {
            var metric = metrics[i];
            var value = v[(int)metric.Value];
            if (double.IsNaN(value))
            {
                continue;
            }

            var labels = metric.LabelValues;
            if (metric.Bits is { } bits)
            {
                // A bit mask: one series per bit.
                var mask = (ulong)value;
                for (var bit = 0; bit < bits.Length; bit++)
                {
                    _metrics[i].Get(gpu, uuid, bits[bit]).Set((mask >> bit) & 1);
                }
            }
            else if (labels.Length == 0)
            {
                _metrics[i].Get(gpu, uuid).Set(value);
            }
            else if (labels.Length == 1)
            {
                _metrics[i].Get(gpu, uuid, labels[0]).Set(value);
            }
            else
            {
                // Two extra labels at most (ECC's error and counter): a fixed-size list stays on the stack, a spread would not.
                _metrics[i].Get([gpu, uuid, labels[0], labels[1]]).Set(value);
            }
        }
    }

    /// <summary>GPM values per MIG GPU instance (<c>gpu_mig_*</c>).</summary>
    private void WriteGpmMig(string gpu, string uuid, GpuSample sample)
    {
        foreach (var mig in sample.GpmMig)
        {
            var instance = mig.GpuInstanceId.ToString(CultureInfo.InvariantCulture);
            for (var i = 0; i < GpuCatalog.Gpm.Length; i++)
            {
                if (!double.IsNaN(mig.Values[i]))
                {
                    var labels = GpuCatalog.Gpm[i].LabelValues;
                    (labels.Length == 0 ? _gpmMig[i].Get(gpu, uuid, instance) : _gpmMig[i].Get([gpu, uuid, instance, labels[0]])).Set(mig.Values[i]);
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

        var last = _xidListener.CopyCounts(device.Uuid, _xidCounts);
        foreach (var (xid, count) in _xidCounts)
        {
            total += count;
            xid.TryFormat(code, out var n, default, CultureInfo.InvariantCulture);
            _xids.Get(gpu, device.Uuid, code[..n]).Set(count);
        }

        if (last is { } seen)
        {
            _lastXid.Get(gpu, device.Uuid).Set(seen.Time);
        }

        return last;
    }

    [LoggerMessage(EventId = EventIds.GpuLost, EventName = "gpu_lost", Level = LogLevel.Error, Message = "GPU {Gpu} ({Uuid}) is lost (GPU_IS_LOST); the other GPUs keep reporting")]
    private static partial void LogLost(ILogger logger, int gpu, string uuid);

    [LoggerMessage(EventId = EventIds.GpuSamplingStalled, EventName = "gpu_sampling_stalled", Level = LogLevel.Error,
        Message = "GPU {Gpu} ({Uuid}): an NVML call has not returned within {TimeoutSeconds} s; reporting it as stalled (gpu_up 0) while the other GPUs keep reporting")]
    private static partial void LogStalled(ILogger logger, int gpu, string uuid, double timeoutSeconds);

    [LoggerMessage(EventId = EventIds.GpuSamplingRecovered, EventName = "gpu_sampling_recovered", Level = LogLevel.Warning, Message = "GPU {Gpu} ({Uuid}): sampling completes again")]
    private static partial void LogRecovered(ILogger logger, int gpu, string uuid);

    [LoggerMessage(EventId = EventIds.GpuSamplingFailed, EventName = "gpu_sampling_failed", Level = LogLevel.Error,
        Message = "GPU {Gpu} ({Uuid}): sampling failed (gpu_up 0 until it succeeds again); the other GPUs keep reporting")]
    private static partial void LogSamplingFailed(ILogger logger, Exception exception, int gpu, string uuid);

    [LoggerMessage(EventId = EventIds.GpuRecovered, EventName = "gpu_recovered", Level = LogLevel.Warning, Message = "GPU {Gpu} ({Uuid}) answers NVML again after it was lost")]
    private static partial void LogRecoveredFromLoss(ILogger logger, int gpu, string uuid);

    [LoggerMessage(EventId = EventIds.GpuUnidentified, EventName = "gpu_unidentified", Level = LogLevel.Error,
        Message = "GPU {Gpu} cannot be identified (nvmlDeviceGetUUID: {Reason}, {Code}); it reports gpu_up{{uuid=\"\"}} 0 until it answers")]
    private static partial void LogUnidentified(ILogger logger, int gpu, string reason, int code);
}
