namespace Monitor.Core.Exposition;

/// <summary>
/// One time series of a family: its label values, pre-encoded as the UTF-8 bytes <c>name{a="x",b="y"} </c> when it
/// is created, and its current value. Setting the value is a single 64-bit write, safe alongside a concurrent render.
/// </summary>
/// <remarks>
/// Setting a value counts as touching the series for <see cref="MetricGroup.EndUpdate"/>, so a collector may keep the
/// <see cref="Series"/> it got and set it on every update. If an update removed it as stale (the device was gone for a
/// while), setting it again puts it back.
/// </remarks>
public sealed class Series
{
    private double _value;
    private volatile bool _hasValue;
    private volatile bool _removed;
    private long _generation;

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

    /// <summary>The current value; NaN until first set.</summary>
    public double Value => _hasValue ? Volatile.Read(ref _value) : double.NaN;

    /// <summary>True once a value was set. A series is only rendered after that, so a half-made series never shows as 0.</summary>
    public bool HasValue => _hasValue;

    internal string Key { get; }

    internal byte[] Prefix { get; }

    internal long Generation
    {
        get => Volatile.Read(ref _generation);
        set => Volatile.Write(ref _generation, value);
    }

    /// <summary>Set (under the family's lock) when stale removal or <see cref="MetricFamily.Clear"/> dropped the series.</summary>
    internal bool Removed
    {
        get => _removed;
        set => _removed = value;
    }

    /// <summary>Sets the current value. Setting counts as touching the series for the group's stale removal, so a
    /// collector may keep <see cref="Series"/> references instead of looking them up on every update.</summary>
    public void Set(double value)
    {
        Volatile.Write(ref _value, value);
        _hasValue = true;
        Touch();
    }

    /// <summary>Adds to the current value (not atomic across threads: one writer per series).</summary>
    public void Add(double delta) => Set((_hasValue ? Volatile.Read(ref _value) : 0) + delta);

    private void Touch()
    {
        Generation = Family.Group.Generation;
        if (_removed)
        {
            Family.Restore(this);
        }
    }
}
