using System.Text;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Textfile;

/// <summary>
/// Renders merged textfile families in text format 0.0.4 and OpenMetrics 1.0, as client_golang writes const metrics:
/// families in name order, metrics in label order, label names sorted with <c>le</c>/<c>quantile</c> last, empty
/// label values written, a histogram's <c>+Inf</c> bucket added from its count when the file has none.
/// </summary>
internal static class TextfileRender
{
    /// <summary>Both renderings of <paramref name="families"/>.</summary>
    public static RawExposition Render(IReadOnlyList<TextfileFamily> families)
    {
        if (families.Count == 0)
        {
            return RawExposition.Empty;
        }

        var sorted = families.OrderBy(f => f.Name, StringComparer.Ordinal).ToArray();
        return new RawExposition(Encode(sorted, openMetrics: false), Encode(sorted, openMetrics: true));
    }

    private static byte[] Encode(TextfileFamily[] families, bool openMetrics)
    {
        var sb = new StringBuilder();
        var format = openMetrics ? ExpositionFormat.OpenMetrics100 : ExpositionFormat.Text004;
        foreach (var family in families)
        {
            var name = family.Name;

            // OpenMetrics names a counter family without _total and its samples with it.
            var familyName = openMetrics && family.Type == ParsedMetricType.Counter && name.EndsWith("_total", StringComparison.Ordinal) ? name[..^6] : name;
            var counterSample = openMetrics && family.Type == ParsedMetricType.Counter && !name.EndsWith("_total", StringComparison.Ordinal) ? name + "_total" : name;
            sb.Append("# HELP ").Append(familyName).Append(' ');
            TextEscaping.AppendHelp(sb, family.Help ?? string.Empty, format);
            sb.Append("\n# TYPE ").Append(familyName).Append(' ').Append(TypeWord(family.Type, openMetrics)).Append('\n');
            foreach (var metric in family.Metrics)
            {
                switch (family.Type)
                {
                    case ParsedMetricType.Histogram:
                        var hasInf = false;
                        foreach (var (bound, count) in metric.Points!)
                        {
                            hasInf |= double.IsPositiveInfinity(bound);
                            Sample(sb, name + "_bucket", metric, "le", bound, count);
                        }

                        if (!hasInf)
                        {
                            Sample(sb, name + "_bucket", metric, "le", double.PositiveInfinity, metric.Count);
                        }

                        Sample(sb, name + "_sum", metric, null, 0, metric.Sum);
                        Sample(sb, name + "_count", metric, null, 0, metric.Count);
                        break;
                    case ParsedMetricType.Summary:
                        foreach (var (quantile, value) in metric.Points!)
                        {
                            Sample(sb, name, metric, "quantile", quantile, value);
                        }

                        Sample(sb, name + "_sum", metric, null, 0, metric.Sum);
                        Sample(sb, name + "_count", metric, null, 0, metric.Count);
                        break;
                    default:
                        Sample(sb, family.Type == ParsedMetricType.Counter ? counterSample : name, metric, null, 0, metric.Value);
                        break;
                }
            }
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static void Sample(StringBuilder sb, string name, TextfileMetric metric, string? extraLabel, double extraValue, double value)
    {
        sb.Append(name);
        if (metric.LabelNames.Length > 0 || extraLabel is not null)
        {
            sb.Append('{');
            for (var i = 0; i < metric.LabelNames.Length; i++)
            {
                if (i > 0)
                {
                    sb.Append(',');
                }

                sb.Append(metric.LabelNames[i]).Append("=\"");
                TextEscaping.AppendLabelValue(sb, metric.LabelValues[i]);
                sb.Append('"');
            }

            if (extraLabel is not null)
            {
                if (metric.LabelNames.Length > 0)
                {
                    sb.Append(',');
                }

                sb.Append(extraLabel).Append("=\"").Append(PrometheusFloat.ToString(extraValue)).Append('"');
            }

            sb.Append('}');
        }

        sb.Append(' ').Append(PrometheusFloat.ToString(value)).Append('\n');
    }

    private static string TypeWord(ParsedMetricType type, bool openMetrics) => type switch
    {
        ParsedMetricType.Counter => "counter",
        ParsedMetricType.Gauge => "gauge",
        ParsedMetricType.Histogram => "histogram",
        ParsedMetricType.Summary => "summary",
        _ => openMetrics ? "unknown" : "untyped",
    };
}
