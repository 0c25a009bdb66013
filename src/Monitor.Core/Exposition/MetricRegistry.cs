using System.Buffers;

namespace Monitor.Core.Exposition;

/// <summary>
/// All groups the process exposes. Renders every family in name order (the order node_exporter and client_golang
/// use), so consecutive scrapes are byte-comparable.
/// </summary>
public sealed class MetricRegistry
{
    private readonly Lock _lock = new();
    private readonly List<MetricGroup> _groups = [];
    private readonly Dictionary<string, MetricGroup> _owners = new(StringComparer.Ordinal);
    private volatile MetricFamily[] _sorted = [];

    /// <summary>The registered groups.</summary>
    public IReadOnlyList<MetricGroup> Groups
    {
        get
        {
            lock (_lock)
            {
                return [.. _groups];
            }
        }
    }

    /// <summary>Every family, sorted by name.</summary>
    public IReadOnlyList<MetricFamily> Families => _sorted;

    /// <summary>Registers a group. A family name may belong to one group only.</summary>
    public void Register(MetricGroup group)
    {
        lock (_lock)
        {
            if (group.Registry is not null)
            {
                throw new InvalidOperationException($"group '{group.Name}' is already registered");
            }

            foreach (var family in group.Families)
            {
                Claim(family);
            }

            _groups.Add(group);
            group.Registry = this;
            Rebuild();
        }
    }

    /// <summary>Renders every family, and <c># EOF</c> for OpenMetrics.</summary>
    public void WriteTo(IBufferWriter<byte> writer, ExpositionFormat format)
    {
        foreach (var family in _sorted)
        {
            family.WriteTo(writer, format);
        }

        if (format == ExpositionFormat.OpenMetrics100)
        {
            TextEscaping.Write(writer, "# EOF\n"u8);
        }
    }

    internal void OnFamilyAdded(MetricFamily family)
    {
        lock (_lock)
        {
            Claim(family);
            Rebuild();
        }
    }

    private void Claim(MetricFamily family)
    {
        if (_owners.TryGetValue(family.Name, out var owner) && owner != family.Group)
        {
            throw new ArgumentException($"family '{family.Name}' of group '{family.Group.Name}' is already exposed by group '{owner.Name}'");
        }

        // OpenMetrics names counters without _total; keep a gauge from colliding with that name.
        _owners[family.Name] = family.Group;
    }

    private void Rebuild() =>
        _sorted = [.. _groups.SelectMany(g => g.Families).OrderBy(f => f.Name, StringComparer.Ordinal)];
}
