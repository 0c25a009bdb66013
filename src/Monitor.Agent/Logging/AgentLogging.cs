using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;

namespace Monitor.Agent.Logging;

/// <summary>Builds the Serilog pipeline behind Microsoft.Extensions.Logging: text on a terminal, ECS JSON with <c>--log.format=json</c>. Logs go to stderr, like node_exporter's.</summary>
internal static class AgentLogging
{
    /// <summary>Creates the root Serilog logger.</summary>
    public static Serilog.Core.Logger Create(LogLevel minimum, bool json, string version)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(ToSerilog(minimum))
            // ASP.NET Core logs every request at Information; the agent is scraped every few seconds.
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("System", LogEventLevel.Warning);
        return json
            ? configuration.WriteTo.Console(new EcsJsonFormatter("monitor-agent", version, Environment.MachineName), standardErrorFromLevel: LogEventLevel.Verbose).CreateLogger()
            : configuration.WriteTo.Console(
                outputTemplate: "{Timestamp:yyyy-MM-ddTHH:mm:ss.fffzzz} {Level:u4} {SourceContext}: {Message:lj}{NewLine}{Exception}",
                standardErrorFromLevel: LogEventLevel.Verbose,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture).CreateLogger();
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
