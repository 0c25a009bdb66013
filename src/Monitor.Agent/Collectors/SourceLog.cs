using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Collectors;

/// <summary>
/// Log messages shared by the small node_exporter-compatible collectors (conntrack, softnet, udp_queues, schedstat,
/// cpufreq, time, timex, os, selinux, dmi, powersupplyclass, edac, rapl), and the "is this source missing" test they use.
/// </summary>
internal static partial class SourceLog
{
    [LoggerMessage(EventId = EventIds.SourceUnavailable, Level = LogLevel.Debug,
        Message = "Collector {Collector}: {Path} is not there ({Reason}); it exports no series until it appears")]
    public static partial void SourceUnavailable(ILogger logger, string collector, string path, string reason);

    /// <summary>True for the exceptions that mean "no such file" (node_exporter's <c>os.ErrNotExist</c>).</summary>
    public static bool IsMissing(Exception ex) => ex is FileNotFoundException or DirectoryNotFoundException;

    /// <summary>Logs <see cref="SourceUnavailable"/> once per collector instance (<paramref name="logged"/> remembers).</summary>
    public static void MissingOnce(ILogger logger, ref bool logged, string collector, string path, string reason)
    {
        if (!logged)
        {
            logged = true;
            SourceUnavailable(logger, collector, path, reason);
        }
    }
}
