using System.Globalization;
using System.Text;
using System.Text.Json;
using Monitor.Aggregator.Storage;

namespace Monitor.Aggregator.Api;

/// <summary>
/// <c>GET /api/v1/usage?by=account&amp;from=2026-11-01&amp;to=2026-12-01[&amp;format=csv]</c>: usage of the jobs that ended
/// in the window (<c>to</c> excluded), grouped by account, user, partition or day, in hours and kWh.
/// </summary>
internal static class UsageReport
{
    /// <summary>The query's problem, or null when it is usable (then <paramref name="query"/> is set).</summary>
    public static string? Parse(string? by, string? from, string? to, out (string By, DateOnly From, DateOnly To) query)
    {
        query = default;
        by ??= "account";
        if (by is not ("account" or "user" or "partition" or "day"))
        {
            return $"by must be account, user, partition or day, not '{by}'";
        }

        if (!DateOnly.TryParseExact(from, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var start)
            || !DateOnly.TryParseExact(to, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var end))
        {
            return "from and to are days such as 2026-11-01 (to is excluded)";
        }

        if (end <= start)
        {
            return "to must be after from";
        }

        query = (by, start, end);
        return null;
    }

    /// <summary>The sum of <paramref name="rows"/>, keyed <paramref name="key"/> (a report's total line).</summary>
    public static UsageRow Total(IReadOnlyList<UsageRow> rows, string key) =>
        new(key, rows.Sum(r => r.GpuAllocatedSeconds), rows.Sum(r => r.GpuBusySeconds), rows.Sum(r => r.GpuEnergyJoules), rows.Sum(r => r.CpuSeconds), rows.Sum(r => r.Jobs),
            rows.Any(r => r.Cost is not null) ? rows.Sum(r => r.Cost ?? 0) : null);

    /// <summary>Writes the rows as JSON; with a <paramref name="currency"/> (rates configured), each row's cost too.</summary>
    public static void WriteJson(Utf8JsonWriter json, (string By, DateOnly From, DateOnly To) query, IReadOnlyList<UsageRow> rows, string? currency = null)
    {
        json.WriteStartObject();
        json.WriteString("by", query.By);
        if (currency is not null)
        {
            json.WriteString("currency", currency);
        }

        json.WriteString("from", query.From.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        json.WriteString("to", query.To.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        json.WriteStartArray("rows");
        foreach (var row in rows)
        {
            json.WriteStartObject();
            json.WriteString(query.By, row.Key);
            json.WriteNumber("gpu_hours_allocated", Units.Hours(row.GpuAllocatedSeconds));
            json.WriteNumber("gpu_hours_busy", Units.Hours(row.GpuBusySeconds));
            if (row.GpuAllocatedSeconds > 0)
            {
                json.WriteNumber("gpu_utilization", row.GpuBusySeconds / row.GpuAllocatedSeconds);
            }
            else
            {
                json.WriteNull("gpu_utilization");
            }

            json.WriteNumber("energy_kwh", Units.KilowattHours(row.GpuEnergyJoules));
            json.WriteNumber("cpu_hours", Units.Hours(row.CpuSeconds));
            json.WriteNumber("jobs", row.Jobs);
            if (currency is not null)
            {
                json.WriteNumber("cost", row.Cost ?? 0);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>The rows as CSV (RFC 4180), one header line; with a <paramref name="currency"/>, cost and currency columns.</summary>
    public static string Csv((string By, DateOnly From, DateOnly To) query, IReadOnlyList<UsageRow> rows, string? currency = null)
    {
        var csv = new StringBuilder();
        csv.Append(query.By).Append(",gpu_hours_allocated,gpu_hours_busy,energy_kwh,cpu_hours,jobs").Append(currency is null ? "" : ",cost,currency").Append("\r\n");
        foreach (var row in rows)
        {
            csv.Append(Field(row.Key)).Append(',')
                .Append(string.Create(CultureInfo.InvariantCulture, $"{Units.Hours(row.GpuAllocatedSeconds):0.######},{Units.Hours(row.GpuBusySeconds):0.######},{Units.KilowattHours(row.GpuEnergyJoules):0.######},{Units.Hours(row.CpuSeconds):0.######},{row.Jobs}"));
            if (currency is not null)
            {
                csv.Append(string.Create(CultureInfo.InvariantCulture, $",{row.Cost ?? 0:0.00},")).Append(Field(currency));
            }

            csv.Append("\r\n");
        }

        return csv.ToString();
    }

    /// <summary>A CSV field, quoted when it holds a comma, quote or line break; a leading =, +, - or @ is quoted too (spreadsheet formulas).</summary>
    private static string Field(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || (value.Length > 0 && value[0] is '=' or '+' or '-' or '@')
            ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : value;
}
