using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;

namespace Monitor.Core.Exposition;

/// <summary>
/// A metric family: name, HELP, TYPE and label names, and its series. Everything that does not change between
/// scrapes (headers in both formats, each series' name and label set) is encoded to UTF-8 once, so rendering only
/// copies bytes and formats numbers.
/// </summary>
/// <remarks>
/// Series lookups by label values do not allocate once a series exists: the values are joined into a stack buffer
/// and looked up through the concurrent dictionary's span-keyed alternate lookup, without a lock. Adds and removes
/// take a lock and publish a new immutable, sorted array, so a scrape renders a consistent snapshot without locking.
/// </remarks>
public sealed class MetricFamily
{
    /// <summary>Separator of label values in lookup keys; a non-character, so it cannot collide with real text.</summary>
    private const char KeySeparator = '\uFFFF';

    /// <summary>Keys up to this many chars are joined on the stack, so lookups of existing series do not allocate.</summary>
    private const int MaxStackKey = 256;

    private readonly ConcurrentDictionary<string, Series> _byKey = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Series>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int[] _sortedLabelOrder;
    private readonly Lock _writeLock = new();
    private volatile Series[] _sorted = [];

    internal MetricFamily(MetricGroup group, string name, string help, MetricType type, string[] labelNames)
    {
        if (!MetricNames.IsValidMetricName(name))
        {
            throw new ArgumentException($"invalid metric name '{name}'", nameof(name));
        }

        if (type == MetricType.Counter && (!name.EndsWith("_total", StringComparison.Ordinal) || name.Length == "_total".Length))
        {
            // OpenMetrics requires counter samples to end in _total; enforcing it here keeps both formats valid.
            throw new ArgumentException($"counter '{name}' must end in _total", nameof(name));
        }

        ArgumentNullException.ThrowIfNull(help);

        // Own the array: a params array the caller keeps could otherwise change the label names under us.
        labelNames = [.. labelNames];
        foreach (var label in labelNames)
        {
            if (!MetricNames.IsValidLabelName(label))
            {
                throw new ArgumentException($"invalid label name '{label}' on '{name}'", nameof(labelNames));
            }
        }

        if (labelNames.Distinct(StringComparer.Ordinal).Count() != labelNames.Length)
        {
            throw new ArgumentException($"duplicate label names on '{name}'", nameof(labelNames));
        }

        Group = group;
        Name = name;
        Help = help;
        Type = type;
        LabelNames = labelNames;
        OpenMetricsName = type == MetricType.Counter ? name[..^"_total".Length] : name;
        _lookup = _byKey.GetAlternateLookup<ReadOnlySpan<char>>();

        // Prometheus clients print labels sorted by name; keep the caller's order for lookups.
        _sortedLabelOrder = Enumerable.Range(0, labelNames.Length).OrderBy(i => labelNames[i], StringComparer.Ordinal).ToArray();
        TextHeader = EncodeHeader(ExpositionFormat.Text004);
        OpenMetricsHeader = EncodeHeader(ExpositionFormat.OpenMetrics100);
    }

    /// <summary>The full metric name (counters include <c>_total</c>).</summary>
    public string Name { get; }

    /// <summary>The HELP text, unescaped.</summary>
    public string Help { get; }

    /// <summary>The metric type.</summary>
    public MetricType Type { get; }

    /// <summary>The label names in the order lookups take their values.</summary>
    public IReadOnlyList<string> LabelNames { get; }

    /// <summary>
    /// When true, a label whose value is empty is left out of the rendered series (for info families whose label set
    /// varies by series in node_exporter, such as <c>node_power_supply_info</c>). Set it before the first series is made.
    /// </summary>
    public bool OmitEmptyLabelValues { get; set; }

    /// <summary>The group (collector) that owns this family.</summary>
    public MetricGroup Group { get; }

    /// <summary>The series that currently exist, sorted by label values.</summary>
    public IReadOnlyList<Series> Series => _sorted;

    /// <summary>The family name in OpenMetrics HELP and TYPE lines: counters drop <c>_total</c>, which only their samples carry.</summary>
    public string OpenMetricsName { get; }

    internal byte[] TextHeader { get; }

    internal byte[] OpenMetricsHeader { get; }

    /// <summary>The series of a family without labels.</summary>
    public Series Get() => Get(ReadOnlySpan<string>.Empty);

    /// <summary>The series with one label value, created if new.</summary>
    public Series Get(ReadOnlySpan<char> v1)
    {
        if (LabelNames.Count == 1 && v1.Length <= MaxStackKey)
        {
            return Lookup(v1) ?? Create([v1.ToString()]);
        }

        return Get([v1.ToString()]);
    }

