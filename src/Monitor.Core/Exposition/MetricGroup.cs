namespace Monitor.Core.Exposition;

/// <summary>
/// The families one collector owns. An update is bracketed by <see cref="BeginUpdate"/> and <see cref="EndUpdate"/>:
/// every series the collector touches in between (through <see cref="MetricFamily.Get()"/> or by setting a series it
/// kept) survives, and the rest (a disk that went away, a job that ended) is removed, so a collector only has to write
/// what exists now.
/// </summary>
/// <remarks>
/// <para>
/// <b>Scrapes see whole updates.</b> Every series has two value slots. An update writes the back slot while scrapes
/// render the front one; <see cref="EndUpdate"/> publishes the update by swapping the two, so a scrape renders every
/// family of the group as of one completed update, never half of one (a lost GPU without its power series, a job's
/// <c>job_info</c> without its counters). A render pins the front slot of every group before it starts
/// (<see cref="Pin"/>); the next <see cref="BeginUpdate"/> waits until no render still holds the slot it is about to
/// write, which is at most one render started before the last publication (renders go to memory, never to a socket).
/// Writing and rendering take no lock and allocate nothing.
/// </para>
/// <para>
/// Outside an update (a group that never calls <see cref="BeginUpdate"/>, such as request counters) a write goes
/// straight to the published slot and is visible at once, one value at a time. Updates of one group must not overlap:
/// the collector runner runs each collector's updates one at a time.
/// </para>
/// <para>
/// The family list is an immutable array replaced under a lock, so <see cref="EndUpdate"/>, a registry rebuild and a
/// scrape can walk it while another thread declares a family. Lock order is always group, then registry.
/// </para>
/// </remarks>
public sealed class MetricGroup
{
    private readonly Lock _lock = new();
    private volatile MetricFamily[] _families = [];

    // The published slot, the stamps each slot's live series carry, and the renders holding each slot.
    private int _front;
    private long _stamp0 = 1;
    private long _stamp1;
    private int _pins0;
    private int _pins1;

    // The generation of the update in progress (or of the last one), and whether one is in progress.
    private long _generation = 1;

    // The last published update, whose untouched series are removed at the next BeginUpdate (0: none pending).
    private long _staleGeneration;
    private int _staleSlot;
    private volatile bool _updating;
    private volatile bool _withdrawn;

    // Pre-rendered families per slot (see SetRaw); an update that does not set them publishes none.
    private RawExposition? _raw0;
    private RawExposition? _raw1;

    /// <summary>Creates a group named after its collector.</summary>
    public MetricGroup(string name) => Name = name;

    /// <summary>The collector's name.</summary>
    public string Name { get; }

    /// <summary>The families of this group, in declaration order (a snapshot).</summary>
    public IReadOnlyList<MetricFamily> Families => _families;

    /// <summary>True between <see cref="BeginUpdate"/> and <see cref="EndUpdate"/>.</summary>
    public bool Updating => _updating;

    /// <summary>True after <see cref="Withdraw"/> until the next <see cref="EndUpdate"/>: scrapes render nothing of the group.</summary>
    public bool Withdrawn => _withdrawn;

    internal MetricRegistry? Registry { get; set; }

    /// <summary>The group's position in its registry's group list (set at registration).</summary>
    internal int Index { get; set; } = -1;

    /// <summary>Taken by <see cref="MetricRegistry.Register"/> so registration and a concurrent declaration see each other.</summary>
    internal Lock SyncRoot => _lock;

    /// <summary>Declares a counter family (name must end in <c>_total</c>).</summary>
    public MetricFamily Counter(string name, string help, params string[] labelNames) => Add(name, help, MetricType.Counter, labelNames);

    /// <summary>Declares a gauge family.</summary>
    public MetricFamily Gauge(string name, string help, params string[] labelNames) => Add(name, help, MetricType.Gauge, labelNames);

    /// <summary>Declares an untyped family.</summary>
    public MetricFamily Untyped(string name, string help, params string[] labelNames) => Add(name, help, MetricType.Untyped, labelNames);

