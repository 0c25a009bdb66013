using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Monitor.Contracts;

namespace Monitor.Aggregator.Slurm;

/// <summary>
/// A finished job's summary in Princeton jobstats' <c>JS1:</c> format, for Slurm's AdminComment (<c>--slurm.admin-comment</c>):
/// <c>JS1:</c> and the base64 of the gzipped JSON <c>{"gpus", "total_time", "nodes": {host: {"cpus", "total_time",
/// "total_memory", "used_memory", "gpu_total_memory": {index: bytes}, "gpu_used_memory": {index: bytes},
/// "gpu_utilization": {index: percent}}}}</c>, or <c>JS1:None</c> for a job with no data, as jobstats writes them. So
/// sites that read jobstats' comments (its <c>jobstats</c> command, their own scripts) read ours unchanged. Our
/// figures are exact where jobstats' are sampled: GPU utilization is busy over held seconds, to the GPU tick. So
/// there is no <c>JS1:Short</c> (jobstats' word for a job under two of its 30 s samples): a short job has its real
/// summary. A field we do not know (no cgroup limit, say) is left out rather than guessed.
/// </summary>
internal static class JobstatsSummary
{
    /// <summary>The AdminComment for the job made of <paramref name="records"/> (every node's, all ended).</summary>
    public static string Comment(IReadOnlyList<(string Node, NodeJobRecord Record)> records)
    {
        if (records.Count == 0 || records.Any(r => r.Record.End is null))
        {
            return "JS1:None";
        }

        var runtime = (records.Max(r => r.Record.End!.Value) - records.Min(r => r.Record.Start)).TotalSeconds;

        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        using (var json = new Utf8JsonWriter(gzip))
        {
            Write(json, records, runtime);
        }

        return "JS1:" + Convert.ToBase64String(compressed.ToArray());
    }

    private static void Write(Utf8JsonWriter json, IReadOnlyList<(string Node, NodeJobRecord Record)> records, double runtime)
    {
        json.WriteStartObject();
        json.WriteNumber("gpus", records.Sum(r => r.Record.Gpus.Count));
        json.WriteNumber("total_time", Math.Round(runtime));
        json.WriteStartObject("nodes");
        foreach (var node in records.GroupBy(r => r.Node, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            // A requeued job's lifetimes on one node: the last one, as Slurm's own record of the job is.
            var record = node.OrderBy(r => r.Record.Start).Last().Record;
            json.WriteStartObject(node.Key);
            if (record.CpusAllocated is { } cpus)
            {
                json.WriteNumber("cpus", cpus);
            }

            if (record.CpuSeconds is { } cpuSeconds)
            {
                json.WriteNumber("total_time", Math.Round(cpuSeconds, 1));
            }

            if (record.MemoryLimitBytes is { } limit)
            {
                json.WriteNumber("total_memory", limit);
            }

            if (record.MemoryPeakBytes is { } peak)
            {
                json.WriteNumber("used_memory", peak);
            }

            if (record.Gpus.Count > 0)
            {
                PerGpu(json, "gpu_total_memory", record.Gpus.Where(g => g.MemoryTotalBytes is not null), g => g.MemoryTotalBytes!.Value);
                PerGpu(json, "gpu_used_memory", record.Gpus, g => g.MemoryPeakBytes);
                PerGpu(json, "gpu_utilization", record.Gpus, g => g.AllocatedSeconds > 0 ? Math.Round(g.BusySeconds / g.AllocatedSeconds * 100, 1) : 0);
            }

            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void PerGpu(Utf8JsonWriter json, string name, IEnumerable<NodeJobGpu> gpus, Func<NodeJobGpu, double> value)
    {
        json.WriteStartObject(name);
        foreach (var gpu in gpus.OrderBy(g => g.Index))
        {
            json.WriteNumber(gpu.Index.ToString(CultureInfo.InvariantCulture), value(gpu));
        }

        json.WriteEndObject();
    }
}
