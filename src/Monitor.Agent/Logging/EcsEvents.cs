using System.Globalization;
using System.Text;
using System.Text.Json;
using Serilog.Events;

namespace Monitor.Agent.Logging;

/// <summary>How one log event is described in ECS <c>event.*</c> terms, and which typed object carries its properties.</summary>
/// <param name="Kind">ECS <c>event.kind</c>.</param>
/// <param name="Category">ECS <c>event.category</c>.</param>
/// <param name="Type">ECS <c>event.type</c>.</param>
/// <param name="Type2">A second <c>event.type</c> value, or null.</param>
/// <param name="Code">ECS <c>event.code</c> when it is not the event id (the XID for XID events).</param>
/// <param name="Outcome">ECS <c>event.outcome</c>, or null.</param>
/// <param name="Namespace">The typed object (<c>gpu</c>, <c>infiniband</c>, <c>job</c>), or null for <c>labels.*</c>.</param>
internal readonly record struct EcsEventShape(string Kind, string Category, string Type, string? Type2, string? Code, string? Outcome, string? Namespace);

/// <summary>
/// How node events look in ECS: the ranges of the <see cref="EventIds"/> catalogue map to ECS categories and to a typed object whose
/// field names are the structured-log property names in snake_case (with a few renames such as <c>Gpu</c> →
/// <c>gpu.index</c> and <c>JobId</c> → <c>job.id</c>). New GPU events in 3000–3099 are covered without code changes.
/// </summary>
internal static class EcsEvents
{
    private static readonly Dictionary<string, string> GpuNames = new(StringComparer.Ordinal)
    {
        ["Gpu"] = "index",
        ["Xid"] = "xid",
        ["Uuid"] = "uuid",
    };

    private static readonly Dictionary<string, string> JobNames = new(StringComparer.Ordinal)
    {
        ["JobId"] = "id",
        ["Seconds"] = "duration_seconds",
    };

    private static readonly Dictionary<string, string> NoNames = new(StringComparer.Ordinal);

    /// <summary>Classifies the event with id <paramref name="eventId"/> (-1 when it has none).</summary>
    public static EcsEventShape Classify(int eventId, LogEvent logEvent)
    {
        var error = logEvent.Level >= LogEventLevel.Error;
        switch (eventId)
        {
            case >= EventIds.GpuFirst and <= EventIds.GpuLast:
                string? code = null;
                if (eventId == EventIds.GpuXid && logEvent.Properties.TryGetValue("Xid", out var xid) && xid is ScalarValue { Value: IFormattable x })
                {
                    code = x.ToString(null, CultureInfo.InvariantCulture);
                }

                return new("event", "driver", error ? "error" : "change", null, code, null, "gpu");
            case >= EventIds.InfiniBandFirst and <= EventIds.InfiniBandLast:
                return new("event", "host", error || logEvent.Level == LogEventLevel.Warning ? "error" : "change", "device", null, null, "infiniband");
            case EventIds.JobStarted:
                return new("event", "process", "start", null, null, null, "job");
            case EventIds.JobEnded:
                return new("event", "process", "end", null, null, "success", "job");
            case > EventIds.JobEnded and <= EventIds.JobsLast:
                return new("event", "process", error || logEvent.Level == LogEventLevel.Warning ? "error" : "change", null, null, null, "job");
            default:
                return new("event", "host", error ? "error" : "info", null, null, null, null);
        }
    }

    /// <summary>Writes the typed object <paramref name="ns"/> with every scalar property of the event.</summary>
    public static void WriteTyped(Utf8JsonWriter json, string ns, LogEvent logEvent)
    {
        var names = ns switch
        {
            "gpu" => GpuNames,
            "job" => JobNames,
            _ => NoNames,
        };
        json.WriteStartObject(ns);
        foreach (var (name, value) in logEvent.Properties)
        {
            if (name is "SourceContext" or "EventId" || value is not ScalarValue { Value: { } scalar })
            {
                continue;
            }

            var field = names.TryGetValue(name, out var renamed) ? renamed : SnakeCase(name);
            switch (scalar)
            {
                case string s:
                    json.WriteString(field, s);
                    break;
                case bool b:
                    json.WriteBoolean(field, b);
                    break;
                case int or long or short or byte or sbyte or ushort or uint:
                    json.WriteNumber(field, Convert.ToInt64(scalar, CultureInfo.InvariantCulture));
                    break;
                case ulong u:
                    json.WriteNumber(field, u);
                    break;
                case double or float or decimal:
                    var d = Convert.ToDouble(scalar, CultureInfo.InvariantCulture);
                    if (double.IsFinite(d))
                    {
                        json.WriteNumber(field, d);
                    }

                    break;
                case TimeSpan t:
                    json.WriteNumber(field + "_seconds", t.TotalSeconds);
                    break;
                default:
                    json.WriteString(field, scalar is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : scalar.ToString());
                    break;
            }
        }

        json.WriteEndObject();
    }

    /// <summary><c>GpuMemoryPeakBytes</c> → <c>gpu_memory_peak_bytes</c>.</summary>
    public static string SnakeCase(string name)
    {
        var text = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                // A new word starts at an upper-case letter after a lower-case one or a digit, or before a lower-case
                // one inside an acronym (XIDCount → xid_count).
                if (i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]) && char.IsUpper(name[i - 1]))))
                {
                    text.Append('_');
                }

                text.Append(char.ToLowerInvariant(c));
            }
            else
            {
                text.Append(c);
            }
        }

        return text.ToString();
    }

    /// <summary>An ECS <c>labels</c> key: <c>.</c>, <c>*</c> and <c>\</c> become <c>_</c>.</summary>
    public static string LabelKey(string name) =>
        name.AsSpan().IndexOfAny(".*\\") < 0 ? name : name.Replace('.', '_').Replace('*', '_').Replace('\\', '_');
}
