using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Shipper;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Hosting;
using Monitor.Agent.Logging.Elasticsearch;
using Monitor.Agent.Logging;
using Monitor.Agent.Self;

namespace Monitor.Agent;

/// <summary>Entry point: flags → validated options → logging → web host.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        NativeMemory.LimitArenas();
        // Before anything else takes a descriptor: raise the soft limit, take over SIGHUP (its default ends the
        // process), and open stderr, so that an error about too few descriptors can still be written.
        var descriptors = FileDescriptorLimit.RaiseSoftToHard();
        using var sighup = Sighup.Register();
        var stderr = Console.Error;
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
            JobLedgerPreflight(options);
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

        var openAtStart = OpenFileDescriptors.Count();
        var connections = ConnectionBudget.Resolve(options.MaxConnections, FileDescriptorLimit.Soft(), openAtStart, ConnectionBudget.StartupGrowth);
        if (connections.Error is { } tooFew)
        {
            await stderr.WriteLineAsync($"monitor-agent: error: {tooFew}").ConfigureAwait(false);
            if (elasticsearch is not null)
            {
                await elasticsearch.DisposeAsync().ConfigureAwait(false);
            }

            return OptionsException.ExitCode;
        }

        var unrecoverable = new UnrecoverableStateMonitor();
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

            await using var app = AgentHost.Build(options, serilog, TimeProvider.System, extra, new StartupReport(descriptors, openAtStart, connections, unrecoverable));
            await app.RunAsync().ConfigureAwait(false);
            return unrecoverable.ExitCode ?? 0;
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

    /// <summary>
    /// An explicitly given <c>--collector.jobs.state-path</c> must be writable: exit 2 with the reason. The default path
    /// is checked by the ledger itself, which logs why and keeps accounting in memory.
    /// </summary>
    private static void JobLedgerPreflight(AgentOptions options)
    {
        if (!options.EnabledCollectors.Any(c => c.Name == "jobs"))
        {
            return;
        }

        var path = options.CollectorSettings("jobs")["state-path"];
        if (path is null or "" or "-" || path == Collectors.Jobs.JobsCollector.DefaultStatePath)
        {
            return;
        }

        if (Jobs.Ledger.JobLedger.Probe(path) is { } problem)
        {
            throw new OptionsException($"cannot use --collector.jobs.state-path '{path}': {problem} (the job ledger needs a directory it can create and write)");
        }
    }
}
