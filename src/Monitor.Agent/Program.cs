using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Hosting;
using Monitor.Agent.Logging;
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

        using var serilog = AgentLogging.Create(options.MinimumLevel, options.JsonLogs, SelfCollector.Version.Version);
        try
        {
            await using var app = AgentHost.Build(options, serilog, TimeProvider.System);
            await app.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            // Typically the listen address is in use or not ours to bind.
            serilog.Fatal(ex, "monitor-agent cannot start: {Reason}", ex.Message);
            return 1;
        }
    }
}
