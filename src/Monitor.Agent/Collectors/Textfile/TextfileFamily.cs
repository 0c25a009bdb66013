using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Textfile;

/// <summary>
/// One metric family of a textfile, converted the way node_exporter 1.5.0's <c>convertMetricFamily</c> does: every
/// metric carries every label name used in the family (missing ones as empty values), label names sorted, and a
/// histogram or summary rebuilt from its <c>_bucket</c>/quantile, <c>_sum</c> and <c>_count</c> samples.
/// </summary>
internal sealed class TextfileFamily
{
    internal TextfileFamily(string name, string? help, ParsedMetricType type, List<TextfileMetric> metrics)
    {
        Name = name;
        Help = help;
        Type = type;
        Metrics = metrics;
    }

    /// <summary>The family name (for histograms and summaries, without suffix).</summary>
    public string Name { get; }

    /// <summary>HELP as written, or null (node_exporter then says which files the family came from).</summary>
    public string? Help { get; }

    /// <summary>counter, gauge, untyped (<see cref="ParsedMetricType.Unknown"/>), summary or histogram.</summary>
    public ParsedMetricType Type { get; }

    /// <summary>The metrics in file order.</summary>
    public List<TextfileMetric> Metrics { get; }

    /// <summary>
    /// Converts a parsed family. Throws <see cref="FormatException"/> for what node_exporter's parser refuses and ours
    /// reads: a bucket without a numeric <c>le</c>, a summary sample without a numeric <c>quantile</c>.
    /// </summary>
    public static TextfileFamily From(ParsedFamily family)
    {
        var type = family.Type;
        var special = type switch
        {
            ParsedMetricType.Histogram => "le",
            ParsedMetricType.Summary => "quantile",
            _ => null,
        };

        // Every label name of the family, in name order (client_golang sorts label pairs); le/quantile go last.
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var sample in family.Samples)
        {
            foreach (var (key, _) in sample.Labels)
            {
                if (key != special)
                {
                    names.Add(key);
                }
            }
        }

        var labelNames = names.ToArray();
        var metrics = new List<TextfileMetric>();
        if (special is null)
        {
            foreach (var sample in family.Samples)
            {
                metrics.Add(new TextfileMetric(labelNames, ValuesOf(sample, labelNames)) { Value = sample.Value });
            }

            return new TextfileFamily(family.Name, family.Help, type, metrics);
        }

        // Histograms and summaries: one metric per label set without le/quantile, in order of first appearance.
        var byKey = new Dictionary<string, TextfileMetric>(StringComparer.Ordinal);
        foreach (var sample in family.Samples)
        {
            var values = ValuesOf(sample, labelNames);
            var key = string.Join('\uFFFF', values);
            if (!byKey.TryGetValue(key, out var metric))
            {
                metric = new TextfileMetric(labelNames, values) { Points = [] };
                byKey.Add(key, metric);
                metrics.Add(metric);
            }

            var suffix = sample.Name.Length > family.Name.Length ? sample.Name[family.Name.Length..] : string.Empty;
            switch (suffix)
            {
                case "_sum":
                    metric.Sum = sample.Value;
                    break;
                case "_count":
                    metric.Count = ToCount(sample.Value);
                    break;
                default:
                    // _bucket of a histogram, the bare name of a summary.
                    var bound = sample.Label(special) is { } text && PrometheusFloat.TryParse(text, out var parsed)
                        ? parsed
                        : throw new FormatException($"'{sample.Name}' needs a numeric '{special}' label");
                    var value = type == ParsedMetricType.Histogram ? ToCount(sample.Value) : sample.Value;
                    var at = metric.Points!.FindIndex(p => p.Bound.Equals(bound));
                    if (at >= 0)
                    {
                        metric.Points[at] = (bound, value);
                    }
                    else
                    {
                        metric.Points.Add((bound, value));
                    }

                    break;
            }
        }

        foreach (var metric in metrics)
        {
            metric.Points!.Sort((a, b) => a.Bound.CompareTo(b.Bound));
        }

        return new TextfileFamily(family.Name, family.Help, type, metrics);
    }

    /// <summary>A family with another HELP (node_exporter's "Metric read from ..." for families without one).</summary>
    public TextfileFamily WithHelp(string help) => new(Name, help, Type, Metrics);

    /// <summary>Counts are unsigned integers in client_golang: the fraction is dropped.</summary>
    private static double ToCount(double value) => value > 0 && value < 1.8446744073709552E+19 ? Math.Floor(value) : 0;

    private static string[] ValuesOf(ParsedSample sample, string[] labelNames)
    {
        var values = new string[labelNames.Length];
        for (var i = 0; i < labelNames.Length; i++)
        {
            values[i] = sample.Label(labelNames[i]) ?? string.Empty;
        }

        return values;
    }
}

/// <summary>One metric of a textfile family: its labels and its value, or its buckets/quantiles, sum and count.</summary>
/// <param name="LabelNames">Label names in name order (without le/quantile).</param>
/// <param name="LabelValues">Values, empty where the sample lacked the label.</param>
internal sealed record TextfileMetric(string[] LabelNames, string[] LabelValues)
{
    /// <summary>The value of a counter, gauge or untyped metric.</summary>
    public double Value { get; set; }

    /// <summary>Buckets (upper bound, cumulative count) or quantiles (quantile, value), sorted by bound.</summary>
    public List<(double Bound, double Value)>? Points { get; init; }

    /// <summary>Sample sum of a histogram or summary.</summary>
    public double Sum { get; set; }

    /// <summary>Sample count of a histogram or summary.</summary>
    public double Count { get; set; }

    /// <summary>The identity client_golang's registry uses to find duplicates: the label values, not their names.</summary>
    public string Identity => string.Join('\uFFFF', LabelValues);

    /// <summary>Orders metrics as client_golang does: fewer labels first, then label values.</summary>
    public static int Compare(TextfileMetric a, TextfileMetric b)
    {
        if (a.LabelValues.Length != b.LabelValues.Length)
        {
            return a.LabelValues.Length.CompareTo(b.LabelValues.Length);
        }

        for (var i = 0; i < a.LabelValues.Length; i++)
        {
            var byValue = string.CompareOrdinal(a.LabelValues[i], b.LabelValues[i]);
            if (byValue != 0)
            {
                return byValue;
            }
        }

        return 0;
    }
}
