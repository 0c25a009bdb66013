using System.Text.Json;
using Monitor.Aggregator.Usage;
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
        if (records.Count == 0)
        {
            return false;
        }

        json.WriteStartObject();
        json.WriteString("job_id", jobId);
        var running = records.Any(r => !r.Record.Ended);

        // Incomplete: a node stopped answering while the job ran there, so its usage ends at its last answer.
        json.WriteString("state", records.Any(r => r.Record.State == "incomplete") ? "incomplete" : running ? "running" : "ended");
        Optional(json, "user", records.Select(r => r.Record.User).FirstOrDefault(u => u is not null));
        Optional(json, "account", records.Select(r => r.Record.Account).FirstOrDefault(a => a is not null));
        Optional(json, "partition", records.Select(r => r.Record.Partition).FirstOrDefault(p => p is not null));
        json.WriteString("start", records.Min(r => r.Record.Start));
        if (running)
        {
            json.WriteNull("end");
        }
        else
        {
            json.WriteString("end", records.Max(r => r.Record.End!.Value));
        }

        var gpus = records.SelectMany(r => r.Record.Gpus).ToList();
        json.WriteNumber("nodes", records.Select(r => r.Node).Distinct(StringComparer.Ordinal).Count());
        json.WriteNumber("gpus", gpus.Count);
        json.WriteNumber("gpu_allocated_seconds", gpus.Sum(g => g.AllocatedSeconds));
        json.WriteNumber("gpu_busy_seconds", gpus.Sum(g => g.BusySeconds));
        json.WriteNumber("gpu_energy_joules", gpus.Sum(g => g.EnergyJoules));
        json.WriteNumber("gpu_tensor_active_seconds", gpus.Sum(g => g.TensorActiveSeconds));
        json.WriteNumber("cpu_seconds", records.Sum(r => r.Record.CpuSeconds ?? 0));
        json.WriteNumber("unobserved_seconds", records.Max(r => r.Record.UnobservedSeconds));
        var facts = Facts(records, now);
        json.WriteNumber("runtime_seconds", facts.RuntimeSeconds);
        if (EfficiencyRules.Utilization(facts) is { } utilization)
        {
            json.WriteNumber("gpu_utilization", utilization);
        }
        else
        {
            json.WriteNull("gpu_utilization");
        }

        json.WriteStartArray("notes");
        foreach (var note in EfficiencyRules.Evaluate(facts))
        {
            json.WriteStartObject();
            json.WriteString("severity", note.Severity);
            json.WriteString("rule", note.Rule);
            json.WriteString("message", note.Message);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("node_records");
        foreach (var (node, record) in records.OrderBy(r => r.Node, StringComparer.Ordinal).ThenBy(r => r.Record.Start))
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
                json.WriteNumber("xid_errors", gpu.XidErrors);
                json.WriteNumber("ecc_errors", gpu.EccErrors);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        return true;
    }

    /// <summary>The facts the efficiency rules judge: run time from the earliest start to the last end (or now).</summary>
    public static JobFacts Facts(IReadOnlyList<(string Node, NodeJobRecord Record)> records, DateTimeOffset now)
    {
        var start = records.Min(r => r.Record.Start);
        var end = records.Any(r => !r.Record.Ended) ? now : records.Max(r => r.Record.End!.Value);
        return new JobFacts(
            Math.Max(0, (end - start).TotalSeconds),
            [.. records.SelectMany(r => r.Record.Gpus.Select(g => new GpuFacts(r.Node, g.Index, g.AllocatedSeconds, g.BusySeconds, g.TensorActiveSeconds, g.MemoryPeakBytes, g.XidErrors, g.EccErrors)))],
            records.Max(r => r.Record.UnobservedSeconds));
    }

    private static void Optional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }
}
