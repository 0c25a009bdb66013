using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Monitor.Contracts;

namespace Monitor.Testing;

/// <summary>
/// Several agents' jobs feeds (docs/api.md) in one Kestrel server on 127.0.0.1, with a port picked at run time: node
/// <c>n</c>'s records are at <c>/n/api/v1/jobs</c>, so <see cref="Targets"/> can be given to a real aggregator as
/// its <c>--targets</c>. A poll with a cursor older than the node's records (<c>since=0</c>, or a cursor not of this
/// feed) gets all of them in one answer, later polls get none, until <see cref="Update"/> gives the node new records.
/// For tests of what the aggregator does with given figures; the feed's paging and faults are tested with the
/// in-process <c>StandInAgent</c>.
/// </summary>
public sealed class StandInJobsFeed : IAsyncDisposable
{
    private const string Ledger = "5fa1d000000000000000000000000001";

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly WebApplication _app;
    private readonly Dictionary<string, (IReadOnlyList<NodeJobRecord> Records, int Version)> _nodes;
    private readonly Lock _gate = new();
    private int _requests;

    private StandInJobsFeed(WebApplication app, IReadOnlyDictionary<string, IReadOnlyList<NodeJobRecord>> nodes) =>
        (_app, _nodes) = (app, nodes.ToDictionary(n => n.Key, n => (n.Value, 1), StringComparer.Ordinal));

    /// <summary>Nodes whose feed answers 503, as an agent that is down would fail its polls.</summary>
    public ConcurrentSet Failing { get; } = new();

    /// <summary>Gives <paramref name="node"/> new records (with higher revisions): its next poll gets them.</summary>
    public void Update(string node, IReadOnlyList<NodeJobRecord> records)
    {
        lock (_gate)
        {
            _nodes[node] = (records, _nodes.TryGetValue(node, out var known) ? known.Version + 1 : 1);
        }
    }

    /// <summary>One URL per node, e.g. <c>http://127.0.0.1:41234/gpu17</c>.</summary>
    public IReadOnlyList<string> Targets { get; private set; } = [];

    /// <summary>Feed requests answered so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Starts the feeds of <paramref name="nodes"/> (node name to its records).</summary>
    public static async Task<StandInJobsFeed> StartAsync(IReadOnlyDictionary<string, IReadOnlyList<NodeJobRecord>> nodes)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var feed = new StandInJobsFeed(app, nodes);
        app.Run(feed.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetService(typeof(IServer)) is IServer server ? server.Features.Get<IServerAddressesFeature>()!.Addresses.First() : throw new InvalidOperationException("no server");
        feed.Targets = [.. nodes.Keys.Select(node => $"{address}/{Uri.EscapeDataString(node)}")];
        return feed;
    }

    /// <summary>
    /// The feed answer of <paramref name="node"/> for <paramref name="records"/> (all of them, one page). The records
    /// are serialized by their property names in snake case, which are the feed's field names (the reader ignores the
    /// one extra, <c>ended</c>).
    /// </summary>
    public static byte[] Page(string node, IReadOnlyList<NodeJobRecord> records, string cursor = Ledger + "-1") =>
        JsonSerializer.SerializeToUtf8Bytes(new FeedPage(node, DateTimeOffset.UnixEpoch, Truncated: false, More: false, cursor, records), Json);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var path = context.Request.Path.Value ?? string.Empty;
        const string suffix = "/api/v1/jobs";
        var node = path.EndsWith(suffix, StringComparison.Ordinal) ? Uri.UnescapeDataString(path[1..^suffix.Length]) : null;
        (IReadOnlyList<NodeJobRecord> Records, int Version) current;
        if (node is not null && Failing.Contains(node))
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        lock (_gate)
        {
            if (node is null || !_nodes.TryGetValue(node, out current))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
        }

        var cursor = $"{Ledger}-{current.Version}";
        var fresh = context.Request.Query["since"].FirstOrDefault() != cursor;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(Page(node, fresh ? current.Records : [], cursor));
    }

    /// <summary>A set safe to change while the server reads it.</summary>
    public sealed class ConcurrentSet
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _items = new(StringComparer.Ordinal);

        public void Add(string item) => _items[item] = true;

        public void Remove(string item) => _items.TryRemove(item, out _);

        public bool Contains(string item) => _items.ContainsKey(item);
    }

    /// <summary>An answer of the feed, as docs/api.md names its fields.</summary>
    private sealed record FeedPage(string Node, DateTimeOffset GeneratedAt, bool Truncated, bool More, string Cursor, IReadOnlyList<NodeJobRecord> Jobs);
}
