using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Monitor.Cli;

/// <summary><c>monitor usage</c>'s table: the aggregator's usage document (<c>/api/v1/usage</c>) with a total line.</summary>
internal static class UsageText
{
    /// <summary>Formats <paramref name="usage"/>.</summary>
    public static string Format(JsonElement usage)
    {
        var by = usage.GetProperty("by").GetString()!;
        var rows = usage.GetProperty("rows").EnumerateArray().ToList();
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Usage by {by}, jobs that ended from {usage.GetProperty("from").GetString()} to {usage.GetProperty("to").GetString()} (excluded)\n\n");
        var width = Math.Max(by.Length, rows.Select(r => r.GetProperty(by).GetString()!.Length).DefaultIfEmpty(0).Max()) + 2;
        text.Append(CultureInfo.InvariantCulture, $"{Pad(by, width)}{"GPU-hours",11}{"busy",11}{"util",7}{"kWh",11}{"CPU-hours",11}{"jobs",7}\n");
        double allocated = 0, busy = 0, energy = 0, cpu = 0;
        long jobs = 0;
        foreach (var row in rows)
        {
            var (a, b, e, c, j) = (row.GetProperty("gpu_hours_allocated").GetDouble(), row.GetProperty("gpu_hours_busy").GetDouble(), row.GetProperty("energy_kwh").GetDouble(), row.GetProperty("cpu_hours").GetDouble(), row.GetProperty("jobs").GetInt64());
            Line(text, row.GetProperty(by).GetString() is { Length: > 0 } key ? key : "(none)", width, a, b, e, c, j);
            (allocated, busy, energy, cpu, jobs) = (allocated + a, busy + b, energy + e, cpu + c, jobs + j);
        }

        Line(text, "total", width, allocated, busy, energy, cpu, jobs);
        return text.ToString();
    }

    private static void Line(StringBuilder text, string key, int width, double allocated, double busy, double energy, double cpu, long jobs) =>
        text.Append(CultureInfo.InvariantCulture, $"{Pad(key, width)}{allocated,11:0.00}{busy,11:0.00}{(allocated > 0 ? string.Create(CultureInfo.InvariantCulture, $"{busy / allocated * 100:0} %") : "-"),7}{energy,11:0.000}{cpu,11:0.00}{jobs,7}\n");

    private static string Pad(string text, int width) => text.PadRight(width);
}
