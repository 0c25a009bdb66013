using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Self;
using Monitor.Core.Exposition;
using Serilog.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Builds the agent's web host: Kestrel only (no MVC, no routing middleware), one request delegate that serves
/// <c>/metrics</c>, <c>/healthz</c> and <c>/</c>, the collector runner, and the background sampler.
/// </summary>
internal static partial class AgentHost
{
    /// <summary>Builds the application for <paramref name="options"/>.</summary>
    /// <param name="options">Validated options.</param>
    /// <param name="serilog">The root logger.</param>
    /// <param name="time">The clock.</param>
    /// <param name="extra">Collectors that always run besides the enabled ones (the log shipper's metrics).</param>
    public static WebApplication Build(AgentOptions options, Serilog.ILogger serilog, TimeProvider time, IReadOnlyList<CollectorDescriptor>? extra = null, StartupReport? startup = null)
    {
        startup ??= new StartupReport(default, -1, new ConnectionBudget.Result(options.MaxConnections > 0 ? options.MaxConnections : ConnectionBudget.DefaultMax, null, null), new UnrecoverableStateMonitor());
        // The reloader is built with the services; Kestrel's per-handshake TLS callback reads it from here.
        WebConfigReloader? tlsSource = null;
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "monitor-agent" });
        builder.Logging.AddProvider(new SerilogLoggerProvider(serilog));
        builder.Logging.AddProvider(startup.Unrecoverable);
        // Filter in Microsoft.Extensions.Logging too, not only in Serilog: ASP.NET Core checks IsEnabled before doing
        // its per-request logging work (log state, scopes, activities), so a filter here saves that on every scrape.
        builder.Logging.SetMinimumLevel(options.MinimumLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("System", LogLevel.Warning);
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            ListenerLimits.Apply(kestrel.Limits);
            var listen = options.Listen;
            Action<ListenOptions> configure = listenOptions =>
            {
                if (options.Https is not null)
                {
                    // Per handshake, so that a SIGHUP reload reaches new connections without a restart.
                    listenOptions.UseHttps(new TlsHandshakeCallbackOptions
                    {
                        OnConnection = _ => ValueTask.FromResult(tlsSource!.Current.Tls!.ServerOptions),
                        HandshakeTimeout = ListenerLimits.TlsHandshakeTimeout,
                    });
                }
            };
            if (listen.Address is not null)
            {
                kestrel.Listen(listen.Address, listen.Port, configure);
            }
            else if (listen.Host is not null)
            {
                kestrel.Listen(IPAddress.Loopback, listen.Port, configure);
            }
            else
            {
                kestrel.ListenAnyIP(listen.Port, configure);
            }
        });

        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton<MetricRegistry>();
        builder.Services.AddSingleton<Monitor.Agent.Collectors.AgentServices>();
        builder.Services.AddSingleton(sp => new CollectorRunner(
            [SelfCollector.Descriptor, .. extra ?? [], .. options.EnabledCollectors],
            options.CollectorSettings,
            options.Paths,
            sp.GetRequiredService<MetricRegistry>(),
            sp.GetRequiredService<ILoggerFactory>(),
            time,
            sp.GetRequiredService<Monitor.Agent.Collectors.AgentServices>(),
            options.ReadTimeout));
        builder.Services.AddSingleton(sp => new RequestLimiter(
            options.MaxRequests,
            sp.GetRequiredService<MetricRegistry>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Monitor.Agent.Hosting.RequestLimiter"),
            time));
        builder.Services.AddSingleton(sp => new MetricsEndpoint(
            sp.GetRequiredService<MetricRegistry>(),
            sp.GetRequiredService<CollectorRunner>(),
            time,
            sp.GetRequiredService<RequestLimiter>()));
        builder.Services.AddSingleton(sp => new ConnectionLimiter(
            startup.Connections.Limit,
            sp.GetRequiredService<MetricRegistry>(),
            time,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Monitor.Agent.Hosting.ConnectionLimiter")));
        builder.Services.AddSingleton(sp => new AuthGuard(
            BcryptWorkers.DefaultCount,
            sp.GetRequiredService<MetricRegistry>(),
            time,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Monitor.Agent.Hosting.Auth")));
        builder.Services.AddSingleton(sp => new WebConfigReloader(
            options.WebConfigFile,
            options.Web,
            options.Https,
            sp.GetRequiredService<AuthGuard>(),
            sp.GetRequiredService<MetricRegistry>(),
            time,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Monitor.Agent.Hosting.WebConfigReloader")));
        // Registered after Kestrel's socket transport: Kestrel binds through the last registered factory that can.
        builder.Services.AddSingleton<IConnectionListenerFactory>(sp => new LimitedListenerFactory(
            sp.GetRequiredService<ConnectionLimiter>(),
            sp));
        builder.Services.AddSingleton<SupervisorHeartbeat>();
        builder.Services.AddSingleton(TestFaults.Parse(Environment.GetEnvironmentVariable(TestFaults.Variable)));
        builder.Services.AddHostedService<BackgroundSampler>();

        var app = builder.Build();
        var metrics = app.Services.GetRequiredService<MetricsEndpoint>();
        var limiter = app.Services.GetRequiredService<RequestLimiter>();
        var jobs = app.Services.GetRequiredService<Monitor.Agent.Collectors.AgentServices>().Jobs;
        var reloader = app.Services.GetRequiredService<WebConfigReloader>();
        tlsSource = reloader;
        _ = app.Services.GetRequiredService<CollectorRunner>();
        var landing = LandingPage(options.TelemetryPath);
        app.Run(context => HandleAsync(context, reloader, metrics, limiter, jobs, landing, options.TelemetryPath, time));

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Monitor.Agent");
        var systemd = new SystemdService(
            new Microsoft.Extensions.Hosting.Systemd.SystemdNotifier(),
            app.Services.GetRequiredService<SupervisorHeartbeat>(),
            time,
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Monitor.Agent.Hosting.Systemd"));
        startup.Unrecoverable.Attach(app.Lifetime, logger);
        var services = app.Services.GetRequiredService<Monitor.Agent.Collectors.AgentServices>();
        app.Lifetime.ApplicationStopped.Register(services.Stop);
        // From here on SIGHUP reloads (before, Main's registration ignores it).
        Sighup.Handler = () => reloader.Reload();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            foreach (var address in addresses)
            {
                LogListening(logger, address, SelfCollector.Version.Version);
            }

            CollectorLog.CollectorsEnabled(logger, string.Join(", ", options.EnabledCollectors.Select(c => c.Name)));
            _ = Task.Run(() => WarmUpAsync(app, options, startup, addresses.FirstOrDefault(), logger, time));

            // Kestrel has bound every listener by now: READY for Type=notify, then the watchdog if WatchdogSec is set.
            systemd.Ready($"serving on {string.Join(", ", addresses)}");
            if (SystemdService.WatchdogInterval(Environment.GetEnvironmentVariable, Environment.ProcessId) is { } watchdog && systemd.Enabled && addresses.FirstOrDefault() is { } selfAddress)
            {
                _ = Task.Run(() => systemd.RunWatchdogAsync(watchdog, selfAddress, app.Lifetime.ApplicationStopping));
            }
        });
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            Sighup.Handler = null;
            LogStopping(logger);
            systemd.Stopping();
        });
        return app;
    }

    /// <summary>How long a client address that is backing off waits for its 429.</summary>
    internal static readonly TimeSpan BackoffAnswerDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs every request path once (<see cref="StartupWarmup"/>), then sizes the connection limit from the descriptors
    /// really in use; too few descriptors left stops the agent with exit code 2. Never throws.
    /// </summary>
    private static async Task WarmUpAsync(WebApplication app, AgentOptions options, StartupReport startup, string? address, ILogger logger, TimeProvider time)
    {
        try
        {
            StartupWarmup.RunHandlers(app.Services.GetRequiredService<MetricRegistry>(), app.Services.GetRequiredService<Monitor.Agent.Collectors.AgentServices>().Jobs, time);
            if (address is not null)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var status = await StartupWarmup.RequestSelfAsync(address, timeout.Token).ConfigureAwait(false);
                LogWarmedUp(logger, address, status);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The listener may be reachable only from elsewhere (a firewall on its address); serving goes on, and
            // UnrecoverableStateMonitor still catches a path that cannot load later.
            LogWarmUpFailed(logger, address ?? "(none)", ex.Message);
        }

        var open = OpenFileDescriptors.Count();
        var connections = ConnectionBudget.Resolve(options.MaxConnections, FileDescriptorLimit.Soft(), open);
        var limiter = app.Services.GetRequiredService<ConnectionLimiter>();
        if (connections.Error is { } tooFew)
        {
            LogTooFewDescriptors(logger, tooFew);
            startup.Unrecoverable.RequestExit(Configuration.OptionsException.ExitCode);
            return;
        }

        limiter.SetLimit(connections.Limit);
        // Start-up is over and every request path has run once: what it alone read of the executable can go.
        NativeMemory.DropExecutablePages();
        LogDescriptors(logger, startup.Descriptors.Before, startup.Descriptors.Soft, startup.Descriptors.Hard, startup.Descriptors.Error ?? "none", startup.OpenAtStart, open, connections.Limit);
        if (connections.Warning is { } warning)
        {
            LogConnectionsLowered(logger, warning);
        }
    }

    /// <summary>
    /// One request. Order: the method (405 for anything but GET and HEAD, for everyone: the allowed methods are public
    /// and refusing them first means a flood of POSTs never costs a bcrypt verification), then authentication (401,
    /// or 429 when verification is not possible now), then the path (so an unauthenticated client learns nothing
    /// about paths), then <c>--web.max-requests</c> for the paths that do work.
    /// </summary>
    private static async Task HandleAsync(HttpContext context, WebConfigReloader reloader, MetricsEndpoint metrics, RequestLimiter limiter, Monitor.Agent.Jobs.JobStore jobs, string landing, string telemetryPath, TimeProvider time)
    {
        // The connection counts as busy (never displaced) while the request is served.
        bool backedOff;
        var connection = ConnectionLimiter.BeginRequest(context);
        try
        {
            backedOff = await ServeAsync(context, connection, reloader, metrics, limiter, jobs, landing, telemetryPath, time).ConfigureAwait(false);
        }
        finally
        {
            connection.Dispose();
        }

        if (backedOff)
        {
            // Tarpit: an address that keeps failing waits for its answer, so a flood of wrong passwords over keep-alive
            // connections gets one answer per connection per second instead of thousands. The connection counts as
            // idle meanwhile, so it can be displaced at the connection limit.
            try
            {
                await Task.Delay(BackoffAnswerDelay, time, context.RequestAborted).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "1";
        }
    }

    /// <summary>Serves the request; true when its client address is backing off (the caller answers 429 later).</summary>
    private static async Task<bool> ServeAsync(HttpContext context, ConnectionLimiter.RequestScope connection, WebConfigReloader reloader, MetricsEndpoint metrics, RequestLimiter limiter, Monitor.Agent.Jobs.JobStore jobs, string landing, string telemetryPath, TimeProvider time)
    {
        var request = context.Request;
        var response = context.Response;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            // Do not read (or wait for) a body the agent never wanted.
            response.Headers.Connection = "close";
            return false;
        }

        if (reloader.Current.Authenticator is { } authenticator)
        {
            var authorization = request.Headers.Authorization;
            var pending = authenticator.AuthenticateAsync(authorization.Count == 0 ? null : authorization.ToString(), context.Connection.RemoteIpAddress);
            var outcome = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
            switch (outcome)
            {
                case AuthOutcome.Success:
                    break;
                case AuthOutcome.BackedOff or AuthOutcome.BusyAfterFailures:
                    return true;
                case AuthOutcome.Busy:
                    response.StatusCode = StatusCodes.Status429TooManyRequests;
                    response.Headers.RetryAfter = "1";
                    return false;
                default:
                    response.StatusCode = StatusCodes.Status401Unauthorized;
                    response.Headers.WWWAuthenticate = "Basic realm=\"monitor-agent\"";
                    return false;
            }
        }

        connection.MarkServed();
        var path = request.Path.Value;
        if (path == telemetryPath)
        {
            await metrics.HandleAsync(context).ConfigureAwait(false);
            return false;
        }

        switch (path)
        {
            case "/api/v1/jobs":
                if (!limiter.TryEnter())
                {
                    await limiter.RejectAsync(context).ConfigureAwait(false);
                    return false;
                }

                try
                {
                    await JobsAsync(context, jobs, time).ConfigureAwait(false);
                }
                finally
                {
                    limiter.Exit();
                }

                return false;
            case "/healthz":
                response.ContentType = "text/plain; charset=utf-8";
                await response.WriteAsync("ok\n").ConfigureAwait(false);
                return false;
            case "/" or "":
                response.ContentType = "text/html; charset=utf-8";
                await response.WriteAsync(landing).ConfigureAwait(false);
                return false;
            default:
                response.StatusCode = StatusCodes.Status404NotFound;
                response.ContentType = "text/plain; charset=utf-8";
                await response.WriteAsync($"404 page not found; metrics are at {telemetryPath}\n").ConfigureAwait(false);
                return false;
        }
    }

    private static async Task JobsAsync(HttpContext context, Monitor.Agent.Jobs.JobStore jobs, TimeProvider time)
    {
        if (!jobs.Enabled)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync("404 the jobs collector is disabled (--collector.jobs)\n");
            return;
        }

        var problem = Monitor.Agent.Jobs.JobsApi.ParseQuery(Single(context, "since"), Single(context, "limit"), jobs, out var query);
        if (problem is not null)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync($"400 {problem}\n");
            return;
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        using var buffer = new MemoryStream();
        await using (var json = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            Monitor.Agent.Jobs.JobsApi.Write(json, jobs, Environment.MachineName, time.GetUtcNow(), query);
        }

        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
        }
    }

    /// <summary>A query parameter given at most once; a repeated one reads as its first value.</summary>
    private static string? Single(HttpContext context, string name) =>
        context.Request.Query.TryGetValue(name, out var values) && values.Count > 0 ? values[0] : null;

    private static string LandingPage(string telemetryPath) =>
        $"""
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>Monitor agent</title></head>
        <body>
        <h1>Monitor agent</h1>
        <p>Version {WebUtility.HtmlEncode(SelfCollector.Version.Version)} ({WebUtility.HtmlEncode(SelfCollector.Version.Revision)})</p>
        <ul>
        <li><a href="{WebUtility.HtmlEncode(telemetryPath)}">Metrics</a></li>
        <li><a href="/api/v1/jobs">Jobs</a></li>
        <li><a href="/healthz">Health</a></li>
        </ul>
        </body></html>

        """;

    [LoggerMessage(EventId = EventIds.Listening, EventName = "listening", Level = LogLevel.Information, Message = "Listening on {Address} (monitor-agent {Version})")]
    private static partial void LogListening(ILogger logger, string address, string version);

    [LoggerMessage(EventId = EventIds.Stopping, EventName = "stopping", Level = LogLevel.Information, Message = "Stopping")]
    private static partial void LogStopping(ILogger logger);

    [LoggerMessage(EventId = EventIds.FileDescriptors, EventName = "file_descriptors", Level = LogLevel.Information,
        Message = "File descriptors: soft limit {Soft}, hard limit {Hard} (soft was {Before} when Main started; raise error: {Error}); {OpenBefore} open before the listener started, {Open} after its warm-up; at most {Connections} HTTP connections (--web.max-connections)")]
    private static partial void LogDescriptors(ILogger logger, ulong before, ulong soft, ulong hard, string error, int openBefore, int open, int connections);

    [LoggerMessage(EventId = EventIds.WarmedUp, EventName = "warmed_up", Level = LogLevel.Debug, Message = "Warm-up request to {Address}: {Status}")]
    private static partial void LogWarmedUp(ILogger logger, string address, string status);

    [LoggerMessage(EventId = EventIds.WarmUpFailed, EventName = "warm_up_failed", Level = LogLevel.Warning, Message = "Warm-up request to {Address} failed: {Reason}")]
    private static partial void LogWarmUpFailed(ILogger logger, string address, string reason);

    [LoggerMessage(EventId = EventIds.TooFewDescriptors, EventName = "too_few_descriptors", Level = LogLevel.Critical, Message = "Cannot serve: {Reason}")]
    private static partial void LogTooFewDescriptors(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.ConnectionLimitLowered, EventName = "connection_limit_lowered", Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void LogConnectionsLowered(ILogger logger, string warning);
}
