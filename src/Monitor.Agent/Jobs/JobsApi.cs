using System.Text.Json;

namespace Monitor.Agent.Jobs;

/// <summary>
/// <c>GET /api/v1/jobs</c>: the node, its jobs (running, then ended within the ledger's retention) with identity,
/// start and end, GPUs and cumulative counters, and the feed's cursor; with <c>?since=&lt;cursor&gt;</c>, only the
/// records that changed since, by revision (docs/api.md). Written with <see cref="Utf8JsonWriter"/>: no reflection, so
/// it survives trimming.
/// </summary>
internal static class JobsApi
{
    /// <summary>The most records one feed answer holds unless <c>limit</c> says otherwise.</summary>
    public const int DefaultLimit = 1000;

    /// <summary>The most records one feed answer may hold.</summary>
    public const int MaxLimit = 10000;

    /// <summary>
    /// Parses the query: <paramref name="since"/> (a cursor, or "0" for the beginning; null for the whole list) and
    /// <paramref name="limit"/>. Returns null when they are usable, else why not (a 400).
    /// </summary>
    public static string? ParseQuery(string? sinceText, string? limitText, JobStore store, out FeedQuery? query)
    {
        query = null;
        var limit = DefaultLimit;
        if (limitText is not null
            && (!int.TryParse(limitText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > MaxLimit))
        {
            return $"limit must be a whole number from 1 to {MaxLimit}, not '{Shorten(limitText)}'";
        }

        if (sinceText is null)
        {
            return limitText is null ? null : "limit applies to the feed only: give since=<cursor> (or since=0) too";
        }

        if (sinceText == "0")
        {
            query = new FeedQuery(0, Reset: false, limit);
            return null;
        }

        if (store.Ledger is not { } ledger || !ledger.TryParseCursor(sinceText, out var revision))
        {
            return $"since must be a cursor from an earlier answer's \"cursor\" (or 0 for the beginning), not '{Shorten(sinceText)}'";
        }

        // A cursor of another ledger (wiped, or memory only across a restart): the reader starts over from 0.
        query = revision is { } r ? new FeedQuery(r, Reset: false, limit) : new FeedQuery(0, Reset: true, limit);
        return null;
    }

    /// <summary>Writes the document for <paramref name="store"/> at <paramref name="now"/>: the whole list, or the feed for <paramref name="query"/>.</summary>
    public static void Write(Utf8JsonWriter json, JobStore store, string node, DateTimeOffset now, FeedQuery? query = null)
    {
        json.WriteStartObject();
        json.WriteString("node", node);
        json.WriteString("generated_at", now);
        store.Read(jobs =>
        {
            var ledger = store.Ledger;
            var durable = ledger?.DurableRevision ?? 0;
            // Each record as of its last durable revision (TrackedJob.Published).
            var records = jobs.Values.Where(j => j.End is null)
                .Concat(ledger?.Ended ?? jobs.Values.Where(j => j.End is not null).ToList())
                .Select(j => j.Published).OfType<TrackedJob>();
            var cursor = durable;
            if (query is { } feed)
            {
                var changed = records.Where(j => j.Revision > feed.Since && j.Revision <= durable).OrderBy(j => j.Revision).ToList();
                var more = changed.Count > feed.Limit;
                if (more)
                {
                    changed.RemoveRange(feed.Limit, changed.Count - feed.Limit);
                    cursor = changed[^1].Revision;
                }

                records = changed;
                if (feed.Reset)
                {
                    json.WriteBoolean("reset", true);
                }

                json.WriteBoolean("truncated", ledger is not null && feed.Since < ledger.PrunedThrough);
                json.WriteBoolean("more", more);
                if (!feed.Reset && (store.Acknowledged is not { } acknowledged || acknowledged < feed.Since))
                {
                    store.Acknowledged = feed.Since;
                }
            }
            else
            {
                records = records.OrderBy(j => j.End is null ? 0 : 1).ThenBy(j => j.Start).ToList();
            }

            if (ledger is not null)
            {
                json.WriteString("cursor", ledger.Cursor(cursor));
            }

            json.WritePropertyName("jobs");
            json.WriteStartArray();
            foreach (var job in records)
            {
                WriteJob(json, job);
            }

            json.WriteEndArray();
            return 0;
        });
        json.WriteEndObject();
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    private static void WriteJob(Utf8JsonWriter json, TrackedJob job)
    {
        var i = job.Identity;
        json.WriteStartObject();
        json.WriteString("job_id", i.JobId);
        json.WriteNumber("revision", job.Revision);
        json.WriteString("scheduler", i.Scheduler);
        json.WriteString("state", job.End is null ? "running" : "ended");
        Optional(json, "user", i.User);
        Optional(json, "uid", i.Uid);
        Optional(json, "account", i.Account);
        Optional(json, "partition", i.Partition);
        Optional(json, "array_job_id", i.ArrayJobId);
        Optional(json, "array_task_id", i.ArrayTaskId);
        Optional(json, "sluid", i.Sluid);
        Optional(json, "namespace", i.Namespace);
        Optional(json, "pod", i.Pod);
        if (i.Containers.Count > 0)
        {
            json.WritePropertyName("containers");
            json.WriteStartArray();
            foreach (var container in i.Containers)
            {
                json.WriteStringValue(container);
            }

            json.WriteEndArray();
        }

        json.WriteString("start", job.Start);
        json.WriteString("start_source", Source(job.StartSource));
        if (job.End is { } end)
        {
            json.WriteString("end", end);
            json.WriteString("end_source", Source(job.EndSource));
        }
        else
        {
            json.WriteNull("end");
            json.WriteNull("end_source");
        }

        json.WriteNumber("unobserved_seconds", job.UnobservedSeconds);

        Number(json, "cpu_seconds", job.CpuSeconds);
        Number(json, "memory_bytes", job.MemoryBytes);
        Number(json, "memory_peak_bytes", job.MemoryPeakBytes);
        Number(json, "cpus_allocated", job.CpusAllocated);
        Number(json, "memory_limit_bytes", job.MemoryLimitBytes);
        Number(json, "cpu_energy_joules", job.CpuEnergyJoules);
        json.WritePropertyName("gpus");
        json.WriteStartArray();
        foreach (var gpu in job.Gpus.Values.OrderBy(g => g.Index))
        {
            json.WriteStartObject();
            json.WriteNumber("index", gpu.Index);
            json.WriteString("uuid", gpu.Uuid);
            var held = job.HeldGpus.Contains(gpu.Uuid);
            json.WriteBoolean("held", held);
            json.WriteNumber("allocated_seconds", gpu.AllocatedSeconds);
            json.WriteNumber("busy_seconds", gpu.BusySeconds);
            json.WriteNumber("energy_joules", gpu.EnergyJoules);
            json.WriteNumber("tensor_active_seconds", gpu.TensorActiveSeconds);
            json.WriteNumber("sm_active_seconds", gpu.SmActiveSeconds);
            json.WriteNumber("memory_peak_bytes", gpu.MemoryPeakBytes);
            Number(json, "memory_total_bytes", gpu.MemoryTotalBytes);
            Number(json, "utilization_peak", gpu.UtilizationPeak);
            Number(json, "memory_used_bytes", held ? gpu.MemoryUsedBytes : double.NaN);
            json.WriteNumber("xid_errors", gpu.XidErrors);
            if (gpu.LastXid != 0)
            {
                json.WriteNumber("last_xid", gpu.LastXid);
            }
            else
            {
                json.WriteNull("last_xid");
            }

            json.WriteNumber("ecc_errors", gpu.EccErrors);
            json.WriteNumber("unobserved_seconds", gpu.UnobservedSeconds);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static string Source(JobTimeSource source) => source switch
    {
        JobTimeSource.Scheduler => "scheduler",
        JobTimeSource.Checkpoint => "checkpoint",
        _ => "agent",
    };

    private static void Optional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }

    private static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsNaN(value))
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteNumber(name, value);
        }
    }
}

/// <summary>A feed request: records with a revision above <paramref name="Since"/>, at most <paramref name="Limit"/>.</summary>
/// <param name="Reset">The reader's cursor was from another ledger: it gets everything and must replace what it holds.</param>
internal readonly record struct FeedQuery(long Since, bool Reset, int Limit);
