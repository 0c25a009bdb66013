using System.Buffers;
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
/// and looked up through the dictionary's span-keyed alternate lookup. The rendered series list is an immutable,
/// sorted array replaced on add and remove, so a scrape renders without taking a lock.
/// </remarks>
public sealed class MetricFamily
{
    /// <summary>Separator of label values in lookup keys; a non-character, so it cannot collide with real text.</summary>
    private const char KeySeparator = '\uFFFF';

    private readonly Dictionary<string, Series> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Series>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int[] _sortedLabelOrder;
    private readonly Lock _writeLock = new();
    private volatile Series[] _sorted = [];

    internal MetricFamily(MetricGroup group, string name, string help, MetricType type, string[] labelNames)
    {
        if (!MetricNames.IsValidMetricName(name))
        {
            throw new ArgumentException($"invalid metric name '{name}'", nameof(name));
        }

        if (type == MetricType.Counter && !name.EndsWith("_total", StringComparison.Ordinal))
        {
            // OpenMetrics requires counter samples to end in _total; enforcing it here keeps both formats valid.
            throw new ArgumentException($"counter '{name}' must end in _total", nameof(name));
        }

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

    /// <summary>The group (collector) that owns this family.</summary>
    public MetricGroup Group { get; }

    /// <summary>The series that currently exist, sorted by label values.</summary>
    public IReadOnlyList<Series> Series => _sorted;

    internal byte[] TextHeader { get; }

    internal byte[] OpenMetricsHeader { get; }

    /// <summary>The series of a family without labels.</summary>
    public Series Get() => Get(ReadOnlySpan<string>.Empty);

    /// <summary>The series with one label value, created if new.</summary>
    public Series Get(ReadOnlySpan<char> v1)
    {
        Span<char> key = stackalloc char[256];
        if (v1.Length <= key.Length && LabelNames.Count == 1)
        {
            v1.CopyTo(key);
            return Lookup(key[..v1.Length]) ?? Create([v1.ToString()]);
        }

        return Get([v1.ToString()]);
    }

    /// <summary>The series with two label values, created if new.</summary>
    public Series Get(ReadOnlySpan<char> v1, ReadOnlySpan<char> v2)
    {
        Span<char> key = stackalloc char[256];
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
        Span<char> key = stackalloc char[256];
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
    public Series Get(params ReadOnlySpan<string> labelValues)
    {
        if (labelValues.Length != LabelNames.Count)
        {
            throw new ArgumentException($"'{Name}' takes {LabelNames.Count} label values, got {labelValues.Length}", nameof(labelValues));
        }

        var key = string.Join(KeySeparator, labelValues!);
        return Lookup(key) ?? Create(labelValues.ToArray());
    }

    /// <summary>Sets the value of the series with the given label values.</summary>
    public void Set(double value, params ReadOnlySpan<string> labelValues) => Get(labelValues).Set(value);

    /// <summary>Removes every series.</summary>
    public void Clear()
    {
        lock (_writeLock)
        {
            _byKey.Clear();
            _sorted = [];
        }
    }

    /// <summary>Appends the family (headers and every series with a value) in <paramref name="format"/>.</summary>
    public void WriteTo(IBufferWriter<byte> writer, ExpositionFormat format)
    {
        var series = _sorted;
        var any = false;
        foreach (var s in series)
        {
            if (!s.HasValue)
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
            n += PrometheusFloat.Format(s.Value, span[n..]);
            span[n++] = (byte)'\n';
            writer.Advance(n);
        }
    }

    /// <summary>Removes series not touched since <paramref name="generation"/> began.</summary>
    internal void RemoveStale(long generation)
    {
        var current = _sorted;
        var stale = 0;
        foreach (var s in current)
        {
            if (s.Generation < generation)
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
                if (s.Generation < generation)
                {
                    _byKey.Remove(s.Key);
                }
                else
                {
                    kept.Add(s);
                }
            }

            _sorted = [.. kept];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Series? Lookup(ReadOnlySpan<char> key)
    {
        // Readers race only with Create/RemoveStale, which hold the lock and replace entries; a miss falls through
        // to Create, which re-checks under the lock.
        Series? series;
        lock (_writeLock)
        {
            if (!_lookup.TryGetValue(key, out series))
            {
                return null;
            }
        }

        series.Generation = Group.Generation;
        return series;
    }

    private Series Create(string[] labelValues)
    {
        var key = string.Join(KeySeparator, labelValues);
        lock (_writeLock)
        {
            if (_byKey.TryGetValue(key, out var existing))
            {
                existing.Generation = Group.Generation;
                return existing;
            }

            var series = new Series(this, key, labelValues, EncodePrefix(labelValues)) { Generation = Group.Generation };
            _byKey.Add(key, series);

            var list = new List<Series>(_sorted) { series };
            list.Sort(CompareSeries);
            _sorted = [.. list];
            return series;
        }
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
        if (labelValues.Length > 0)
        {
            sb.Append('{');
            for (var k = 0; k < _sortedLabelOrder.Length; k++)
            {
                var i = _sortedLabelOrder[k];
                if (k > 0)
                {
                    sb.Append(',');
                }

                sb.Append(LabelNames[i]).Append("=\"");
                TextEscaping.AppendLabelValue(sb, labelValues[i]);
                sb.Append('"');
            }

            sb.Append('}');
        }

        sb.Append(' ');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private byte[] EncodeHeader(ExpositionFormat format)
    {
        var om = format == ExpositionFormat.OpenMetrics100;
        var familyName = om && Type == MetricType.Counter ? Name[..^"_total".Length] : Name;
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
