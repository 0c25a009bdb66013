using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Hosting;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;
using Monitor.Agent.Logging.Elasticsearch;
using Monitor.Agent.Self;

namespace Monitor.Agent;

/// <summary>Entry point: flags → validated options → logging → web host.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        NativeMemory.LimitArenas();
        var flags = AgentFlags.All(CollectorCatalog.All);
        AgentOptions options;
        try
        {
            var commandLine = CommandLine.Parse(args, flags);
            switch (commandLine.Action)
            {
                case CommandAction.Help:
                    await Console.Out.WriteAsync(CommandLine.HelpText(flags, SelfCollector.Version.Version)).ConfigureAwait(false);
                    return 0;
                case CommandAction.Version:
                    await Console.Out.WriteLineAsync(
                        $"monitor-agent, version {SelfCollector.Version.Version} (revision: {SelfCollector.Version.Revision})\n  runtime: {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}").ConfigureAwait(false);
                    return 0;
            }

            options = AgentOptions.Load(commandLine, flags, CollectorCatalog.All, Environment.GetEnvironmentVariable);
        }
        catch (OptionsException ex)
        {
            await Console.Error.WriteLineAsync($"monitor-agent: error: {ex.Message}").ConfigureAwait(false);
            return OptionsException.ExitCode;
        }

        ElasticsearchSink? elasticsearch = null;
        if (options.Elasticsearch is { } es)
        {
            try
            {
                // Opens the local spool only: startup never waits for Elasticsearch.
                elasticsearch = new ElasticsearchSink(es, "monitor-agent", SelfCollector.Version.Version, Environment.MachineName, TimeProvider.System);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"monitor-agent: error: cannot open the spool --log.elasticsearch.spool-path '{es.SpoolPath}' ({AgentFlags.Keys.EsSpoolPath}): {ex.Message}").ConfigureAwait(false);
                return OptionsException.ExitCode;
            }
        }

        using var serilog = AgentLogging.Create(options.MinimumLevel, options.JsonLogs, SelfCollector.Version.Version, elasticsearch);
        try
        {
            IReadOnlyList<CollectorDescriptor> extra = [];
            if (elasticsearch is not null)
            {
                using var factory = new Serilog.Extensions.Logging.SerilogLoggerFactory(serilog);
                var logger = factory.CreateLogger("Monitor.Agent.Logging.Elasticsearch");
                elasticsearch.SetLogger(logger);
                ShipperLog.Started(logger, options.Elasticsearch!.DataStream, string.Join(", ", options.Elasticsearch.Urls), options.Elasticsearch.SpoolPath, options.Elasticsearch.SpoolMaxBytes);
                extra = [ShipperCollector.Descriptor(elasticsearch.Metrics, TimeProvider.System)];
            }

            await using var app = AgentHost.Build(options, serilog, TimeProvider.System, extra);
            await app.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            // Typically the listen address is in use or not ours to bind.
            serilog.Fatal(ex, "monitor-agent cannot start: {Reason}", ex.Message);
            return 1;
        }
        finally
        {
            if (elasticsearch is not null)
            {
                await elasticsearch.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
