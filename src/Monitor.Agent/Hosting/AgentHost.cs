using System.Net;
using Microsoft.AspNetCore.Builder;
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
    public static WebApplication Build(AgentOptions options, Serilog.ILogger serilog, TimeProvider time, IReadOnlyList<CollectorDescriptor>? extra = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "monitor-agent" });
        builder.Logging.AddProvider(new SerilogLoggerProvider(serilog));
        // Filter in Microsoft.Extensions.Logging too, not only in Serilog: ASP.NET Core checks IsEnabled before doing
        // its per-request logging work (log state, scopes, activities), so a filter here saves that on every scrape.
        builder.Logging.SetMinimumLevel(options.MinimumLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("System", LogLevel.Warning);
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            var listen = options.Listen;
            var https = options.Https;
            Action<ListenOptions> configure = https is null ? _ => { } : listenOptions => listenOptions.UseHttps(https);
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
        builder.Services.AddSingleton<Monitor.Agent.Jobs.AgentServices>();
        builder.Services.AddSingleton(sp => new CollectorRunner(
            [SelfCollector.Descriptor, .. extra ?? [], .. options.EnabledCollectors],
            options.CollectorSettings,
            options.Paths,
            sp.GetRequiredService<MetricRegistry>(),
            sp.GetRequiredService<ILoggerFactory>(),
            time,
            sp.GetRequiredService<Monitor.Agent.Jobs.AgentServices>(),
            options.ReadTimeout));
        builder.Services.AddSingleton(sp => new MetricsEndpoint(
            sp.GetRequiredService<MetricRegistry>(),
            sp.GetRequiredService<CollectorRunner>(),
            time,
            sp.GetRequiredService<ILogger<MetricsEndpoint>>(),
            options.MaxRequests));
        builder.Services.AddHostedService<BackgroundSampler>();

        var app = builder.Build();
        var metrics = app.Services.GetRequiredService<MetricsEndpoint>();
        var jobs = app.Services.GetRequiredService<Monitor.Agent.Jobs.AgentServices>().Jobs;
        _ = app.Services.GetRequiredService<CollectorRunner>();
        var landing = LandingPage(options.TelemetryPath);
        var authenticator = options.Web.BasicAuthUsers.Count > 0 ? new BasicAuthenticator(options.Web.BasicAuthUsers) : null;
        app.Run(context =>
        {
            var request = context.Request;
            if (authenticator is not null && !authenticator.IsAuthorized(request))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Basic realm=\"monitor-agent\"";
                return Task.CompletedTask;
            }

            if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
            {
                context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                context.Response.Headers.Allow = "GET, HEAD";
                return Task.CompletedTask;
            }

            var path = request.Path.Value;
            if (path == options.TelemetryPath)
            {
                return metrics.HandleAsync(context);
            }

            switch (path)
            {
                case "/api/v1/jobs":
                    return JobsAsync(context, jobs, time);
                case "/healthz":
                    context.Response.ContentType = "text/plain; charset=utf-8";
                    return context.Response.WriteAsync("ok\n");
                case "/" or "":
                    context.Response.ContentType = "text/html; charset=utf-8";
                    return context.Response.WriteAsync(landing);
                default:
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    context.Response.ContentType = "text/plain; charset=utf-8";
                    return context.Response.WriteAsync($"404 page not found; metrics are at {options.TelemetryPath}\n");
            }
        });

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Monitor.Agent");
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            foreach (var address in addresses)
            {
                LogListening(logger, address, SelfCollector.Version.Version);
            }

            CollectorLog.CollectorsEnabled(logger, string.Join(", ", options.EnabledCollectors.Select(c => c.Name)));
        });
        app.Lifetime.ApplicationStopping.Register(() => LogStopping(logger));
        return app;
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

        context.Response.ContentType = "application/json; charset=utf-8";
        using var buffer = new MemoryStream();
        await using (var json = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            Monitor.Agent.Jobs.JobsApi.Write(json, jobs, Environment.MachineName, time.GetUtcNow());
        }

        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
        }
    }

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

    [LoggerMessage(EventId = 1000, EventName = "listening", Level = LogLevel.Information, Message = "Listening on {Address} (monitor-agent {Version})")]
    private static partial void LogListening(ILogger logger, string address, string version);

    [LoggerMessage(EventId = 1001, EventName = "stopping", Level = LogLevel.Information, Message = "Stopping")]
    private static partial void LogStopping(ILogger logger);
}
