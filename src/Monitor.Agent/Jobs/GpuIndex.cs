using Monitor.Agent.Gpu;

namespace Monitor.Agent.Jobs;

/// <summary>The latest tick's GPUs: index → UUID, and MIG UUID / (index, GPU instance) → the parent GPU's UUID.</summary>
internal sealed class GpuIndex
{
    private readonly Dictionary<int, string> _byIndex = [];
    private readonly Dictionary<string, string> _byMig = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _indexOf = new(StringComparer.Ordinal);

    /// <summary>No GPUs (before the first tick, or without a gpu collector).</summary>
    public static GpuIndex Empty { get; } = new();

    /// <summary>The table of one tick.</summary>
    public static GpuIndex From(IReadOnlyList<GpuTickDevice> devices)
    {
        var index = new GpuIndex();
        foreach (var device in devices)
        {
            index._byIndex[device.Index] = device.Uuid;
            index._indexOf[device.Uuid] = device.Index;
            foreach (var mig in device.Sample.Mig)
            {
                index._byMig[mig.Uuid] = device.Uuid;
            }
        }

        return index;
    }

    /// <summary>The UUID of the (parent) GPU a source names; MIG instances are accounted to their parent GPU.</summary>
    public string? Resolve(GpuRef reference) => reference switch
    {
        { Uuid: { } uuid } when uuid.StartsWith("MIG-", StringComparison.Ordinal) => _byMig.GetValueOrDefault(uuid),
        { Uuid: { } uuid } => _indexOf.ContainsKey(uuid) ? uuid : null,
        { Index: { } i } => _byIndex.GetValueOrDefault(i),
        _ => null,
    };

    /// <summary>The NVML index of a GPU UUID, if known.</summary>
    public int? IndexOf(string uuid) => _indexOf.TryGetValue(uuid, out var i) ? i : null;
}
