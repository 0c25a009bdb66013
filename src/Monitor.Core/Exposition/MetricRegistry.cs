using System.Buffers;

namespace Monitor.Core.Exposition;

/// <summary>
/// All groups the process exposes. Renders every family in name order (the order node_exporter and client_golang
/// use), so consecutive scrapes are byte-comparable.
/// </summary>
/// <remarks>
/// A family claims its text name and, for counters, its OpenMetrics family name (the name without <c>_total</c>), so
/// a counter <c>foo_total</c> and a gauge <c>foo</c> cannot both be exposed: in OpenMetrics they would be two
/// families called <c>foo</c>. The rendered family list is an immutable array, so a scrape takes no lock.
/// </remarks>
public sealed class MetricRegistry
{
    private readonly Lock _lock = new();
    private readonly List<MetricGroup> _groups = [];
    private readonly Dictionary<string, MetricFamily> _owners = new(StringComparer.Ordinal);
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
    /// <exception cref="InvalidOperationException">The group is already registered.</exception>
    /// <exception cref="ArgumentException">One of its families collides with a family already exposed; nothing is registered.</exception>
    public void Register(MetricGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);

        // Group lock first (the order MetricGroup.Add uses), so a family declared concurrently is either in the
        // snapshot claimed here or sees Registry set and claims itself.
        lock (group.SyncRoot)
        {
            lock (_lock)
            {
                if (group.Registry is not null)
                {
                    throw new InvalidOperationException($"group '{group.Name}' is already registered");
                }

                var families = group.Families;
                foreach (var family in families)
                {
                    CheckClaim(family);
                }

                foreach (var family in families)
                {
                    Claim(family);
                }

                _groups.Add(group);
                group.Registry = this;
                Rebuild();
            }
        }
    }

    /// <summary>Renders every family, and <c># EOF</c> for OpenMetrics.</summary>
    public void WriteTo(IBufferWriter<byte> writer, ExpositionFormat format)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (var family in _sorted)
        {
            family.WriteTo(writer, format);
        }

        if (format == ExpositionFormat.OpenMetrics100)
        {
            TextEscaping.Write(writer, "# EOF\n"u8);
        }
    }

    /// <summary>True when the two families would expose a family name in common in either format.</summary>
    internal static bool Collides(MetricFamily a, MetricFamily b) =>
        a.Name == b.Name || a.Name == b.OpenMetricsName || a.OpenMetricsName == b.Name || a.OpenMetricsName == b.OpenMetricsName;

    /// <summary>Claims the names of a family being added to a registered group; throws, claiming nothing, on a collision.</summary>
    internal void Claim(MetricFamily family)
    {
        lock (_lock)
        {
            CheckClaim(family);
            _owners[family.Name] = family;
            _owners[family.OpenMetricsName] = family;
        }
    }

    internal void Rebuild()
    {
        lock (_lock)
        {
            var all = new List<MetricFamily>();
            foreach (var group in _groups)
            {
                all.AddRange(group.Families);
            }

            all.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            _sorted = [.. all];
        }
    }

    private void CheckClaim(MetricFamily family)
    {
        foreach (var name in (ReadOnlySpan<string>)[family.Name, family.OpenMetricsName])
        {
            if (_owners.TryGetValue(name, out var owner) && owner != family)
            {
                throw new ArgumentException(
                    $"family '{family.Name}' of group '{family.Group.Name}' collides with '{owner.Name}' of group '{owner.Group.Name}'",
                    nameof(family));
            }
        }
    }
}
