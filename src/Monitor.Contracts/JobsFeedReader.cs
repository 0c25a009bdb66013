using System.Globalization;
using System.Text.Json;

namespace Monitor.Contracts;

/// <summary>The agent's feed answer is not what docs/api.md describes: what is wrong, and where.</summary>
public sealed class FeedFormatException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads one answer of the agent's jobs feed (docs/api.md) into a <see cref="JobsFeedPage"/>. Unknown fields are
/// ignored (a newer agent may add some); a missing required field, a wrong type, a non-finite or negative counter, or
/// JSON that does not parse is a <see cref="FeedFormatException"/> naming the field, so one bad agent costs only its
/// own poll. No reflection: it survives trimming.
/// </summary>
public static class JobsFeedReader
{
    /// <summary>The largest answer read (a feed page holds at most 10,000 records of about 1 KB).</summary>
    public const int MaxBytes = 64 << 20;

    /// <summary>Parses <paramref name="json"/>; throws <see cref="FeedFormatException"/>.</summary>
    public static JobsFeedPage Parse(ReadOnlySpan<byte> json)
    {
        if (json.Length > MaxBytes)
        {
            throw new FeedFormatException($"the answer is {json.Length} bytes, more than {MaxBytes}");
        }

        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new FeedFormatException($"not JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FeedFormatException($"the answer is a JSON {root.ValueKind}, not an object");
            }

            var jobs = new List<NodeJobRecord>();
            var array = Required(root, "jobs", JsonValueKind.Array, "");
            var i = 0;
            foreach (var job in array.EnumerateArray())
            {
                jobs.Add(Job(job, $"jobs[{i++}]"));
            }

            return new JobsFeedPage(
                String(root, "node", "") ?? throw Missing("node", ""),
                String(root, "cursor", ""),
                Bool(root, "more"),
                Bool(root, "truncated"),
                Bool(root, "reset"),
                jobs);
        }
    }

    private static NodeJobRecord Job(JsonElement job, string at)
    {
        if (job.ValueKind != JsonValueKind.Object)
        {
            throw new FeedFormatException($"{at} is a JSON {job.ValueKind}, not an object");
        }

        var gpus = new List<NodeJobGpu>();
        if (job.TryGetProperty("gpus", out var array) && array.ValueKind == JsonValueKind.Array)
        {
            var g = 0;
            foreach (var gpu in array.EnumerateArray())
            {
                gpus.Add(Gpu(gpu, $"{at}.gpus[{g++}]"));
            }
        }

        var state = String(job, "state", at) ?? throw Missing("state", at);
        if (state is not ("running" or "ended"))
        {
            throw new FeedFormatException($"{at}.state is '{state}', not running or ended");
        }

        return new NodeJobRecord
        {
            JobId = String(job, "job_id", at) is { Length: > 0 and <= 256 } id ? id : throw Missing("job_id", at),
            Revision = Required(job, "revision", JsonValueKind.Number, at).TryGetInt64(out var revision) && revision > 0 ? revision : throw Bad("revision", at, "a positive whole number"),
            Scheduler = String(job, "scheduler", at) ?? throw Missing("scheduler", at),
            State = state,
            User = String(job, "user", at),
            Uid = String(job, "uid", at),
            Account = String(job, "account", at),
            Partition = String(job, "partition", at),
            Namespace = String(job, "namespace", at),
            Pod = String(job, "pod", at),
            Start = Time(job, "start", at) ?? throw Missing("start", at),
            StartSource = String(job, "start_source", at) ?? "agent",
            End = Time(job, "end", at),
            EndSource = String(job, "end_source", at),
            UnobservedSeconds = Counter(job, "unobserved_seconds", at),
            CpuSeconds = Optional(job, "cpu_seconds", at),
            MemoryBytes = Optional(job, "memory_bytes", at),
            MemoryPeakBytes = Optional(job, "memory_peak_bytes", at),
            CpusAllocated = OptionalAmount(job, "cpus_allocated", at),
            MemoryLimitBytes = OptionalAmount(job, "memory_limit_bytes", at),
            CpuEnergyJoules = OptionalAmount(job, "cpu_energy_joules", at),
            Gpus = gpus,
        };
    }

    private static NodeJobGpu Gpu(JsonElement gpu, string at)
    {
        if (gpu.ValueKind != JsonValueKind.Object)
        {
            throw new FeedFormatException($"{at} is a JSON {gpu.ValueKind}, not an object");
        }

        return new NodeJobGpu
        {
            Index = Required(gpu, "index", JsonValueKind.Number, at).TryGetInt32(out var index) && index >= 0 ? index : throw Bad("index", at, "a whole number from 0"),
            Uuid = String(gpu, "uuid", at) is { Length: > 0 and <= 128 } uuid ? uuid : throw Missing("uuid", at),
            Held = Bool(gpu, "held"),
            AllocatedSeconds = Counter(gpu, "allocated_seconds", at),
            BusySeconds = Counter(gpu, "busy_seconds", at),
            EnergyJoules = Counter(gpu, "energy_joules", at),
            TensorActiveSeconds = Counter(gpu, "tensor_active_seconds", at),
            SmActiveSeconds = Counter(gpu, "sm_active_seconds", at),
            MemoryPeakBytes = Counter(gpu, "memory_peak_bytes", at),
            MemoryTotalBytes = OptionalAmount(gpu, "memory_total_bytes", at),
            UtilizationPeak = OptionalAmount(gpu, "utilization_peak", at),
            MemoryUsedBytes = OptionalAmount(gpu, "memory_used_bytes", at),
            XidErrors = (long)Counter(gpu, "xid_errors", at),
            LastXid = OptionalAmount(gpu, "last_xid", at) is { } lastXid
                ? (lastXid == Math.Floor(lastXid) && lastXid <= uint.MaxValue ? (long)lastXid : throw Bad("last_xid", at, "an XID code (a whole number)"))
                : null,
            EccErrors = (long)Counter(gpu, "ecc_errors", at),
            UnobservedSeconds = Counter(gpu, "unobserved_seconds", at),
        };
    }

    private static JsonElement Required(JsonElement parent, string name, JsonValueKind kind, string at) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == kind ? value
            : value.ValueKind == JsonValueKind.Undefined ? throw Missing(name, at)
            : throw Bad(name, at, $"a JSON {kind}");

    private static string? String(JsonElement parent, string name, string at) =>
        !parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
            : value.ValueKind == JsonValueKind.String ? value.GetString()
            : throw Bad(name, at, "a string");

    private static bool Bool(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static DateTimeOffset? Time(JsonElement parent, string name, string at) =>
        String(parent, name, at) is not { } text ? null
            : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time
            : throw Bad(name, at, "an RFC 3339 time");

    /// <summary>A counter: absent is 0; present, it must be a finite number from 0.</summary>
    private static double Counter(JsonElement parent, string name, string at) =>
        Optional(parent, name, at) is { } value ? (value >= 0 ? value : throw Bad(name, at, "a number from 0")) : 0;

    /// <summary>An optional amount: absent or null is unknown; present, it must be a finite number from 0.</summary>
    private static double? OptionalAmount(JsonElement parent, string name, string at) =>
        Optional(parent, name, at) is { } value ? (value >= 0 ? value : throw Bad(name, at, "a number from 0")) : null;

    private static double? Optional(JsonElement parent, string name, string at) =>
        !parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
            : value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number) ? number
            : throw Bad(name, at, "a finite number");

    private static FeedFormatException Missing(string name, string at) => new($"{Where(name, at)} is missing");

    private static FeedFormatException Bad(string name, string at, string expected) => new($"{Where(name, at)} is not {expected}");

    private static string Where(string name, string at) => at.Length == 0 ? name : $"{at}.{name}";
}