    /// <summary>
    /// Starts an update: values set from now on go to the unpublished slot, and series touched are kept by
    /// <see cref="EndUpdate"/>. Waits (spinning, then yielding) for renders that still hold that slot: at most one
    /// render that started before the previous update was published.
    /// </summary>
    /// <exception cref="InvalidOperationException">An update is already in progress.</exception>
    public void BeginUpdate()
    {
        if (_updating)
        {
            throw new InvalidOperationException($"group '{Name}': BeginUpdate while an update is in progress");
        }

        var back = 1 - Volatile.Read(ref _front);
        var spin = default(SpinWait);
        while (Volatile.Read(ref PinsOf(back)) != 0)
        {
            spin.SpinOnce();
        }

        // Only now may the series the last update left untouched go: a render that pinned the slot before that
        // update was published may still have been walking the family lists, and it must find them there.
        if (_staleGeneration != 0)
        {
            foreach (var family in _families)
            {
                family.RemoveStale(_staleSlot, _staleGeneration);
            }

            _staleGeneration = 0;
        }

        Volatile.Write(ref RawOf(back), null);
        Interlocked.Increment(ref _generation);
        _updating = true;
    }

    /// <summary>
    /// Ends an update and publishes it: scrapes from now on render exactly what the update wrote and touched. Series
    /// the update did not touch are no longer rendered, and are removed at the next <see cref="BeginUpdate"/>.
    /// </summary>
    public void EndUpdate()
    {
        if (!_updating)
        {
            return;
        }

        var generation = Volatile.Read(ref _generation);
        var back = 1 - Volatile.Read(ref _front);
        Volatile.Write(ref StampOf(back), generation);

        // A full fence: a render that pins after this sees the new slot; one that pinned the old slot before is waited
        // for by the next BeginUpdate.
        Interlocked.Exchange(ref _front, back);
        _withdrawn = false;
        _updating = false;
        _staleSlot = back;
        _staleGeneration = generation;
    }

    /// <summary>
    /// Hides the group from scrapes until the next <see cref="EndUpdate"/>: for a collector whose update is stuck, so
    /// its last values are not served as if they were current.
    /// </summary>
    public void Withdraw() => _withdrawn = true;

    /// <summary>
    /// Sets families the group exposes already rendered (<see cref="RawExposition"/>), published with the update in
    /// progress like a series value (outside an update, at once). An update that does not call it publishes none.
    /// </summary>
    public void SetRaw(RawExposition? raw)
    {
        var slot = WriteSlot(out _);
        Volatile.Write(ref RawOf(slot), raw);
    }

    /// <summary>
    /// True when a family this group declares, or any family of the registry it belongs to, exposes
    /// <paramref name="name"/> in either format: a raw family of that name would duplicate it.
    /// </summary>
    public bool IsNameTaken(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var family in _families)
        {
            if (family.Name == name || family.OpenMetricsName == name)
            {
                return true;
            }
        }

        return Registry?.IsClaimed(name) ?? false;
    }

    /// <summary>The pre-rendered families published in <paramref name="slot"/>.</summary>
    internal RawExposition? RawIn(int slot) => Volatile.Read(ref RawOf(slot));

    /// <summary>
    /// Pins the published slot for a render, or returns -1 when the group is withdrawn. Every pin must be released
    /// with <see cref="Unpin"/>.
    /// </summary>
    internal int Pin()
    {
        while (true)
        {
            var slot = Volatile.Read(ref _front);
            Interlocked.Increment(ref PinsOf(slot));

            // Re-check after the (fenced) increment: if an update was published in between, the writer may already
            // be past its wait on this slot, so let go and pin the new front.
            if (Volatile.Read(ref _front) == slot)
            {
                return _withdrawn ? Release(slot) : slot;
            }

            Interlocked.Decrement(ref PinsOf(slot));
        }
    }

    /// <summary>Releases a pin taken by <see cref="Pin"/> (a no-op for -1).</summary>
    internal void Unpin(int slot)
    {
        if (slot >= 0)
        {
            Interlocked.Decrement(ref PinsOf(slot));
        }
    }

    /// <summary>The stamp live series carry in <paramref name="slot"/>.</summary>
    internal long SlotStamp(int slot) => Volatile.Read(ref StampOf(slot));

    /// <summary>Where a write goes now: the unpublished slot during an update, else the published one.</summary>
    internal int WriteSlot(out long stamp)
    {
        if (_updating)
        {
            stamp = Volatile.Read(ref _generation);
            return 1 - Volatile.Read(ref _front);
        }

        var front = Volatile.Read(ref _front);
        stamp = SlotStamp(front);
        return front;
    }

    private int Release(int slot)
    {
        Interlocked.Decrement(ref PinsOf(slot));
        return -1;
    }

    private ref int PinsOf(int slot) => ref slot == 0 ? ref _pins0 : ref _pins1;

    private ref long StampOf(int slot) => ref slot == 0 ? ref _stamp0 : ref _stamp1;

    private ref RawExposition? RawOf(int slot) => ref slot == 0 ? ref _raw0 : ref _raw1;

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
            registry?.Insert(family);
        }

        return family;
    }
}
