using System.Text.Json;
using Monitor.Contracts;

namespace Monitor.Aggregator.Api;

/// <summary>
/// One job across the cluster (<c>GET /api/v1/jobs/{id}</c>): every node's record of it, and totals over nodes and
/// GPUs. A job runs while any node says it runs, and ends at the last node's end; it is incomplete when a node
/// stopped answering while it ran there (<c>--jobs.incomplete-after</c>). Every lifetime of the id (a requeued
/// job) is listed in <c>node_records</c> with its own start, and the totals add them up.
/// </summary>
internal static class JobReport
{
    /// <summary>Writes the job's document; false (nothing written) when no node has reported it.</summary>
    public static bool Write(Utf8JsonWriter json, string jobId, IReadOnlyList<(string Node, NodeJobRecord Record)> records, DateTimeOffset now)
    {
        if (JobSummary.Of(jobId, records, now) is not { } job)
        {
            return false;
        }

        Write(json, job);
        return true;
    }

    /// <summary>Writes the document of <paramref name="job"/>.</summary>
    public static void Write(Utf8JsonWriter json, JobSummary job)
    {
        json.WriteStartObject();
        json.WriteString("job_id", job.JobId);
        json.WriteString("state", job.State);
        Optional(json, "user", job.User);
        Optional(json, "account", job.Account);
        Optional(json, "partition", job.Partition);
        json.WriteString("start", job.Start);
        if (job.End is { } jobEnd)
        {
            json.WriteString("end", jobEnd);
        }
        else
        {
            json.WriteNull("end");
        }

        json.WriteNumber("nodes", job.Nodes);
        json.WriteNumber("gpus", job.Gpus.Count);
        json.WriteNumber("gpu_allocated_seconds", job.GpuAllocatedSeconds);
        json.WriteNumber("gpu_busy_seconds", job.GpuBusySeconds);
        json.WriteNumber("gpu_energy_joules", job.GpuEnergyJoules);
        json.WriteNumber("gpu_tensor_active_seconds", job.GpuTensorActiveSeconds);
        json.WriteNumber("cpu_seconds", job.CpuSeconds);
        Number(json, "cpus_allocated", job.CpusAllocated);
        Number(json, "cpu_efficiency", job.CpuEfficiency);
        Number(json, "memory_peak_bytes", job.MemoryPeakBytes);
        Number(json, "memory_limit_bytes", job.MemoryLimitBytes);
        Number(json, "cpu_energy_joules", job.CpuEnergyJoules);
        json.WriteNumber("unobserved_seconds", job.UnobservedSeconds);
        json.WriteNumber("runtime_seconds", job.RuntimeSeconds);
        Number(json, "gpu_utilization_peak", job.GpuUtilizationPeak);
        Number(json, "gpu_utilization", job.GpuUtilization);

        json.WriteStartArray("notes");
        foreach (var note in job.Notes)
        {
            json.WriteStartObject();
            json.WriteString("severity", note.Severity);
            json.WriteString("rule", note.Rule);
            json.WriteString("message", note.Message);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("node_records");
        foreach (var (node, record) in job.Records)
        {
            json.WriteStartObject();
            json.WriteString("node", node);
            json.WriteNumber("revision", record.Revision);
            json.WriteString("state", record.State);
            json.WriteString("start", record.Start);
            json.WriteString("start_source", record.StartSource);
            if (record.End is { } end)
            {
                json.WriteString("end", end);
                json.WriteString("end_source", record.EndSource);
            }
            else
            {
                json.WriteNull("end");
            }

            json.WriteNumber("unobserved_seconds", record.UnobservedSeconds);
            Number(json, "cpu_seconds", record.CpuSeconds);
            Number(json, "cpus_allocated", record.CpusAllocated);
            Number(json, "memory_peak_bytes", record.MemoryPeakBytes);
            Number(json, "memory_limit_bytes", record.MemoryLimitBytes);
            Number(json, "cpu_energy_joules", record.CpuEnergyJoules);
            json.WriteStartArray("gpus");
            foreach (var gpu in record.Gpus)
            {
                json.WriteStartObject();
                json.WriteNumber("index", gpu.Index);
                json.WriteString("uuid", gpu.Uuid);
                json.WriteNumber("allocated_seconds", gpu.AllocatedSeconds);
                json.WriteNumber("busy_seconds", gpu.BusySeconds);
                json.WriteNumber("energy_joules", gpu.EnergyJoules);
                json.WriteNumber("tensor_active_seconds", gpu.TensorActiveSeconds);
                json.WriteNumber("sm_active_seconds", gpu.SmActiveSeconds);
                json.WriteNumber("memory_peak_bytes", gpu.MemoryPeakBytes);
                Number(json, "memory_total_bytes", gpu.MemoryTotalBytes);
                Number(json, "utilization_peak", gpu.UtilizationPeak);
                json.WriteNumber("xid_errors", gpu.XidErrors);
                json.WriteNumber("ecc_errors", gpu.EccErrors);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
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
