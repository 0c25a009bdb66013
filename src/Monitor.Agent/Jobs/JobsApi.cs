using System.Text.Json;

namespace Monitor.Agent.Jobs;

/// <summary>
/// <c>GET /api/v1/jobs</c>: the node, the jobs running now and those that ended in the last hour, each with its
/// identity, start and end, GPUs and cumulative counters (docs/api.md). Written with <see cref="Utf8JsonWriter"/>:
/// no reflection, so it survives trimming.
/// </summary>
internal static class JobsApi
{
    /// <summary>Writes the document for <paramref name="store"/> at <paramref name="now"/>.</summary>
    public static void Write(Utf8JsonWriter json, JobStore store, string node, DateTimeOffset now)
    {
        json.WriteStartObject();
        json.WriteString("node", node);
        json.WriteString("generated_at", now);
        json.WritePropertyName("jobs");
        json.WriteStartArray();
        store.Read(jobs =>
        {
            foreach (var job in jobs.Values.OrderBy(j => j.End is null ? 0 : 1).ThenBy(j => j.Start))
            {
                WriteJob(json, job);
            }

            return 0;
        });
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteJob(Utf8JsonWriter json, TrackedJob job)
    {
        var i = job.Identity;
        json.WriteStartObject();
        json.WriteString("job_id", i.JobId);
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
        if (job.End is { } end)
        {
            json.WriteString("end", end);
        }
        else
        {
            json.WriteNull("end");
        }

        Number(json, "cpu_seconds", job.CpuSeconds);
        Number(json, "memory_bytes", job.MemoryBytes);
        Number(json, "memory_peak_bytes", job.MemoryPeakBytes);
        json.WritePropertyName("gpus");
        json.WriteStartArray();
        foreach (var gpu in job.Gpus.Values.OrderBy(g => g.Index))
        {
            json.WriteStartObject();
            json.WriteNumber("index", gpu.Index);
            json.WriteString("uuid", gpu.Uuid);
            json.WriteBoolean("held", job.HeldGpus.Contains(gpu.Uuid));
            json.WriteNumber("allocated_seconds", gpu.AllocatedSeconds);
            json.WriteNumber("busy_seconds", gpu.BusySeconds);
            json.WriteNumber("energy_joules", gpu.EnergyJoules);
            json.WriteNumber("tensor_active_seconds", gpu.TensorActiveSeconds);
            json.WriteNumber("sm_active_seconds", gpu.SmActiveSeconds);
            json.WriteNumber("memory_peak_bytes", gpu.MemoryPeakBytes);
            json.WriteNumber("xid_errors", gpu.XidErrors);
            json.WriteNumber("ecc_errors", gpu.EccErrors);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

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
