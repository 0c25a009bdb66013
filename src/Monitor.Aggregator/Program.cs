using System.CommandLine;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Monitor.Agent.Configuration;
using Monitor.Agent.Hosting;
using Monitor.Agent.Logging;
using Monitor.Aggregator;
using Monitor.Aggregator.Access;
using Monitor.Aggregator.Alerting;
using Monitor.Aggregator.Api;
using Monitor.Aggregator.Collection;
using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Usage;
using Prometheus;
using Serilog;
using Serilog.Events;

// monitor-aggregator: polls every agent's jobs feed into one store and serves the cluster's jobs (docs/aggregator.md).
var listen = new Option<string>("--web.listen-address") { Description = "Address to listen on: [host]:port.", DefaultValueFactory = _ => ":9430" };
var storage = new Option<string>("--storage.path") { Description = "The SQLite file of the store (created with its directory).", DefaultValueFactory = _ => "/var/lib/monitor-aggregator/aggregator.db" };
var cluster = new Option<string>("--cluster") { Description = "The cluster's name, stored with every record.", DefaultValueFactory = _ => "default" };
var targets = new Option<string[]>("--targets") { Description = "Agents to poll (host:port or URL); repeat or separate with commas.", AllowMultipleArgumentsPerToken = true };
var targetFiles = new Option<string[]>("--targets.file") { Description = "Prometheus file_sd files (JSON, or YAML when named .yml/.yaml) listing agents; read again when they change. Repeatable." };
var interval = new Option<string>("--poll.interval") { Description = "How often every target is polled.", DefaultValueFactory = _ => "30s" };
var timeout = new Option<string>("--poll.timeout") { Description = "How long one target's poll may take.", DefaultValueFactory = _ => "10s" };
var concurrency = new Option<int>("--poll.concurrency") { Description = "Targets polled at once.", DefaultValueFactory = _ => 64 };
var postgres = new Option<string?>("--storage.postgres") { Description = "Store in PostgreSQL instead of SQLite: an Npgsql connection string (Host=...;Database=...;Username=...). Also read from MONITOR_AGGREGATOR_POSTGRES, which keeps a password out of the process list." };
var retention = new Option<string>("--storage.retention") { Description = "How long ended jobs' records are kept; daily usage rollups are kept for ever.", DefaultValueFactory = _ => "400d" };
var incompleteAfter = new Option<string>("--jobs.incomplete-after") { Description = "A running job whose node has not answered for this long is finalized and marked incomplete.", DefaultValueFactory = _ => "6h" };
var shard = new Option<string>("--shard") { Description = "i/N: poll only the targets whose hash modulo N is i (Prometheus hashmod), so N replicas on one PostgreSQL store split the targets.", DefaultValueFactory = _ => "0/1" };
var standby = new Option<bool>("--ha.standby") { Description = "Poll only while holding a PostgreSQL advisory lock; replicas without it stand by and serve the API." };
var slurmTargets = new Option<bool>("--targets.slurm") { Description = "Also poll every node Slurm knows (scontrol show nodes -o), at its NodeHostName and --targets.slurm-port." };
var slurmPort = new Option<int>("--targets.slurm-port") { Description = "The agents' port on Slurm's nodes.", DefaultValueFactory = _ => 9420 };
var adminComment = new Option<bool>("--slurm.admin-comment") { Description = "Write each finished Slurm job's summary into its AdminComment in Slurm's accounting, in jobstats' JS1: format (sacctmgr; needs slurmdbd and operator rights)." };
var sacctmgr = new Option<string>("--slurm.sacctmgr") { Description = "The sacctmgr program.", DefaultValueFactory = _ => "sacctmgr" };
var sacct = new Option<string>("--slurm.sacct") { Description = "The sacct program (reads AdminComments back to check them).", DefaultValueFactory = _ => "sacct" };
var scontrol = new Option<string>("--slurm.scontrol") { Description = "The scontrol program.", DefaultValueFactory = _ => "scontrol" };
var webConfig = new Option<string?>("--web.config.file") { Description = "Exporter-toolkit web configuration (YAML) for TLS: tls_server_config, as the agent and node_exporter read it." };
var tokensFile = new Option<string?>("--web.tokens-file") { Description = "Bearer tokens that may read the aggregator (YAML: name, sha256, optional accounts). Without it, anyone who can reach the port reads everything." };
var logLevel = new Option<string>("--log.level") { Description = "Only log messages with the given severity or above.", DefaultValueFactory = _ => "info" };
logLevel.AcceptOnlyFromAmong("debug", "info", "warn", "error");
var logFormat = new Option<string>("--log.format") { Description = "Output format of log messages: text for terminals, json for ECS documents.", DefaultValueFactory = _ => "text" };
logFormat.AcceptOnlyFromAmong("text", "json");
var costFile = new Option<string?>("--cost.file") { Description = "YAML rates for chargeback: currency, gpu_hour, kwh, cpu_hour, and per-partition overrides (docs/aggregator.md)." };
var alertmanagerUrls = new Option<string[]>("--alertmanager.url") { Description = "Alertmanager to push job alerts to (API v2), e.g. http://alertmanager:9093; repeat for an HA pair. Without it, the rules are still evaluated (monitor_aggregator_job_alerts) but nothing is sent." };
var alertRules = new Option<string?>("--alerts.rules-file") { Description = "YAML thresholds of the job alert rules (docs/aggregator.md, \"Job alerts\"); without it, the documented defaults." };
var alertResend = new Option<string>("--alerts.resend-interval") { Description = "How often a firing job alert is sent again; it expires in Alertmanager four intervals after the last one.", DefaultValueFactory = _ => "1m" };
var slurmStates = new Option<bool>("--slurm.node-states") { Description = "Read Slurm's node states (scontrol show nodes -o, once a minute) for the JobOnUnavailableNode alert, also without --targets.slurm." };
alertmanagerUrls.Validators.Add(result =>
{
    foreach (var url in result.GetValueOrDefault<string[]>() ?? [])
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            result.AddError($"invalid value '{url}' for --alertmanager.url: an http(s) URL such as http://alertmanager:9093");
        }
    }
});
foreach (var duration in new[] { interval, timeout, retention, incompleteAfter, alertResend })
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

