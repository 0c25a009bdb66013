using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Collectors;

/// <summary>
/// Log messages of the collectors of optional kernel subsystems (ipvs, bcache, zfs, btrfs): the subsystem is not on
/// this host, or one of its devices (a cache set, a pool, a filesystem) does not read and is skipped.
/// </summary>
internal static partial class SubsystemLog
{
    [LoggerMessage(EventId = EventIds.SubsystemUnavailable, Level = LogLevel.Debug,
        Message = "{Collector}: {Path} does not exist, so the subsystem is not on this host; no series")]
    public static partial void SourceUnavailable(ILogger logger, string collector, string path);

    [LoggerMessage(EventId = EventIds.SubsystemDeviceSkipped, Level = LogLevel.Warning, Message = "{Collector}: skipping {Device}: {Problem}")]
    public static partial void DeviceSkipped(ILogger logger, string collector, string device, string problem);

    [LoggerMessage(EventId = EventIds.SubsystemDeviceSkippedAgain, Level = LogLevel.Debug, Message = "{Collector}: skipping {Device} again: {Problem}")]
    public static partial void DeviceSkippedAgain(ILogger logger, string collector, string device, string problem);
}
