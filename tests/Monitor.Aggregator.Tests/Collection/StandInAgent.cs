using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Monitor.Aggregator.Tests.Collection;

/// <summary>
/// An agent's jobs feed served in-process from a generated ledger, with the feed's real semantics (docs/api.md):
/// records by revision above the cursor, <c>limit</c>, <c>more</c>, the ledger's identity in the cursor and
/// <c>reset</c> for another ledger's cursor. Faults can be injected per request.
/// </summary>
internal sealed class StandInAgent : HttpMessageHandler
{
    private readonly Dictionary<(string Job, long Start), Record> _records = [];
    private long _revision;

    /// <summary>The ledger's identity; a new one models a wiped ledger.</summary>
    public Guid Ledger { get; set; } = Guid.NewGuid();

    /// <summary>The node name it reports.</summary>
    public string Node { get; init; } = "node1";

    /// <summary>Called before each request; return a response to send instead (a fault), or null.</summary>
    public Func<int, HttpResponseMessage?>? Fault { get; set; }

    /// <summary>Requests served so far.</summary>
    public int Requests { get; private set; }

    /// <summary>Starts or updates a job's record (a new revision).</summary>
    public void Set(string job, long start, double allocatedSeconds, bool ended = false) =>
        _records[(job, start)] = new Record(job, start, ++_revision, allocatedSeconds, ended);

    /// <summary>The ledger starts over (a wiped state directory): revisions restart from 0 under a new identity.</summary>
    public void Wipe()
    {
        Ledger = Guid.NewGuid();
        _revision = 0;
        foreach (var key in _records.Keys.ToList())
        {
            var record = _records[key];
            _records[key] = record with { Revision = ++_revision };
        }
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Requests++;
        if (Fault?.Invoke(Requests) is { } fault)
        {
            return Task.FromResult(fault);
        }

        var query = System.Web.HttpUtility.ParseQueryString(request.RequestUri!.Query);
        var since = query["since"] ?? "0";
        var limit = int.Parse(query["limit"] ?? "1000", CultureInfo.InvariantCulture);
        var reset = false;
        long from = 0;
        if (since != "0")
        {
            var dash = since.IndexOf('-', StringComparison.Ordinal);
            if (Guid.ParseExact(since[..dash], "N") == Ledger)
            {
                from = long.Parse(since[(dash + 1)..], CultureInfo.InvariantCulture);
            }
            else
            {
                reset = true;
            }
        }

        var changed = _records.Values.Where(r => r.Revision > from).OrderBy(r => r.Revision).ToList();
        var more = changed.Count > limit;
        if (more)
        {
            changed = changed[..limit];
        }

        var cursor = more ? changed[^1].Revision : _revision;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("node", Node);
            json.WriteString("generated_at", DateTimeOffset.UnixEpoch);
            if (reset)
            {
                json.WriteBoolean("reset", true);
            }

            json.WriteBoolean("truncated", false);
            json.WriteBoolean("more", more);
            json.WriteString("cursor", $"{Ledger:N}-{cursor.ToString(CultureInfo.InvariantCulture)}");
            json.WriteStartArray("jobs");
            foreach (var record in changed)
            {
                json.WriteStartObject();
                json.WriteString("job_id", record.Job);
                json.WriteNumber("revision", record.Revision);
                json.WriteString("scheduler", "slurm");
                json.WriteString("state", record.Ended ? "ended" : "running");
                json.WriteString("user", "alice");
                json.WriteString("start", DateTimeOffset.FromUnixTimeSeconds(record.Start));
                json.WriteString("start_source", "scheduler");
                if (record.Ended)
                {
                    json.WriteString("end", DateTimeOffset.FromUnixTimeSeconds(record.Start + (long)record.Allocated));
                    json.WriteString("end_source", "scheduler");
                }
                else
                {
                    json.WriteNull("end");
                }

                json.WriteNumber("unobserved_seconds", 0);
                json.WriteStartArray("gpus");
                json.WriteStartObject();
                json.WriteNumber("index", 0);
                json.WriteString("uuid", "GPU-5131d000-0000-4000-8000-000000000000");
                json.WriteBoolean("held", !record.Ended);
                json.WriteNumber("allocated_seconds", record.Allocated);
                json.WriteNumber("energy_joules", record.Allocated * 300);
                json.WriteEndObject();
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(buffer.ToArray()) });
    }

    private sealed record Record(string Job, long Start, long Revision, double Allocated, bool Ended);
}

/// <summary>Canned faults.</summary>
internal static class Faults
{
    public static HttpResponseMessage Status(HttpStatusCode code) => new(code) { Content = new StringContent("boom") };

    public static HttpResponseMessage Garbage() => new(HttpStatusCode.OK) { Content = new StringContent("{\"node\": \"n\", \"jobs\": [ {\"job_id\": 5", Encoding.UTF8) };
}
