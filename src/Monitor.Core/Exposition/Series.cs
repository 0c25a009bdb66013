namespace Monitor.Core.Exposition;

/// <summary>
/// One time series of a family: its label values, pre-encoded as the UTF-8 bytes <c>name{a="x",b="y"} </c> when it
/// is created, and its value. The value lives in two slots, so a collector's update writes one while scrapes render the
/// other (see <see cref="MetricGroup"/>); each slot carries the stamp of the update that wrote it.
/// </summary>
/// <remarks>
/// Setting a value counts as touching the series for <see cref="MetricGroup.EndUpdate"/>, so a collector may keep the
/// <see cref="Series"/> it got and set it on every update. If an update removed it as stale (the device was gone for a
/// while), setting it again puts it back.
/// <para>
/// A slot's stamp is the generation of the update that wrote it: positive with a value, negative when the update only
/// touched the series (looked it up) before it had one, 0 when never written. A slot renders only when its stamp equals
/// the group's stamp for that slot, so a series the last update did not touch disappears at the moment that update is
/// published, together with everything else the update changed.
/// </para>
/// </remarks>
public sealed class Series
{
    private double _value0;
    private double _value1;
    private long _stamp0;
    private long _stamp1;
    private volatile bool _removed;

    internal Series(MetricFamily family, string key, string[] labelValues, byte[] prefix)
    {
        Family = family;
        Key = key;
        LabelValues = labelValues;
        Prefix = prefix;
    }

    /// <summary>The family this series belongs to.</summary>
    public MetricFamily Family { get; }

    /// <summary>Label values in the order the family declared its label names.</summary>
    public IReadOnlyList<string> LabelValues { get; }

    /// <summary>
    /// The latest value as the writer sees it: the value set in the update in progress, else the published one; NaN
    /// when there is none. Scrapes do not read this: they render the published slot.
    /// </summary>
    public double Value => TryGetLatest(out var value) ? value : double.NaN;

    /// <summary>True once a value was set and not dropped since (see <see cref="Value"/>).</summary>
    public bool HasValue => TryGetLatest(out _);

    internal string Key { get; }

    internal byte[] Prefix { get; }

    /// <summary>Set (under the family's lock) when stale removal or <see cref="MetricFamily.Clear"/> dropped the series.</summary>
    internal bool Removed
    {
        get => _removed;
        set => _removed = value;
    }

    /// <summary>Sets the value. Setting counts as touching the series for the group's stale removal, so a collector may
    /// keep <see cref="Series"/> references instead of looking them up on every update.</summary>
    public void Set(double value)
    {
        var group = Family.Group;
        var slot = group.WriteSlot(out var stamp);
        WriteSlot(slot, value, stamp);
        if (_removed)
        {
            Family.Restore(this);
        }
    }

    /// <summary>Adds to the current value (not atomic across threads: one writer per series).</summary>
    public void Add(double delta) => Set((TryGetLatest(out var value) ? value : 0) + delta);

    /// <summary>
    /// Marks the series as part of the update in progress without a new value: it carries the published value over
    /// into the slot being written (a lookup without a <see cref="Set"/> keeps the series, as it always did).
    /// </summary>
    internal void Touch()
    {
        var group = Family.Group;
        if (!group.Updating)
        {
            return;
        }

        var back = group.WriteSlot(out var stamp);
        if (Math.Abs(Stamp(back)) == stamp)
        {
            return;
        }

        var front = 1 - back;
        if (Stamp(front) == group.SlotStamp(front))
        {
            WriteSlot(back, ValueOf(front), stamp);
        }
        else
        {
            SetStamp(back, -stamp);
        }
    }

    /// <summary>Whether the slot holds a value of the update that produced it (the render condition).</summary>
    internal bool IsLive(int slot, long slotStamp) => Stamp(slot) == slotStamp;

    /// <summary>Whether the update with <paramref name="generation"/> touched or set the series in <paramref name="slot"/>.</summary>
    internal bool TouchedIn(int slot, long generation) => Math.Abs(Stamp(slot)) == generation;

    internal double ValueOf(int slot) => slot == 0 ? Volatile.Read(ref _value0) : Volatile.Read(ref _value1);

    private long Stamp(int slot) => slot == 0 ? Volatile.Read(ref _stamp0) : Volatile.Read(ref _stamp1);

    private void SetStamp(int slot, long stamp)
    {
        if (slot == 0)
        {
            Volatile.Write(ref _stamp0, stamp);
        }
        else
        {
            Volatile.Write(ref _stamp1, stamp);
        }
    }

    private void WriteSlot(int slot, double value, long stamp)
    {
        // Value before stamp: a direct write (no update in progress) goes to the published slot, and a render that
        // sees the new stamp must see the new value.
        if (slot == 0)
        {
            Volatile.Write(ref _value0, value);
        }
        else
        {
            Volatile.Write(ref _value1, value);
        }

        SetStamp(slot, stamp);
    }

    private bool TryGetLatest(out double value)
    {
        var group = Family.Group;
        var slot = group.WriteSlot(out var stamp);
        if (Stamp(slot) == stamp)
        {
            value = ValueOf(slot);
            return true;
        }

        // In an update that has not touched this series yet, the published value is still the latest.
        var front = 1 - slot;
        if (group.Updating && Stamp(slot) != -stamp && Stamp(front) == group.SlotStamp(front))
        {
            value = ValueOf(front);
            return true;
        }

        value = double.NaN;
        return false;
    }
}
