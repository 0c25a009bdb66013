namespace Monitor.Agent.Gpu;

/// <summary>One GPU in a tick: its NVML index, UUID and the sample the gpu collector just published.</summary>
internal sealed record GpuTickDevice(int Index, string Uuid, GpuSample Sample, bool Healthy);

/// <summary>
/// Where the gpu collector hands every published tick to whoever integrates over it (the jobs collector), on the
/// gpu collector's thread, right after publication: integrators see every 1 s sample, whatever the scrape interval.
/// </summary>
internal sealed class GpuTelemetry
{
    private readonly Lock _gate = new();
    private Action<long, IReadOnlyList<GpuTickDevice>>[] _subscribers = [];

    /// <summary>Calls <paramref name="subscriber"/> with (TimeProvider timestamp, devices) after every GPU tick.</summary>
    public void Subscribe(Action<long, IReadOnlyList<GpuTickDevice>> subscriber)
    {
        lock (_gate)
        {
            _subscribers = [.. _subscribers, subscriber];
        }
    }

    /// <summary>Whether anyone listens (the gpu collector skips building the tick otherwise).</summary>
    public bool HasSubscribers => Volatile.Read(ref _subscribers).Length > 0;

    /// <summary>Delivers a tick. Subscribers must not keep <paramref name="devices"/> or its samples beyond the call.</summary>
    public void Publish(long timestamp, IReadOnlyList<GpuTickDevice> devices)
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            subscriber(timestamp, devices);
        }
    }
}
