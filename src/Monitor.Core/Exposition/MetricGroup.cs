namespace Monitor.Core.Exposition;

/// <summary>
/// The families one collector owns. An update is bracketed by <see cref="BeginUpdate"/> and <see cref="EndUpdate"/>:
/// every series the collector touches in between (through <see cref="MetricFamily.Get()"/> or by setting a series it
/// kept) survives, and the rest (a disk that went away, a job that ended) is removed, so a collector only has to write
/// what exists now.
/// </summary>
/// <remarks>
/// The family list is an immutable array replaced under a lock, so <see cref="EndUpdate"/>, a registry rebuild and a
/// scrape can walk it while another thread declares a family. Lock order is always group, then registry.
/// </remarks>
public sealed class MetricGroup
{
    private readonly Lock _lock = new();
    private volatile MetricFamily[] _families = [];
    private long _generation;

    /// <summary>Creates a group named after its collector.</summary>
    public MetricGroup(string name) => Name = name;

    /// <summary>The collector's name.</summary>
    public string Name { get; }

    /// <summary>The families of this group, in declaration order (a snapshot).</summary>
    public IReadOnlyList<MetricFamily> Families => _families;

    internal long Generation => Volatile.Read(ref _generation);

    internal MetricRegistry? Registry { get; set; }

    /// <summary>Taken by <see cref="MetricRegistry.Register"/> so registration and a concurrent declaration see each other.</summary>
    internal Lock SyncRoot => _lock;

    /// <summary>Declares a counter family (name must end in <c>_total</c>).</summary>
    public MetricFamily Counter(string name, string help, params string[] labelNames) => Add(name, help, MetricType.Counter, labelNames);

    /// <summary>Declares a gauge family.</summary>
    public MetricFamily Gauge(string name, string help, params string[] labelNames) => Add(name, help, MetricType.Gauge, labelNames);

    /// <summary>Declares an untyped family.</summary>
    public MetricFamily Untyped(string name, string help, params string[] labelNames) => Add(name, help, MetricType.Untyped, labelNames);

    /// <summary>Starts an update: series touched from now on are kept by <see cref="EndUpdate"/>.</summary>
    public void BeginUpdate() => Interlocked.Increment(ref _generation);

    /// <summary>Ends an update: removes every series of this group not touched since <see cref="BeginUpdate"/>.</summary>
    public void EndUpdate()
    {
        var generation = Generation;
        foreach (var family in _families)
        {
            family.RemoveStale(generation);
        }
    }

    private MetricFamily Add(string name, string help, MetricType type, string[] labelNames)
    {
        ArgumentNullException.ThrowIfNull(help);
        ArgumentNullException.ThrowIfNull(labelNames);
        var family = new MetricFamily(this, name, help, type, labelNames);
        lock (_lock)
        {
            foreach (var existing in _families)
            {
                if (MetricRegistry.Collides(existing, family))
                {
                    throw new ArgumentException($"family '{name}' collides with '{existing.Name}' in group '{Name}'", nameof(name));
                }
            }

            // Claim before publishing: a family the registry rejects must not stay in the group, or the next rebuild
            // would render it next to the family it collides with.
            var registry = Registry;
            registry?.Claim(family);
            _families = [.. _families, family];
            registry?.Rebuild();
        }

        return family;
    }
}
