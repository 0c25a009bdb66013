using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Monitor.Testing;

/// <summary>
/// A stand-in Elasticsearch that implements <c>POST /_bulk</c> faithfully enough to test a shipper against: it checks
/// the content type, the trailing newline (400 without it), action/source pairing, <c>create</c> only, <c>_index</c>
/// and <c>@timestamp</c>; stores documents by <c>_id</c> (409 on a duplicate); enforces a typed mapping where the first
/// type seen for a field wins (400 <c>mapper_parsing_exception</c> on a conflict); and injects scripted faults.
/// Kestrel on 127.0.0.1 with a port picked at run time.
/// </summary>
public sealed class FakeElasticsearch : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Fault> _faults = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, string> _documents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _mapping = new(StringComparer.Ordinal);
    private readonly List<IReadOnlyList<string>> _requests = [];
    private int _requestCount;
    private int _refusedRequests;

    private FakeElasticsearch(WebApplication app) => _app = app;

    /// <summary>Base URL, ending in <c>/</c>.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>When false, every connection is dropped without an answer (an outage).</summary>
    public bool Available { get; set; } = true;

    /// <summary>Requests with a larger body get 413.</summary>
    public long MaxBodyBytes { get; set; } = 100L << 20;

    /// <summary>The <c>Authorization</c> header every request must carry (else 401), or null.</summary>
    public string? RequiredAuthorization { get; set; }

    /// <summary>When true, every document is answered 400 <c>mapper_parsing_exception</c> inside a 200 (a template or mapping mistake).</summary>
    public bool RejectEveryDocument { get; set; }

    /// <summary>
    /// A request holding a source line this matches is refused as a whole with 400, as a proxy that filters bodies
    /// would; null for none.
    /// </summary>
    public Func<string, bool>? Poison { get; set; }

    /// <summary>Every HTTP request received, answered or not (outages and scripted faults included).</summary>
    public int RequestCount => Volatile.Read(ref _requestCount);

    /// <summary>Requests refused as a whole because of <see cref="Poison"/>.</summary>
    public int RefusedRequests => Volatile.Read(ref _refusedRequests);

    /// <summary>Number of duplicate creates answered with 409.</summary>
    public int Conflicts { get; private set; }

    /// <summary>Stored documents by <c>_id</c> (the source line).</summary>
    public IReadOnlyDictionary<string, string> Documents
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, string>(_documents, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>The <c>_id</c>s of every <c>_bulk</c> request that reached validation, in order.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Starts the server.</summary>
    public static async Task<FakeElasticsearch> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var fake = new FakeElasticsearch(app);
        app.Run(fake.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetService(typeof(IServer)) is IServer server ? server.Features.Get<IServerAddressesFeature>()!.Addresses.First() : throw new InvalidOperationException("no server");
        fake.Url = new Uri(address + "/");
        return fake;
    }

    /// <summary>Queues a fault for the next request(s), in order.</summary>
    public void Script(params Fault[] faults)
    {
        foreach (var fault in faults)
        {
            _faults.Enqueue(fault);
        }
    }

    /// <summary>Waits until <paramref name="count"/> documents are stored.</summary>
    public async Task WaitForDocumentsAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Documents.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Documents.Count} of {count} documents arrived within {timeout}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>The stored documents parsed.</summary>
    public IReadOnlyList<JsonElement> ParsedDocuments() => [.. Documents.Values.Select(v => JsonDocument.Parse(v).RootElement.Clone())];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requestCount);
        if (!Available)
        {
            context.Abort();
            return;
        }

        _faults.TryDequeue(out var fault);
        if (fault?.Stall is { } stall)
        {
            await Task.Delay(stall, CancellationToken.None);
        }

        if (fault?.Status is { } status)
        {
            context.Response.StatusCode = status;
            await context.Response.WriteAsync($"{{\"error\":{{\"type\":\"scripted\",\"reason\":\"scripted {status}\"}},\"status\":{status}}}");
            return;
        }

        if (RequiredAuthorization is not null && context.Request.Headers.Authorization != RequiredAuthorization)
        {
            await Error(context, 401, "security_exception", "missing authentication credentials");
            return;
        }

        if (context.Request.Method != "POST" || context.Request.Path != "/_bulk")
        {
            await Error(context, 404, "not_found", "only POST /_bulk is implemented");
            return;
        }

        if (context.Request.ContentType is not ("application/x-ndjson" or "application/json"))
        {
            await Error(context, 406, "content_type", $"Content-Type header [{context.Request.ContentType}] is not supported");
            return;
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        if (buffer.Length > MaxBodyBytes)
        {
            context.Response.StatusCode = 413;
            return;
        }

        var body = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        if (!body.EndsWith('\n'))
        {
            await Error(context, 400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]");
            return;
        }

        var lines = body[..^1].Split('\n');
        if (lines.Length % 2 != 0)
        {
            await Error(context, 400, "illegal_argument_exception", "Malformed action/metadata line: action and source must alternate");
            return;
        }

        if (Poison is { } poison)
        {
            for (var i = 1; i < lines.Length; i += 2)
            {
                if (poison(lines[i]))
                {
                    Interlocked.Increment(ref _refusedRequests);
                    await Error(context, 400, "illegal_argument_exception", "request body refused by the filtering proxy");
                    return;
                }
            }
        }

        var items = new List<(string Id, string Index, int Status, string? Type, string? Reason)>();
        var ids = new List<string>();
        for (var i = 0; i < lines.Length; i += 2)
        {
            string id, index;
            JsonElement source;
            try
            {
                using var action = JsonDocument.Parse(lines[i]);
                if (!action.RootElement.TryGetProperty("create", out var create))
                {
                    await Error(context, 400, "illegal_argument_exception", "only create is allowed on a data stream");
                    return;
                }

                index = create.GetProperty("_index").GetString()!;
                id = create.GetProperty("_id").GetString()!;
                source = JsonDocument.Parse(lines[i + 1]).RootElement.Clone();
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                await Error(context, 400, "x_content_parse_exception", ex.Message);
                return;
            }

            ids.Add(id);
            var scripted = RejectEveryDocument ? 400 : fault?.ItemStatus?.Invoke(i / 2);
            if (scripted is { } itemStatus)
            {
                items.Add((id, index, itemStatus, itemStatus == 400 ? "mapper_parsing_exception" : "es_rejected_execution_exception", $"scripted {itemStatus}"));
                continue;
            }

            if (!index.StartsWith("logs-", StringComparison.Ordinal) || !string.Equals(index, index.ToLowerInvariant(), StringComparison.Ordinal))
            {
                items.Add((id, index, 400, "invalid_index_name_exception", $"Invalid index name [{index}]"));
                continue;
            }

            if (!source.TryGetProperty("@timestamp", out _))
            {
                items.Add((id, index, 400, "illegal_argument_exception", "data stream timestamp field [@timestamp] is missing"));
                continue;
            }

            lock (_gate)
            {
                if (_documents.ContainsKey(id))
                {
                    Conflicts++;
                    items.Add((id, index, 409, "version_conflict_engine_exception", $"[{id}]: version conflict, document already exists"));
                    continue;
                }

                var conflict = CheckMapping(source, prefix: string.Empty);
                if (conflict is not null)
                {
                    items.Add((id, index, 400, "document_parsing_exception", conflict));
                    continue;
                }

                _documents[id] = lines[i + 1];
            }

            items.Add((id, index, 201, null, null));
        }

        lock (_gate)
        {
            _requests.Add(ids);
        }

        if (fault?.AbortAfterStore == true)
        {
            // Stored, but the client never hears it: the "killed between send and acknowledgement" case.
            Available = false;
            context.Abort();
            return;
        }

        context.Response.ContentType = "application/json";
        using var output = new MemoryStream();
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            json.WriteNumber("took", 1);
            json.WriteBoolean("errors", items.Any(i => i.Status >= 300));
            json.WriteStartArray("items");
            foreach (var item in items)
            {
                json.WriteStartObject();
                json.WriteStartObject("create");
                json.WriteString("_index", item.Index);
                json.WriteString("_id", item.Id);
                json.WriteNumber("status", item.Status);
                if (item.Type is null)
                {
                    json.WriteString("result", "created");
                }
                else
                {
                    json.WriteStartObject("error");
                    json.WriteString("type", item.Type);
                    json.WriteString("reason", item.Reason);
                    json.WriteEndObject();
                }

                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        await context.Response.Body.WriteAsync(output.ToArray());
    }

    /// <summary>The first type seen for a field path wins; a later document with another type is rejected.</summary>
    private string? CheckMapping(JsonElement element, string prefix)
    {
        foreach (var property in element.EnumerateObject())
        {
            var path = prefix + property.Name;
            var type = property.Value.ValueKind switch
            {
                JsonValueKind.Object => "object",
                JsonValueKind.Number => "number",
                JsonValueKind.True or JsonValueKind.False => "boolean",
                JsonValueKind.Array => "array",
                _ => "keyword",
            };
            // As Elasticsearch: an object and a scalar never mix; a number field rejects text that is not a number;
            // a keyword field takes any scalar.
            if (_mapping.TryGetValue(path, out var mapped) && mapped != type && mapped != "array" && type != "array"
                && (mapped == "object" || type == "object" || (mapped == "number" && (type != "keyword" || !double.TryParse(property.Value.GetString(), System.Globalization.CultureInfo.InvariantCulture, out _))) || mapped == "boolean"))
            {
                return $"[{path}] failed to parse field of type [{mapped}]: tried to parse a {type}";
            }

            _mapping.TryAdd(path, type);
            if (property.Value.ValueKind == JsonValueKind.Object)
            {
                var inner = CheckMapping(property.Value, path + ".");
                if (inner is not null)
                {
                    return inner;
                }
            }
        }

        return null;
    }

    private static async Task Error(HttpContext context, int status, string type, string reason)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializerlessError(type, reason, status));
    }

    private static string JsonSerializerlessError(string type, string reason, int status)
    {
        using var output = new MemoryStream();
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            json.WriteStartObject("error");
            json.WriteString("type", type);
            json.WriteString("reason", reason);
            json.WriteEndObject();
            json.WriteNumber("status", status);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(output.ToArray());
    }
}

/// <summary>One scripted fault for the next request: a request-level status, a stall, or per-item statuses inside a 200.</summary>
/// <param name="Status">Answer the whole request with this status.</param>
/// <param name="Stall">Wait this long before answering.</param>
/// <param name="ItemStatus">Per item index: a status to answer for it (429, 503, 400), or null to process it normally.</param>
/// <param name="AbortAfterStore">Store the documents, then drop the connection and become unavailable.</param>
public sealed record Fault(int? Status = null, TimeSpan? Stall = null, Func<int, int?>? ItemStatus = null, bool AbortAfterStore = false);
