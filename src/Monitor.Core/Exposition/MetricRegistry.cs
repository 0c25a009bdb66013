using System.Buffers;

namespace Monitor.Core.Exposition;

/// <summary>
/// All groups the process exposes. Renders every family in name order (the order node_exporter and client_golang
/// use), so consecutive scrapes are byte-comparable.
/// </summary>
/// <remarks>
/// A family claims its text name and, for counters, its OpenMetrics family name (the name without <c>_total</c>), so
/// a counter <c>foo_total</c> and a gauge <c>foo</c> cannot both be exposed: in OpenMetrics they would be two
/// families called <c>foo</c>. The rendered group and family lists are one immutable snapshot, so a scrape takes no
/// lock; it pins each group's published values for the whole render (see <see cref="MetricGroup"/>), so every group
/// renders as of one completed update even though their families interleave in name order.
/// </remarks>
public sealed class MetricRegistry
{
    private readonly Lock _lock = new();
    private readonly List<MetricGroup> _groups = [];
    private readonly Dictionary<string, MetricFamily> _owners = new(StringComparer.Ordinal);
    private volatile Layout _layout = new([], []);

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
    public IReadOnlyList<MetricFamily> Families => _layout.Families;

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

                group.Index = _groups.Count;
                _groups.Add(group);
                group.Registry = this;
                _layout = new Layout([.. _groups], Merge(_layout.Families, [.. families]));
            }
        }
    }

    /// <summary>Renders every family, and <c># EOF</c> for OpenMetrics.</summary>
    /// <remarks>Allocates nothing for up to <see cref="StackGroups"/> groups.</remarks>
    public void WriteTo(IBufferWriter<byte> writer, ExpositionFormat format)
    {
        ArgumentNullException.ThrowIfNull(writer);
        int[]? rented = null;
        var slots = _layout.Groups.Length <= StackGroups ? stackalloc int[StackGroups] : (rented = ArrayPool<int>.Shared.Rent(_layout.Groups.Length));
        var layout = PinAll(ref slots, ref rented);
        try
        {
            WriteFamilies(layout, slots, writer, format, 0, layout.Families.Length);
            WriteEnd(layout, slots, writer, format);
        }
        finally
        {
            Unpin(layout.Groups, slots, layout.Groups.Length);
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Pins every group for a render that threads share out between them (<see cref="PinnedExposition"/>); the values
    /// each group published stay as they are until the result is disposed.
    /// </summary>
    public PinnedExposition Pin() => new(this);

    /// <summary>
    /// Pins every group of the current layout into <paramref name="slots"/> (replaced by <paramref name="rented"/> when
    /// the layout outgrows it) and returns that layout.
    /// </summary>
    private Layout PinAll(ref Span<int> slots, ref int[]? rented)
    {
        var layout = _layout;
        var groups = layout.Groups;
        var pinned = 0;
        try
        {
            // Pin every group before rendering any family: families of one group are spread over the name order.
            // Then check the layout did not change meanwhile: a family declared by an update published after the
            // layout was read would otherwise be missing from a render of that update.
            while (true)
            {
                if (groups.Length > slots.Length)
                {
                    if (rented is not null)
                    {
                        ArrayPool<int>.Shared.Return(rented);
                    }

                    rented = ArrayPool<int>.Shared.Rent(groups.Length);
                    slots = rented;
                }

                for (; pinned < groups.Length; pinned++)
                {
                    slots[pinned] = groups[pinned].Pin();
                }

                if (ReferenceEquals(layout, _layout))
                {
                    return layout;
                }

                Unpin(groups, slots, pinned);
                pinned = 0;
                layout = _layout;
                groups = layout.Groups;
            }
        }
        catch
        {
            Unpin(groups, slots, pinned);
            throw;
        }
    }

    private static void WriteFamilies(Layout layout, ReadOnlySpan<int> slots, IBufferWriter<byte> writer, ExpositionFormat format, int start, int end)
    {
        var families = layout.Families;
        for (var i = start; i < end; i++)
        {
            var family = families[i];
            family.WriteTo(writer, format, slots[family.Group.Index]);
        }
    }

    /// <summary>What follows the families: raw expositions (textfile), then <c># EOF</c> for OpenMetrics.</summary>
    private static void WriteEnd(Layout layout, ReadOnlySpan<int> slots, IBufferWriter<byte> writer, ExpositionFormat format)
    {
        var groups = layout.Groups;
        for (var i = 0; i < groups.Length; i++)
        {
            if (slots[i] >= 0 && groups[i].RawIn(slots[i]) is { } raw)
            {
                TextEscaping.Write(writer, format == ExpositionFormat.OpenMetrics100 ? raw.OpenMetrics : raw.Text);
            }
        }

        if (format == ExpositionFormat.OpenMetrics100)
        {
            TextEscaping.Write(writer, "# EOF\n"u8);
        }
    }

    /// <summary>
    /// Every group of a registry pinned for one render that is written in parts, possibly on several threads at once:
    /// families by index range (<see cref="WriteFamilies"/>), then the end (<see cref="WriteEnd"/>). The parts
    /// concatenated in order are what <see cref="WriteTo"/> writes. Dispose it once every part is written.
    /// </summary>
    public sealed class PinnedExposition : IDisposable
    {
        private readonly Layout _layout;
        private int[]? _slots;

        internal PinnedExposition(MetricRegistry registry)
        {
            var slots = Span<int>.Empty;
            _layout = registry.PinAll(ref slots, ref _slots);
            _slots ??= [];
        }

        /// <summary>How many families the render has.</summary>
        public int FamilyCount => _layout.Families.Length;

        /// <summary>Renders the families from index <paramref name="start"/> up to, not including, <paramref name="end"/>.</summary>
        public void WriteFamilies(IBufferWriter<byte> writer, ExpositionFormat format, int start, int end)
        {
            ArgumentNullException.ThrowIfNull(writer);
            ArgumentOutOfRangeException.ThrowIfNegative(start);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(end, FamilyCount);
            ObjectDisposedException.ThrowIf(_slots is null, this);
            MetricRegistry.WriteFamilies(_layout, _slots, writer, format, start, end);
        }

        /// <summary>Renders what follows the last family: raw expositions, then <c># EOF</c> for OpenMetrics.</summary>
        public void WriteEnd(IBufferWriter<byte> writer, ExpositionFormat format)
        {
            ArgumentNullException.ThrowIfNull(writer);
            ObjectDisposedException.ThrowIf(_slots is null, this);
            MetricRegistry.WriteEnd(_layout, _slots, writer, format);
        }

        /// <summary>Unpins every group.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _slots, null) is { } slots)
            {
                Unpin(_layout.Groups, slots, _layout.Groups.Length);
                if (slots.Length > 0)
                {
                    ArrayPool<int>.Shared.Return(slots);
                }
            }
        }
    }

    /// <summary>True when the two families would expose a family name in common in either format.</summary>
    internal static bool Collides(MetricFamily a, MetricFamily b) =>
        a.Name == b.Name || a.Name == b.OpenMetricsName || a.OpenMetricsName == b.Name || a.OpenMetricsName == b.OpenMetricsName;

    /// <summary>True when a registered family exposes <paramref name="name"/> in either format.</summary>
    internal bool IsClaimed(string name)
    {
        lock (_lock)
        {
            return _owners.ContainsKey(name);
        }
    }

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

    /// <summary>Adds a family that a registered group has just declared to the name order.</summary>
    /// <remarks>
    /// A merge into the sorted list, not a re-sort of every family: collectors declare hundreds of families one at a
    /// time while the agent starts, and re-sorting the whole list (and collecting its garbage) on each took about a
    /// third of the Native AOT agent's start-up CPU (docs/performance.md, "Native AOT").
    /// </remarks>
    internal void Insert(MetricFamily family)
    {
        lock (_lock)
        {
            var layout = _layout;
            _layout = layout with { Families = Merge(layout.Families, [family]) };
        }
    }

    /// <summary><paramref name="sorted"/> (in name order) and <paramref name="added"/> (sorted here), in one new array in name order.</summary>
    private static MetricFamily[] Merge(MetricFamily[] sorted, MetricFamily[] added)
    {
        Array.Sort(added, static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        var merged = new MetricFamily[sorted.Length + added.Length];
        int i = 0, j = 0, k = 0;
        while (i < sorted.Length && j < added.Length)
        {
            merged[k++] = string.CompareOrdinal(sorted[i].Name, added[j].Name) <= 0 ? sorted[i++] : added[j++];
        }

        sorted.AsSpan(i).CopyTo(merged.AsSpan(k));
        added.AsSpan(j).CopyTo(merged.AsSpan(k + sorted.Length - i));
        return merged;
    }

    private static void Unpin(MetricGroup[] groups, Span<int> slots, int count)
    {
        for (var i = 0; i < count; i++)
        {
            groups[i].Unpin(slots[i]);
        }
    }

    /// <summary>Groups whose pins fit on the stack during a render.</summary>
    private const int StackGroups = 128;

    /// <summary>What a render walks: every group (indexed by <see cref="MetricGroup.Index"/>) and every family in name order.</summary>
    private sealed record Layout(MetricGroup[] Groups, MetricFamily[] Families);

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