shard.Validators.Add(result =>
{
    if (Shard.Parse(result.GetValueOrDefault<string>()) is null)
    {
        result.AddError($"invalid value '{result.GetValueOrDefault<string>()}' for --shard: i/N with 0 <= i < N <= 1000, such as 0/2");
    }
});

concurrency.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() is < 1 or > 10_000)
    {
        result.AddError($"invalid value for --poll.concurrency: a whole number from 1 to 10000");
    }
});

var root = new RootCommand("monitor-aggregator: collects per-job usage from every monitor-agent's jobs feed into one store and serves it.")
{
    listen, storage, cluster, targets, targetFiles, interval, timeout, concurrency, postgres, retention, incompleteAfter, shard, standby, costFile,
    webConfig, tokensFile, logLevel, logFormat, slurmTargets, slurmPort, scontrol, adminComment, sacctmgr, sacct, alertmanagerUrls, alertRules,
    alertResend, slurmStates,
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
    PostgresConnection = parse.GetValue(postgres) is { Length: > 0 } flag ? flag
        : Environment.GetEnvironmentVariable("MONITOR_AGGREGATOR_POSTGRES") is { Length: > 0 } fromEnvironment ? fromEnvironment : null,
    Retention = AggregatorOptions.ParseDuration(parse.GetValue(retention)!)!.Value,
    IncompleteAfter = AggregatorOptions.ParseDuration(parse.GetValue(incompleteAfter)!)!.Value,
    Shard = Shard.Parse(parse.GetValue(shard)!)!.Value,
    Standby = parse.GetValue(standby),
};
if (options.Standby && options.PostgresConnection is null)
{
    await Console.Error.WriteLineAsync("monitor-aggregator: error: --ha.standby needs --storage.postgres: the leader lock is PostgreSQL's");
    return 2;
}

CostRates? rates = null;
if (parse.GetValue(costFile) is { } ratesPath)
{
    try
    {
        rates = CostRates.Load(ratesPath);
    }
    catch (FormatException e)
    {
        await Console.Error.WriteLineAsync($"monitor-aggregator: error: --cost.file: {e.Message}");
        return 2;
    }
}

var rules = new JobAlertRules();
if (parse.GetValue(alertRules) is { Length: > 0 } rulesPath)
{
    try
    {
        rules = JobAlertRules.Load(rulesPath);
    }
    catch (FormatException e)
    {
        await Console.Error.WriteLineAsync($"monitor-aggregator: error: --alerts.rules-file: {e.Message}");
        return 2;
    }
}

// An Alertmanager under a path prefix (http://host/alertmanager) keeps it: the API path is appended to it.
var alertmanagers = (parse.GetValue(alertmanagerUrls) ?? []).Select(u => new Uri(u.EndsWith('/') ? u : u + "/")).Distinct().ToList();

if (!TryListenEndpoint(options.ListenAddress, out var endpoint))
{
    await Console.Error.WriteLineAsync($"monitor-aggregator: error: invalid value '{options.ListenAddress}' for --web.listen-address: [host]:port");
    return 2;
}

Tls? tls = null;
TokenFile? tokens = null;
try
{
    if (parse.GetValue(webConfig) is { Length: > 0 } webConfigPath)
    {
        var web = WebConfig.Load(webConfigPath);
        if (web.BasicAuthUsers.Count > 0)
        {
            throw new OptionsException($"--web.config.file '{webConfigPath}': basic_auth_users is the agent's; the aggregator takes bearer tokens (--web.tokens-file)");
        }

        tls = Tls.Create(web);
    }

    tokens = parse.GetValue(tokensFile) is { Length: > 0 } tokensPath ? TokenFile.Load(tokensPath) : null;
}
catch (Exception e) when (e is OptionsException or FormatException)
{
    await Console.Error.WriteLineAsync($"monitor-aggregator: error: {e.Message}");
    return 2;
}

