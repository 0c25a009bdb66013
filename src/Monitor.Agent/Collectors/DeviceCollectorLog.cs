using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Collectors;

/// <summary>
/// Log messages shared by the optional-hardware and subsystem collectors (mdadm, bonding, nvme, fibrechannel, tapestats,
/// xfs, ipvs, bcache, zfs, btrfs):
/// a source this host does not have, and a device skipped because it does not read.
/// </summary>
internal static partial class DeviceCollectorLog
{
    [LoggerMessage(EventId = EventIds.DeviceSourceUnavailable, Level = LogLevel.Debug, Message = "{Collector}: {Path} does not exist; nothing to export")]
    public static partial void SourceUnavailable(ILogger logger, string collector, string path);

    /// <summary>
    /// True when <paramref name="path"/> (a file or a directory) is not there, logged once per collector instance: one
    /// stat per update (<see cref="Path.Exists"/>: one for a file or a directory) on hosts without the hardware, instead of an exception from opening it.
    /// </summary>
    public static bool Absent(ILogger logger, ref bool logged, string collector, string path)
    {
        if (Path.Exists(path))
        {
            return false;
        }

        if (!logged)
        {
            logged = true;
            SourceUnavailable(logger, collector, path);
        }

        return true;
    }

    [LoggerMessage(EventId = EventIds.DeviceSkipped, Level = LogLevel.Warning, Message = "{Collector}: skipping device {Device}: {Problem}")]
    public static partial void DeviceSkipped(ILogger logger, string collector, string device, string problem);

    [LoggerMessage(EventId = EventIds.DeviceSkippedAgain, Level = LogLevel.Debug, Message = "{Collector}: skipping device {Device} again: {Problem}")]
    public static partial void DeviceSkippedAgain(ILogger logger, string collector, string device, string problem);
}
