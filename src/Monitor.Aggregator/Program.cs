using System.CommandLine;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Monitor.Aggregator;
using Monitor.Aggregator.Api;
using Monitor.Aggregator.Collection;
using Monitor.Aggregator.Storage;
using Prometheus;

// monitor-aggregator: polls every agent's jobs feed into one store and serves the cluster's jobs (docs/aggregator.md).
var listen = new Option<string>("--web.listen-address") { Description = "Address to listen on: [host]:port.", DefaultValueFactory = _ => ":9430" };
var storage = new Option<string>("--storage.path") { Description = "The SQLite file of the store (created with its directory).", DefaultValueFactory = _ => "/var/lib/monitor-aggregator/aggregator.db" };
var cluster = new Option<string>("--cluster") { Description = "The cluster's name, stored with every record.", DefaultValueFactory = _ => "default" };
var targets = new Option<string[]>("--targets") { Description = "Agents to poll (host:port or URL); repeat or separate with commas.", AllowMultipleArgumentsPerToken = true };
var targetFiles = new Option<string[]>("--targets.file") { Description = "Prometheus file_sd JSON files listing agents; read again when they change. Repeatable." };
var interval = new Option<string>("--poll.interval") { Description = "How often every target is polled.", DefaultValueFactory = _ => "30s" };
var timeout = new Option<string>("--poll.timeout") { Description = "How long one target's poll may take.", DefaultValueFactory = _ => "10s" };
var concurrency = new Option<int>("--poll.concurrency") { Description = "Targets polled at once.", DefaultValueFactory = _ => 64 };
foreach (var duration in new[] { interval, timeout })
{
    duration.Validators.Add(result =>
    {
        var text = result.GetValueOrDefault<string>();
        if (AggregatorOptions.ParseDuration(text) is null)
        {
            result.AddError($"invalid value '{text}' for {result.Option.Name}: a positive duration such as 500ms, 30s or 5m");
        }
    });
}

concurrency.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() is < 1 or > 10_000)
    {
        result.AddError($"invalid value for --poll.concurrency: a whole number from 1 to 10000");
    }
});

var root = new RootCommand("monitor-aggregator: collects per-job usage from every monitor-agent's jobs feed into one store and serves it.")
{
    listen, storage, cluster, targets, targetFiles, interval, timeout, concurrency,
};
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors)
    {
        await Console.Error.WriteLineAsync($"monitor-aggregator: error: {error.Message}");
    }

    return 2;
}

if (parse.Action is not null && parse.CommandResult.Command == root && args.Any(a => a is "-h" or "--help" or "-?" or "--version"))
{
    return await parse.InvokeAsync();
}

var options = new AggregatorOptions
{
    ListenAddress = parse.GetValue(listen)!,
    StoragePath = parse.GetValue(storage)!,
    Cluster = parse.GetValue(cluster)!,
    Targets = [.. (parse.GetValue(targets) ?? []).SelectMany(t => t.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))],
    TargetFiles = parse.GetValue(targetFiles) ?? [],
    PollInterval = AggregatorOptions.ParseDuration(parse.GetValue(interval)!)!.Value,
    PollTimeout = AggregatorOptions.ParseDuration(parse.GetValue(timeout)!)!.Value,
    PollConcurrency = parse.GetValue(concurrency),
};
if (!TryListenEndpoint(options.ListenAddress, out var endpoint))
{
    await Console.Error.WriteLineAsync($"monitor-aggregator: error: invalid value '{options.ListenAddress}' for --web.listen-address: [host]:port");
    return 2;
}

SqliteJobStore store;
try
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.StoragePath))!);
    store = new SqliteJobStore(options.StoragePath, options.Cluster);
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException)
{
    await Console.Error.WriteLineAsync($"monitor-aggregator: error: cannot open --storage.path '{options.StoragePath}': {e.Message}");
    return 2;
}

using (store)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(endpoint));
    builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
    builder.Services.AddSingleton(options);
    builder.Services.AddSingleton(store);
    builder.Services.AddSingleton(TimeProvider.System);
    builder.Services.AddSingleton(new TargetList(options.Targets, options.TargetFiles));
    builder.Services.AddSingleton(sp => new TargetPoller(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, store, TimeProvider.System));
    builder.Services.AddSingleton<PollCycle>();
    builder.Services.AddHostedService<PollService>();
    var app = builder.Build();

    app.MapGet("/api/v1/jobs/{id}", (string id, HttpContext context) =>
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            if (!JobReport.Write(json, id, store.Job(id), TimeProvider.System.GetUtcNow()))
            {
                return Results.NotFound($"no node has reported job {id}");
            }
        }

        return Results.Bytes(buffer.ToArray(), "application/json; charset=utf-8");
    });
    app.MapGet("/api/v1/usage", (HttpContext context) =>
    {
        var q = context.Request.Query;
        if (UsageReport.Parse(q["by"].FirstOrDefault(), q["from"].FirstOrDefault(), q["to"].FirstOrDefault(), out var query) is { } problem)
        {
            return Results.BadRequest(problem);
        }

        var rows = store.Usage(query.By, query.From, query.To);
        if (q["format"].FirstOrDefault() == "csv")
        {
            return Results.Text(UsageReport.Csv(query, rows), "text/csv; charset=utf-8");
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            UsageReport.WriteJson(json, query, rows);
        }

        return Results.Bytes(buffer.ToArray(), "application/json; charset=utf-8");
    });
    app.MapGet("/healthz", () => "ok\n");
    Monitor.Aggregator.Web.WebPages.Map(app, store.Job, store.Usage, TimeProvider.System);
    _ = new Monitor.Aggregator.Usage.UsageMetrics(store, Metrics.DefaultRegistry);
    app.MapMetrics();
    await app.StartAsync();
    var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Monitor.Aggregator");
    foreach (var address in app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
    {
        AggregatorLog.Listening(logger, address, options.Targets.Count, options.TargetFiles.Count, options.StoragePath);
    }

    await app.WaitForShutdownAsync();
    return 0;
}

static bool TryListenEndpoint(string address, out IPEndPoint endpoint)
{
    endpoint = new IPEndPoint(IPAddress.Any, 0);
    var colon = address.LastIndexOf(':');
    if (colon < 0 || !int.TryParse(address.AsSpan(colon + 1), out var port) || port is < 0 or > 65535)
    {
        return false;
    }

    var host = address[..colon].Trim('[', ']');
    if (host.Length == 0)
    {
        endpoint = new IPEndPoint(IPAddress.Any, port);
        return true;
    }

    if (!IPAddress.TryParse(host, out var ip))
    {
        return false;
    }

    endpoint = new IPEndPoint(ip, port);
    return true;
}
