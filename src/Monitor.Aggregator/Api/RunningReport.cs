using System.Text.Json;
using Monitor.Aggregator.Storage;

namespace Monitor.Aggregator.Api;

/// <summary>
/// <c>GET /api/v1/running</c>, what <c>monitor top</c> shows: every running job by GPUs held, with its utilization
/// since it started and at the last poll, and its idle GPUs. "Now" is the change between the last two records a node
/// sent (one poll interval or one agent tick, whichever is longer); a GPU is idle when it was busy under
/// <see cref="IdleBelow"/> of that time.
/// </summary>
internal static class RunningReport
{
    /// <summary>The utilization under which a held GPU is flagged idle (the alert rules' 5 %).</summary>
    public const double IdleBelow = 0.05;

    /// <summary>Writes the running jobs, most GPUs first.</summary>
    public static void Write(Utf8JsonWriter json, IReadOnlyList<RunningJob> jobs, DateTimeOffset now)
    {
        json.WriteStartObject();
        json.WriteString("time", now);
        json.WriteNumber("idle_below", IdleBelow);
        json.WriteStartArray("jobs");
        foreach (var job in jobs.OrderByDescending(j => j.Gpus.Count).ThenBy(j => j.JobId, StringComparer.Ordinal))
        {
            json.WriteStartObject();
            json.WriteString("job_id", job.JobId);
            Optional(json, "user", job.User);
            Optional(json, "account", job.Account);
            Optional(json, "partition", job.Partition);
            json.WriteString("start", job.Start);
            json.WriteNumber("runtime_seconds", Math.Max(0, (now - job.Start).TotalSeconds));
            json.WriteNumber("nodes", job.Nodes.Count);
            json.WriteNumber("gpus", job.Gpus.Count);
            Ratio(json, "gpu_utilization", job.Gpus.Sum(g => g.BusySeconds), job.Gpus.Sum(g => g.AllocatedSeconds));
            Ratio(json, "gpu_utilization_now", job.Gpus.Sum(g => g.RecentBusySeconds), job.Gpus.Sum(g => g.RecentAllocatedSeconds));
            json.WriteStartArray("idle_gpus");
            foreach (var gpu in job.Gpus.Where(IsIdle))
            {
                json.WriteStartObject();
                json.WriteString("node", gpu.Node);
                json.WriteNumber("index", gpu.Index);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>Whether the GPU was busy under <see cref="IdleBelow"/> at the last poll.</summary>
    public static bool IsIdle(RunningGpu gpu) => gpu.RecentAllocatedSeconds > 0 && gpu.RecentBusySeconds < IdleBelow * gpu.RecentAllocatedSeconds;

    private static void Ratio(Utf8JsonWriter json, string name, double part, double whole)
    {
        if (whole > 0)
        {
            json.WriteNumber(name, part / whole);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void Optional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }
}