    /// <summary>The series with two label values, created if new.</summary>
    public Series Get(ReadOnlySpan<char> v1, ReadOnlySpan<char> v2)
    {
        Span<char> key = stackalloc char[MaxStackKey];
        var length = v1.Length + 1 + v2.Length;
        if (length <= key.Length && LabelNames.Count == 2)
        {
            v1.CopyTo(key);
            key[v1.Length] = KeySeparator;
            v2.CopyTo(key[(v1.Length + 1)..]);
            return Lookup(key[..length]) ?? Create([v1.ToString(), v2.ToString()]);
        }

        return Get([v1.ToString(), v2.ToString()]);
    }

    /// <summary>The series with three label values, created if new.</summary>
    public Series Get(ReadOnlySpan<char> v1, ReadOnlySpan<char> v2, ReadOnlySpan<char> v3)
    {
        Span<char> key = stackalloc char[MaxStackKey];
        var length = v1.Length + v2.Length + v3.Length + 2;
        if (length <= key.Length && LabelNames.Count == 3)
        {
            v1.CopyTo(key);
            key[v1.Length] = KeySeparator;
            v2.CopyTo(key[(v1.Length + 1)..]);
            key[v1.Length + 1 + v2.Length] = KeySeparator;
            v3.CopyTo(key[(v1.Length + v2.Length + 2)..]);
            return Lookup(key[..length]) ?? Create([v1.ToString(), v2.ToString(), v3.ToString()]);
        }

        return Get([v1.ToString(), v2.ToString(), v3.ToString()]);
    }

    /// <summary>The series with the given label values (in <see cref="LabelNames"/> order), created if new.</summary>
    /// <exception cref="ArgumentException">The number of values differs from the number of label names.</exception>
    /// <exception cref="ArgumentNullException">A value is null.</exception>
    public Series Get(params ReadOnlySpan<string> labelValues)
    {
        if (labelValues.Length != LabelNames.Count)
        {
            throw new ArgumentException($"'{Name}' takes {LabelNames.Count} label values, got {labelValues.Length}", nameof(labelValues));
        }

        var length = Math.Max(labelValues.Length - 1, 0);
        foreach (var value in labelValues)
        {
            ArgumentNullException.ThrowIfNull(value, nameof(labelValues));
            length += value.Length;
        }

        if (length > MaxStackKey)
        {
            return Lookup(string.Join(KeySeparator, labelValues)) ?? Create(labelValues.ToArray());
        }

        // Join on the stack so looking up an existing series allocates nothing.
        Span<char> key = stackalloc char[MaxStackKey];
        var n = 0;
        for (var i = 0; i < labelValues.Length; i++)
        {
            if (i > 0)
            {
                key[n++] = KeySeparator;
            }

            labelValues[i].CopyTo(key[n..]);
            n += labelValues[i].Length;
        }

        return Lookup(key[..n]) ?? Create(labelValues.ToArray());
    }

    /// <summary>Sets the value of the series with the given label values.</summary>
    public void Set(double value, params ReadOnlySpan<string> labelValues) => Get(labelValues).Set(value);

    /// <summary>Removes every series. A removed series that is set again comes back.</summary>
    public void Clear()
    {
        lock (_writeLock)
        {
            foreach (var s in _sorted)
            {
                s.Removed = true;
            }

            _byKey.Clear();
            _sorted = [];
        }
    }

    /// <summary>Appends the family (headers and every series with a published value) in <paramref name="format"/>.</summary>
    /// <remarks>Pins the group's published slot for the call; a registry render pins every group once instead.</remarks>
    public void WriteTo(IBufferWriter<byte> writer, ExpositionFormat format)
    {
        var slot = Group.Pin();
        try
        {
            WriteTo(writer, format, slot);
        }
        finally
        {
            Group.Unpin(slot);
        }
    }

    /// <summary>Appends the family as of the published slot <paramref name="slot"/>, which the caller has pinned (-1: nothing).</summary>
    internal void WriteTo(IBufferWriter<byte> writer, ExpositionFormat format, int slot)
    {
        if (slot < 0)
        {
            return;
        }

        var stamp = Group.SlotStamp(slot);
        var series = _sorted;
        var any = false;
        foreach (var s in series)
        {
            if (!s.IsLive(slot, stamp))
            {
                continue;
            }

            if (!any)
            {
                TextEscaping.Write(writer, format == ExpositionFormat.OpenMetrics100 ? OpenMetricsHeader : TextHeader);
                any = true;
            }

            var prefix = s.Prefix;
            var span = writer.GetSpan(prefix.Length + PrometheusFloat.MaxLength + 1);
            prefix.CopyTo(span);
            var n = prefix.Length;
            n += PrometheusFloat.Format(s.ValueOf(slot), span[n..]);
            span[n++] = (byte)'\n';
            writer.Advance(n);
        }
    }

