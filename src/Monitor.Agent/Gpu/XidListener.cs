using Microsoft.Extensions.Logging;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Agent.Gpu.Xid;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Gpu;

/// <summary>
/// XIDs arrive through an NVML event set, waited on by a dedicated thread (a wait blocks up to its timeout, so it must
/// not hold a pool thread). The thread also registers the devices, since registration calls every device and one may
/// hang. It counts per GPU and code and logs each XID (event 3004) with its catalogued resolution; the gpu collector
/// reads the counts at every update (<see cref="CopyCounts"/>).
/// </summary>
internal sealed partial class XidListener(INvml nvml, TimeProvider time, ILogger logger)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Uuid, ulong Xid), long> _counts = [];
    private readonly Dictionary<string, (double Time, ulong Xid)> _last = [];
    private int _generation;

    /// <summary>Starts listening on the devices of a new NVML session (a previous session's thread ends by itself).</summary>
    public void Start(IReadOnlyList<GpuDeviceSampler> devices)
    {
        var generation = Interlocked.Increment(ref _generation);
        var thread = new Thread(() => Listen(devices, generation), 256 * 1024) { IsBackground = true, Name = "nvml-xid" };
        thread.Start();
    }

    /// <summary>The session is gone: the thread stops at its next wake-up (at most 1 s).</summary>
    public void Stop() => Interlocked.Increment(ref _generation);

    /// <summary>
    /// Copies the counts of the GPU <paramref name="uuid"/> into <paramref name="counts"/> (cleared first) and returns
    /// the last XID seen on it (Unix seconds and code), if any.
    /// </summary>
    public (double Time, ulong Xid)? CopyCounts(string uuid, List<(ulong Xid, long Count)> counts)
    {
        counts.Clear();
        lock (_lock)
        {
            foreach (var ((gpu, xid), count) in _counts)
            {
                if (gpu == uuid)
                {
                    counts.Add((xid, count));
                }
            }

            return _last.TryGetValue(uuid, out var last) ? last : null;
        }
    }

    private void Listen(IReadOnlyList<GpuDeviceSampler> devices, int generation)
    {
        var set = nvml.CreateXidEventSet([.. devices.Select(d => d.Handle)]);
        if (set == 0)
        {
            return;
        }

        // Handle to index and UUID; the UUID is asked here, as the device's sampler may not have identified it yet.
        var byHandle = new Dictionary<nint, (int Index, string Uuid)>();
        while (Volatile.Read(ref _generation) == generation)
        {
            var result = nvml.WaitEvent(set, 1000, out var data);
            if (result == NvmlReturn.Timeout)
            {
                continue;
            }

            if (result != NvmlReturn.Success)
            {
                // Uninitialized after shutdown, or a broken set: stop listening; the next session starts a new one.
                LogStopped(logger, nvml.ErrorString(result));
                return;
            }

            if ((data.EventType & 0x8) == 0 || devices.FirstOrDefault(d => d.Handle == data.Device) is not { } sampler)
            {
                continue;
            }

            if (!byHandle.TryGetValue(data.Device, out var device))
            {
                device = (sampler.Index, nvml.Uuid(data.Device, out var uuid) == NvmlReturn.Success ? uuid : sampler.Uuid);
                byHandle[data.Device] = device;
            }

            var xid = data.EventData;
            lock (_lock)
            {
                _counts[(device.Uuid, xid)] = _counts.GetValueOrDefault((device.Uuid, xid)) + 1;
                _last[device.Uuid] = (time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0, xid);
            }

            var code = (uint)Math.Min(xid, uint.MaxValue);
            var resolution = XidCatalog.Resolve(code);
            LogXid(logger, device.Index, device.Uuid, xid, XidCatalog.Describe(code), XidCatalog.Code(resolution), XidCatalog.Action(resolution));
        }
    }

    [LoggerMessage(EventId = EventIds.GpuXid, EventName = "gpu_xid", Level = LogLevel.Error,
        Message = "XID {Xid} on GPU {Gpu} ({Uuid}): {Description}; resolution {Resolution}: {Action}")]
    private static partial void LogXid(ILogger logger, int gpu, string uuid, ulong xid, string description, string resolution, string action);

    [LoggerMessage(EventId = EventIds.XidListenerStopped, EventName = "xid_listener_stopped", Level = LogLevel.Warning, Message = "XID listener stopped: {Reason}")]
    private static partial void LogStopped(ILogger logger, string reason);
}
