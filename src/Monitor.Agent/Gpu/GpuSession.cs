using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Gpu;

/// <summary>
/// The NVML session: initialization, the device list, and the backoff around both. Without a driver it logs the
/// reason once and retries with backoff (1 s doubling to 60 s); the same backoff re-initializes NVML after the driver
/// is reloaded or the library no longer matches it (<see cref="Stop"/>). A device this process may not open is left
/// out with one log line (<see cref="Inaccessible"/>).
/// </summary>
internal sealed partial class GpuSession(INvml nvml, string libraryPath, GpuSamplerOptions options, TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(60);

    private readonly List<(string Index, string Problem)> _inaccessible = [];
    private long _nextAttempt = long.MinValue;
    private TimeSpan _retry = FirstRetry;
    private string? _lastProblem;

    /// <summary>The samplers of the open session; null while there is none.</summary>
    public List<GpuDeviceSampler>? Devices { get; private set; }

    /// <summary>Devices counted but not opened: their index and NVML's answer.</summary>
    public IReadOnlyList<(string Index, string Problem)> Inaccessible => _inaccessible;

    /// <summary>The optional NVML functions the loaded library lacks.</summary>
    public IReadOnlyList<string> MissingExports { get; private set; } = [];

    /// <summary>Opens a session when the backoff allows; true when one was opened by this call.</summary>
    public bool TryStart()
    {
        var now = time.GetTimestamp();
        if (now < _nextAttempt)
        {
            return false;
        }

        if (!TryOpen(out var problem))
        {
            _nextAttempt = now + (long)(_retry.TotalSeconds * time.TimestampFrequency);
            if (problem != _lastProblem)
            {
                LogUnavailable(logger, problem, MaxRetry.TotalSeconds);
                _lastProblem = problem;
            }

            _retry = TimeSpan.FromTicks(Math.Min(_retry.Ticks * 2, MaxRetry.Ticks));
            return false;
        }

        _retry = FirstRetry;
        _lastProblem = null;
        return true;
    }

    /// <summary>The session is gone (driver reloaded, version mismatch): drop the devices, shut NVML down, retry with backoff.</summary>
    public void Stop(NvmlReturn error)
    {
        LogSessionLost(logger, nvml.ErrorString(error), (int)error);
        Devices = null;
        _ = nvml.Shutdown();
        _lastProblem = null;
        _nextAttempt = time.GetTimestamp() + (long)(FirstRetry.TotalSeconds * time.TimestampFrequency);
        _retry = FirstRetry * 2;
    }

    private bool TryOpen(out string problem)
    {
        if (!nvml.TryInitialize(libraryPath, out var initProblem))
        {
            problem = initProblem ?? "unknown";
            return false;
        }

        var result = nvml.DeviceCount(out var count);
        if (result != NvmlReturn.Success)
        {
            problem = $"nvmlDeviceGetCount_v2: {nvml.ErrorString(result)} ({(int)result})";
            _ = nvml.Shutdown();
            return false;
        }

        var driver = nvml.DriverVersion(out var d) == NvmlReturn.Success ? d : string.Empty;
        var devices = new List<GpuDeviceSampler>((int)count);
        _inaccessible.Clear();
        for (var i = 0u; i < count; i++)
        {
            // A device this process may not open (cgroups, permissions) is counted but left out, as NVML documents;
            // it shows as gpu_up{uuid=""} 0 and the log says why.
            if (nvml.DeviceHandle(i, out var handle) is var opened && opened != NvmlReturn.Success)
            {
                var reason = $"{nvml.ErrorString(opened)} ({(int)opened})";
                _inaccessible.Add((i.ToString(CultureInfo.InvariantCulture), reason));
                LogInaccessible(logger, (int)i, reason);
                continue;
            }

            devices.Add(new GpuDeviceSampler(nvml, time, options, (int)i, handle, driver));
        }

        Devices = devices;
        LogStarted(logger, devices.Count, driver);
        MissingExports = nvml.MissingExports;
        if (MissingExports.Count > 0)
        {
            LogMissingExports(logger, MissingExports.Count, string.Join(", ", MissingExports));
        }

        problem = string.Empty;
        return true;
    }

    [LoggerMessage(EventId = EventIds.NvmlUnavailable, EventName = "nvml_unavailable", Level = LogLevel.Information,
        Message = "NVML not available, GPU metrics off (gpu_nvml_up 0); retrying with backoff up to every {RetrySeconds} s: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason, double retrySeconds);

    [LoggerMessage(EventId = EventIds.NvmlStarted, EventName = "nvml_started", Level = LogLevel.Information, Message = "NVML initialized: {Count} GPUs, driver {Driver}")]
    private static partial void LogStarted(ILogger logger, int count, string driver);

    [LoggerMessage(EventId = EventIds.NvmlExportsMissing, EventName = "nvml_exports_missing", Level = LogLevel.Warning,
        Message = "The NVML library lacks {Count} optional functions; the values that need them are absent (gpu_nvml_export_missing): {Exports}")]
    private static partial void LogMissingExports(ILogger logger, int count, string exports);

    [LoggerMessage(EventId = EventIds.GpuInaccessible, EventName = "gpu_inaccessible", Level = LogLevel.Error,
        Message = "GPU {Gpu} cannot be opened (nvmlDeviceGetHandleByIndex_v2: {Reason}); it is left out (gpu_up{{uuid=\"\"}} 0): check the device cgroup and the permissions of /dev/nvidia*")]
    private static partial void LogInaccessible(ILogger logger, int gpu, string reason);

    [LoggerMessage(EventId = EventIds.NvmlSessionLost, EventName = "nvml_session_lost", Level = LogLevel.Warning,
        Message = "NVML session lost ({Reason}, {Code}): the driver was reloaded or no longer matches the library; re-initializing with backoff")]
    private static partial void LogSessionLost(ILogger logger, string reason, int code);
}