    /// <summary>Removes series the update <paramref name="generation"/> did not touch (it wrote <paramref name="slot"/>).</summary>
    internal void RemoveStale(int slot, long generation)
    {
        var stale = 0;
        foreach (var s in _sorted)
        {
            if (!s.TouchedIn(slot, generation))
            {
                stale++;
            }
        }

        if (stale == 0)
        {
            return;
        }

        lock (_writeLock)
        {
            var kept = new List<Series>(_sorted.Length);
            foreach (var s in _sorted)
            {
                if (!s.TouchedIn(slot, generation))
                {
                    _byKey.TryRemove(s.Key, out _);
                    s.Removed = true;
                }
                else
                {
                    kept.Add(s);
                }
            }

            _sorted = [.. kept];
        }
    }

    /// <summary>Puts back a series that was removed and then set again (see <see cref="Series"/>).</summary>
    internal void Restore(Series series)
    {
        Series? current;
        lock (_writeLock)
        {
            if (!series.Removed)
            {
                return;
            }

            if (_byKey.TryAdd(series.Key, series))
            {
                series.Removed = false;
                Insert(series);
                return;
            }

            // The collector already made a new series for these labels; the write belongs there.
            current = _byKey[series.Key];
        }

        current.Set(series.Value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Series? Lookup(ReadOnlySpan<char> key)
    {
        // The dictionary is concurrent, so a lookup takes no lock; a miss falls through to Create, which re-checks
        // under the write lock.
        if (!_lookup.TryGetValue(key, out var series))
        {
            return null;
        }

        series.Touch();
        return series;
    }

    private Series Create(string[] labelValues)
    {
        var key = string.Join(KeySeparator, labelValues);
        lock (_writeLock)
        {
            if (_byKey.TryGetValue(key, out var existing))
            {
                existing.Touch();
                return existing;
            }

            // Encode before publishing: a concurrent render sees either the old array or a complete series, and a new
            // series has no published value, so it shows once an update that set it is published.
            var series = new Series(this, key, labelValues, EncodePrefix(labelValues));
            series.Touch();
            _byKey[key] = series;
            Insert(series);
            return series;
        }
    }

    /// <summary>Publishes a new sorted array with <paramref name="series"/> in place; the caller holds the write lock.</summary>
    private void Insert(Series series)
    {
        var current = _sorted;
        var at = 0;
        while (at < current.Length && CompareSeries(current[at], series) < 0)
        {
            at++;
        }

        var next = new Series[current.Length + 1];
        current.AsSpan(0, at).CopyTo(next);
        next[at] = series;
        current.AsSpan(at).CopyTo(next.AsSpan(at + 1));
        _sorted = next;
    }

    private int CompareSeries(Series a, Series b)
    {
        foreach (var i in _sortedLabelOrder)
        {
            var c = string.CompareOrdinal(a.LabelValues[i], b.LabelValues[i]);
            if (c != 0)
            {
                return c;
            }
        }

        return 0;
    }

    private byte[] EncodePrefix(string[] labelValues)
    {
        var sb = new StringBuilder(Name.Length + 16 * labelValues.Length);
        sb.Append(Name);
        var written = 0;
        for (var k = 0; k < _sortedLabelOrder.Length; k++)
        {
            var i = _sortedLabelOrder[k];
            if (OmitEmptyLabelValues && labelValues[i].Length == 0)
            {
                continue;
            }

            sb.Append(written++ == 0 ? '{' : ',');
            sb.Append(LabelNames[i]).Append("=\"");
            TextEscaping.AppendLabelValue(sb, labelValues[i]);
            sb.Append('"');
        }

        if (written > 0)
        {
            sb.Append('}');
        }

        sb.Append(' ');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private byte[] EncodeHeader(ExpositionFormat format)
    {
        var om = format == ExpositionFormat.OpenMetrics100;
        var familyName = om ? OpenMetricsName : Name;
        var type = Type switch
        {
            MetricType.Counter => "counter",
            MetricType.Gauge => "gauge",
            _ => om ? "unknown" : "untyped",
        };
        var sb = new StringBuilder();
        sb.Append("# HELP ").Append(familyName).Append(' ');
        TextEscaping.AppendHelp(sb, Help, format);
        sb.Append('\n');
        sb.Append("# TYPE ").Append(familyName).Append(' ').Append(type).Append('\n');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }
}
