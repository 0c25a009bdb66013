using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Monitor.Cli;

/// <summary>
/// <c>monitor jobstats</c>'s text: the aggregator's job document (<c>/api/v1/jobs/{id}</c>) as a report in the spirit
/// of Princeton's jobstats, from exact counters: the job, its totals, one line per node and GPU, and the notes.
/// </summary>
internal static class JobStatsText
{
    /// <summary>Formats <paramref name="job"/>; throws <see cref="KeyNotFoundException"/> or <see cref="InvalidOperationException"/> on a document that is not a job report.</summary>
    public static string Format(JsonElement job)
    {
        var text = new StringBuilder();
        var id = job.GetProperty("job_id").GetString();
        var who = string.Join(", ", new[] { ("user", Text(job, "user")), ("account", Text(job, "account")), ("partition", Text(job, "partition")) }
            .Where(p => p.Item2 is not null).Select(p => $"{p.Item1} {p.Item2}"));
        Line(text, $"Job {id}{(who.Length > 0 ? $" ({who})" : string.Empty)}: {job.GetProperty("state").GetString()}");
        var start = job.GetProperty("start").GetDateTimeOffset();
        var end = job.GetProperty("end").ValueKind == JsonValueKind.Null ? (DateTimeOffset?)null : job.GetProperty("end").GetDateTimeOffset();
        Line(text, $"  Start {start.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC, {(end is { } e ? $"end {e.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC" : "running")}, run time {Duration(job.GetProperty("runtime_seconds").GetDouble())}");
        var allocated = job.GetProperty("gpu_allocated_seconds").GetDouble();
        var busy = job.GetProperty("gpu_busy_seconds").GetDouble();
        var joules = job.GetProperty("gpu_energy_joules").GetDouble();
        var (gpus, nodes) = (job.GetProperty("gpus").GetInt32(), job.GetProperty("nodes").GetInt32());
        Line(text, $"  {gpus} GPU{(gpus == 1 ? "" : "s")} on {nodes} node{(nodes == 1 ? "" : "s")}: {allocated / 3600:0.00} GPU-hours allocated, {busy / 3600:0.00} busy ({Percent(busy, allocated)}), {joules / 3.6e6:0.000} kWh{(allocated > 0 ? $" ({joules / 3.6e6 / (allocated / 3600):0.000} kWh per GPU-hour)" : string.Empty)}");
        if (Host(job) is { Length: > 0 } host)
        {
            Line(text, $"  {host}");
        }

        if (job.GetProperty("unobserved_seconds").GetDouble() is var unobserved && unobserved > 0)
        {
            Line(text, $"  Not measured: {unobserved:0.#} s (an agent was down)");
        }

        text.AppendLine();
        Line(text, $"  {"Node",-12} {"GPU",3}  {"GPU-hours",9}  {"Util",5}  {"Peak",5}  {"Tensor",6}  {"Mem peak",9}  {"of",8}  {"Energy",9}  {"XID",3}  {"ECC",3}");
        foreach (var record in job.GetProperty("node_records").EnumerateArray())
        {
            var node = record.GetProperty("node").GetString()!;
            foreach (var gpu in record.GetProperty("gpus").EnumerateArray())
            {
                var held = gpu.GetProperty("allocated_seconds").GetDouble();
                Line(text, $"  {node,-12} {gpu.GetProperty("index").GetInt32(),3}  {held / 3600,9:0.00}  {Percent(gpu.GetProperty("busy_seconds").GetDouble(), held),5}  {Peak(gpu),5}  {Percent(gpu.GetProperty("tensor_active_seconds").GetDouble(), held),6}  {gpu.GetProperty("memory_peak_bytes").GetDouble() / 1e9,6:0.0} GB  {Total(gpu),8}  {gpu.GetProperty("energy_joules").GetDouble() / 3.6e6,5:0.000} kWh  {gpu.GetProperty("xid_errors").GetInt64(),3}  {gpu.GetProperty("ecc_errors").GetInt64(),3}");
            }
        }

        text.AppendLine();
        var notes = job.GetProperty("notes").EnumerateArray().ToList();
        Line(text, notes.Count == 0 ? "Notes: none." : "Notes:");
        foreach (var note in notes)
        {
            Line(text, $"  [{note.GetProperty("severity").GetString()}] {note.GetProperty("message").GetString()}");
        }

        return text.ToString();
    }

    /// <summary>A GPU's peak utilization over one agent tick ("97 %"), "-" when unknown.</summary>
    internal static string Peak(JsonElement gpu) =>
        Number(gpu, "utilization_peak") is { } peak ? string.Create(CultureInfo.InvariantCulture, $"{peak * 100:0} %") : "-";

    /// <summary>A GPU's total memory ("80.0 GB"), "-" when the aggregator does not know it.</summary>
    internal static string Total(JsonElement gpu) =>
        Number(gpu, "memory_total_bytes") is { } total ? string.Create(CultureInfo.InvariantCulture, $"{total / 1e9:0.0} GB") : "-";

    /// <summary>The job's CPU and memory line: CPU-hours, CPUs and efficiency, memory peak against the limit, as far as known.</summary>
    private static string Host(JsonElement job)
    {
        var parts = new List<string>();
        var cpuSeconds = job.GetProperty("cpu_seconds").GetDouble();
        if (cpuSeconds > 0 || Number(job, "cpus_allocated") is not null)
        {
            var cpu = string.Create(CultureInfo.InvariantCulture, $"CPU {cpuSeconds / 3600:0.00} CPU-hours");
            if (Number(job, "cpus_allocated") is { } cpus)
            {
                cpu += string.Create(CultureInfo.InvariantCulture, $" on {cpus:0} CPU{(cpus == 1 ? "" : "s")}");
            }

            if (Number(job, "cpu_efficiency") is { } efficiency)
            {
                cpu += string.Create(CultureInfo.InvariantCulture, $" ({efficiency * 100:0} % efficiency)");
            }

            if (Number(job, "cpu_energy_joules") is { } cpuJoules)
            {
                cpu += string.Create(CultureInfo.InvariantCulture, $", CPU energy {cpuJoules / 3.6e6:0.000} kWh");
            }

            parts.Add(cpu);
        }

        if (Number(job, "memory_peak_bytes") is { } peak)
        {
            parts.Add(Number(job, "memory_limit_bytes") is { } limit
                ? string.Create(CultureInfo.InvariantCulture, $"memory peak {peak / 1e9:0.0} GB of {limit / 1e9:0.0} GB limit ({peak / limit * 100:0} %)")
                : string.Create(CultureInfo.InvariantCulture, $"memory peak {peak / 1e9:0.0} GB (no limit)"));
        }

        return string.Join("; ", parts);
    }

    private static double? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;

    private static void Line(StringBuilder text, FormattableString line) => text.Append(line.ToString(CultureInfo.InvariantCulture)).Append('\n');

    private static void Line(StringBuilder text, string line) => text.Append(line).Append('\n');

    private static string? Text(JsonElement job, string name) => job.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Percent(double part, double whole) => whole > 0 ? string.Create(CultureInfo.InvariantCulture, $"{part / whole * 100:0} %") : "-";

    /// <summary>Seconds as h:mm:ss (hours unbounded).</summary>
    internal static string Duration(double seconds)
    {
        var span = TimeSpan.FromSeconds(Math.Round(seconds));
        return string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalHours}:{span.Minutes:00}:{span.Seconds:00}");
    }
}
