using Microsoft.Extensions.Logging;

namespace Monitor.Agent.Collectors;

/// <summary>
/// How the tapestats, xfs, btrfs and zfs collectors report an absent subsystem (debug once, event 2150) and a device
/// they skip (a tape drive, an XFS or btrfs filesystem: warning the first time, event 2151, then debug, 2152).
/// </summary>
internal static class SubsystemSkip
{
    /// <summary>The exceptions reading a sysfs/procfs file can throw that skip one device rather than fail a collector.</summary>
    public static bool IsReadFailure(Exception ex) => ex is IOException or UnauthorizedAccessException or Parsing.MalformedSourceException;

    /// <summary>Logs a skipped device: a warning the first time per collector instance, debug afterwards.</summary>
    public static void Skipped(ILogger logger, ref bool warned, string collector, string device, string problem)
    {
        if (warned)
        {
            DeviceCollectorLog.DeviceSkippedAgain(logger, collector, device, problem);
        }
        else
        {
            warned = true;
            DeviceCollectorLog.DeviceSkipped(logger, collector, device, problem);
        }
    }

    /// <summary>Logs once per collector instance that the subsystem's source is not there.</summary>
    public static void MissingOnce(ILogger logger, ref bool logged, string collector, string path)
    {
        if (!logged)
        {
            logged = true;
            DeviceCollectorLog.SourceUnavailable(logger, collector, path);
        }
    }
}
