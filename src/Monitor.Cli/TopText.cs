using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Monitor.Cli;

/// <summary>
/// <c>monitor top</c>'s table: the aggregator's running jobs (<c>/api/v1/running</c>), most GPUs first, with
/// utilization since the start and now, and the GPUs idle now flagged; a summary line of the cluster's GPUs on top.
/// </summary>
internal static class TopText
{
    /// <summary>Formats <paramref name="running"/>, at most <paramref name="limit"/> jobs.</summary>
    public static string Format(JsonElement running, int limit)
    {
        var jobs = running.GetProperty("jobs").EnumerateArray().ToList();
        var gpus = jobs.Sum(j => j.GetProperty("gpus").GetInt32());
        var idle = jobs.Sum(j => j.GetProperty("idle_gpus").GetArrayLength());
        var idleBelow = running.GetProperty("idle_below").GetDouble();
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{jobs.Count} running job{(jobs.Count == 1 ? "" : "s")} holding {gpus} GPU{(gpus == 1 ? "" : "s")}; {idle} idle now (busy under {idleBelow * 100:0} %)\n\n");
        var idWidth = Math.Max(6, jobs.Select(j => j.GetProperty("job_id").GetString()!.Length).DefaultIfEmpty(0).Max()) + 2;
        var userWidth = Math.Max(4, jobs.Select(j => Text(j, "user").Length).DefaultIfEmpty(0).Max()) + 2;
        var accountWidth = Math.Max(7, jobs.Select(j => Text(j, "account").Length).DefaultIfEmpty(0).Max()) + 2;
        text.Append(CultureInfo.InvariantCulture, $"{"JOBID".PadRight(idWidth)}{"USER".PadRight(userWidth)}{"ACCOUNT".PadRight(accountWidth)}{"NODES",5}{"GPUS",6}{"UTIL",7}{"NOW",7}{"RUNTIME",12}  IDLE GPUS\n");
        foreach (var job in jobs.Take(limit))
        {
            var idleGpus = string.Join(' ', job.GetProperty("idle_gpus").EnumerateArray().Select(g => $"{g.GetProperty("node").GetString()}:{g.GetProperty("index").GetInt32()}"));
            text.Append(CultureInfo.InvariantCulture, $"{job.GetProperty("job_id").GetString()!.PadRight(idWidth)}{Text(job, "user").PadRight(userWidth)}{Text(job, "account").PadRight(accountWidth)}");
            text.Append(CultureInfo.InvariantCulture, $"{job.GetProperty("nodes").GetInt32(),5}{job.GetProperty("gpus").GetInt32(),6}{Percent(job, "gpu_utilization"),7}{Percent(job, "gpu_utilization_now"),7}{JobStatsText.Duration(job.GetProperty("runtime_seconds").GetDouble()),12}");
            text.Append(idleGpus.Length > 0 ? "  " + idleGpus : string.Empty).Append('\n');
        }

        if (jobs.Count > limit)
        {
            text.Append(CultureInfo.InvariantCulture, $"... and {jobs.Count - limit} more (--limit)\n");
        }

        return text.ToString();
    }

    private static string Text(JsonElement job, string name) => job.TryGetProperty(name, out var value) && value.GetString() is { Length: > 0 } text ? text : "-";

    private static string Percent(JsonElement job, string name) =>
        job.GetProperty(name).ValueKind == JsonValueKind.Number ? string.Create(CultureInfo.InvariantCulture, $"{job.GetProperty(name).GetDouble() * 100:0} %") : "-";
}
