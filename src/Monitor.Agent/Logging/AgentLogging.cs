using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;

namespace Monitor.Agent.Logging;

/// <summary>Builds the Serilog pipeline behind Microsoft.Extensions.Logging: text on a terminal, ECS JSON with <c>--log.format=json</c>. Logs go to stderr, like node_exporter's.</summary>
internal static class AgentLogging
{
    /// <summary>Creates the root Serilog logger.</summary>
    /// <param name="minimum">Minimum level.</param>
    /// <param name="json">ECS JSON on the console instead of text.</param>
    /// <param name="version">The agent's version, for <c>service.version</c>.</param>
    /// <param name="elasticsearch">The Elasticsearch sink, when <c>--log.elasticsearch.url</c> is set; it gets the same events as the console.</param>
    public static Serilog.Core.Logger Create(LogLevel minimum, bool json, string version, Elasticsearch.ElasticsearchSink? elasticsearch = null)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(ToSerilog(minimum))
            // ASP.NET Core logs every request at Information; the agent is scraped every few seconds.
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("System", LogEventLevel.Warning);
        if (elasticsearch is not null)
        {
            configuration = configuration.WriteTo.Sink(elasticsearch);
        }

        return json
            ? configuration.WriteTo.Console(new EcsJsonFormatter("monitor-agent", version, Environment.MachineName), standardErrorFromLevel: LogEventLevel.Verbose).CreateLogger()
            : configuration.WriteTo.Console(new TextLogFormatter(), standardErrorFromLevel: LogEventLevel.Verbose).CreateLogger();
    }

    private static LogEventLevel ToSerilog(LogLevel level) => level switch
    {
        LogLevel.Trace => LogEventLevel.Verbose,
        LogLevel.Debug => LogEventLevel.Debug,
        LogLevel.Information => LogEventLevel.Information,
        LogLevel.Warning => LogEventLevel.Warning,
        LogLevel.Error => LogEventLevel.Error,
        _ => LogEventLevel.Fatal,
    };
}