JobStore store;
try
{
    if (options.PostgresConnection is { } connection)
    {
        store = JobStore.OpenPostgres(connection, options.Cluster);
    }
    else
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.StoragePath))!);
        store = JobStore.OpenSqlite(options.StoragePath, options.Cluster);
    }
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException or System.Data.Common.DbException or TimeoutException)
{
    // Npgsql's messages name the host and the failure, never the password.
    var what = options.PostgresConnection is null ? $"--storage.path '{options.StoragePath}'" : "--storage.postgres";
    await Console.Error.WriteLineAsync($"monitor-aggregator: error: cannot open {what}: {e.Message}");
    return 2;
}

using (store)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.WebHost.ConfigureKestrel(kestrel =>
    {
        kestrel.AddServerHeader = false;
        kestrel.Listen(endpoint, listen =>
        {
            if (tls is not null)
            {
                listen.UseHttps(new TlsHandshakeCallbackOptions { OnConnection = _ => ValueTask.FromResult(tls.ServerOptions), HandshakeTimeout = TimeSpan.FromSeconds(10) });
            }
        });
    });
    var json = parse.GetValue(logFormat) == "json";
    var level = parse.GetValue(logLevel) switch
    {
        "debug" => LogEventLevel.Debug,
        "warn" => LogEventLevel.Warning,
        "error" => LogEventLevel.Error,
        _ => LogEventLevel.Information,
    };
    var version = typeof(JobStore).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
    builder.Services.AddSerilog(serilog => serilog
        .MinimumLevel.Is(level)
        .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
        .MinimumLevel.Override("System", LogEventLevel.Warning)
        .WriteTo.Console(json ? new EcsJsonFormatter("monitor-aggregator", version, Environment.MachineName) : new TextLogFormatter(), standardErrorFromLevel: LogEventLevel.Verbose));
    builder.Services.AddOpenApi();
    builder.Services.AddHttpContextAccessor();
    builder.Services.AddSingleton(options);
    builder.Services.AddSingleton(store);
    builder.Services.AddSingleton(TimeProvider.System);
    var slurmNodes = parse.GetValue(slurmTargets) || parse.GetValue(slurmStates) ? new SlurmNodes(parse.GetValue(scontrol)!, parse.GetValue(slurmPort), TimeProvider.System) : null;
    builder.Services.AddSingleton(new TargetList(options.Targets, options.TargetFiles, parse.GetValue(slurmTargets) ? slurmNodes : null));
    var running = new RunningJobs(rules.SampleEvery, rules.LongestWindow, rules.MemoryFull.Threshold);
    builder.Services.AddSingleton(running);
    builder.Services.AddSingleton(sp => new TargetPoller(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, store, TimeProvider.System, running));
    builder.Services.AddSingleton(sp => new JobAlerter(
        new JobAlertEvaluator(rules, options.Cluster),
        running,
        store,
        alertmanagers,
        new HttpClient { Timeout = Timeout.InfiniteTimeSpan },
        () =>
        {
            // Without --targets.slurm, the node list is asked for here, for its states (once a minute at most).
            _ = slurmNodes?.Current();
            return slurmNodes?.States ?? new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        },
        AggregatorOptions.ParseDuration(parse.GetValue(alertResend)!)!.Value,
        sp.GetRequiredService<ILogger<JobAlerter>>()));
    if (options.Standby)
    {
        builder.Services.AddSingleton(new LeaderLock(options.PostgresConnection!, options.Cluster));
    }

    if (parse.GetValue(adminComment))
    {
        builder.Services.AddSingleton(sp => new Monitor.Aggregator.Slurm.AdminComments(store, parse.GetValue(sacctmgr)!, parse.GetValue(sacct)!, sp.GetRequiredService<ILogger<Monitor.Aggregator.Slurm.AdminComments>>()));
    }

    builder.Services.AddSingleton<PollCycle>();
    builder.Services.AddHostedService<PollService>();
    if (tokens is not null)
    {
        builder.Services.AddSingleton(tokens);
        builder.Services.AddSingleton<AccessGuard>();
    }

    var app = builder.Build();
    if (tokens is not null)
    {
        var guard = app.Services.GetRequiredService<AccessGuard>();
        app.Use((context, next) => guard.InvokeAsync(context, next));
    }

    ApiEndpoints.Map(app, store, rates, TimeProvider.System);
    app.MapOpenApi();

    // The pages read through the request's token, as the API does.
    var requests = app.Services.GetRequiredService<IHttpContextAccessor>();
    Monitor.Aggregator.Web.WebPages.Map(
        app,
        id => ApiEndpoints.VisibleJob(store, id, requests.HttpContext!),
        (by, from, to) => store.Usage(by, from, to, rates, AccessGuard.Of(requests.HttpContext!)?.Accounts),
        TimeProvider.System);
    _ = new UsageMetrics(store, Metrics.DefaultRegistry);
    app.MapMetrics();
    await app.StartAsync();
    var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Monitor.Aggregator");
    foreach (var address in app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
    {
        AggregatorLog.Listening(logger, address, options.Targets.Count, options.TargetFiles.Count, store.Description);
    }

    if (tokens is null)
    {
        AggregatorLog.Open(logger);
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
