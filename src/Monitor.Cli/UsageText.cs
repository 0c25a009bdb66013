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
        var currency = usage.TryGetProperty("currency", out var c) ? c.GetString() : null;
        var width = Math.Max(by.Length, rows.Select(r => r.GetProperty(by).GetString()!.Length).DefaultIfEmpty(0).Max()) + 2;
        text.Append(CultureInfo.InvariantCulture, $"{Pad(by, width)}{"GPU-hours",11}{"busy",11}{"util",7}{"kWh",11}{"CPU-hours",11}{"jobs",7}");
        text.Append(currency is null ? "\n" : string.Create(CultureInfo.InvariantCulture, $"{"cost " + currency,14}\n"));
        var total = new Totals(0, 0, 0, 0, 0, 0);
        foreach (var row in rows)
        {
            var line = new Totals(
                row.GetProperty("gpu_hours_allocated").GetDouble(), row.GetProperty("gpu_hours_busy").GetDouble(), row.GetProperty("energy_kwh").GetDouble(),
                row.GetProperty("cpu_hours").GetDouble(), row.GetProperty("jobs").GetInt64(), currency is null ? 0 : row.GetProperty("cost").GetDouble());
            Line(text, row.GetProperty(by).GetString() is { Length: > 0 } key ? key : "(none)", width, line, currency is not null);
            total = new Totals(total.Allocated + line.Allocated, total.Busy + line.Busy, total.Energy + line.Energy, total.Cpu + line.Cpu, total.Jobs + line.Jobs, total.Cost + line.Cost);
        }

        Line(text, "total", width, total, currency is not null);
        return text.ToString();
    }

    private static void Line(StringBuilder text, string key, int width, Totals t, bool cost)
    {
        text.Append(CultureInfo.InvariantCulture, $"{Pad(key, width)}{t.Allocated,11:0.00}{t.Busy,11:0.00}{(t.Allocated > 0 ? string.Create(CultureInfo.InvariantCulture, $"{t.Busy / t.Allocated * 100:0} %") : "-"),7}{t.Energy,11:0.000}{t.Cpu,11:0.00}{t.Jobs,7}");
        text.Append(cost ? string.Create(CultureInfo.InvariantCulture, $"{t.Cost,14:0.00}\n") : "\n");
    }

    private static string Pad(string text, int width) => text.PadRight(width);

    /// <summary>One line's figures: GPU-hours allocated and busy, kWh, CPU-hours, jobs and cost.</summary>
    private sealed record Totals(double Allocated, double Busy, double Energy, double Cpu, long Jobs, double Cost);
}
