using Microsoft.Extensions.Logging;

namespace Monitor.Agent.Collectors;

/// <summary>
/// Source-generated log messages of the procfs/sysfs host collectors (cpu, stat, meminfo, diskstats, netdev,
/// pressure). Event IDs 2100–2199 are reserved for them and are all defined here.
/// </summary>
internal static partial class HostCollectorLog
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Debug,
        Message = "Pressure information is unavailable at {Path}; it needs a Linux kernel >= 4.20 with CONFIG_PSI enabled")]
    public static partial void PressureUnavailable(ILogger logger, string path);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "{Source}: skipping an entry that does not parse: {Problem}")]
    public static partial void EntrySkipped(ILogger logger, string source, string problem);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Debug, Message = "{Source}: skipping an entry that does not parse: {Problem}")]
    public static partial void EntrySkippedAgain(ILogger logger, string source, string problem);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Debug, Message = "No udev data for block device {Device} at {Path}: {Reason}")]
    public static partial void UdevDataUnavailable(ILogger logger, string device, string path, string reason);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Debug, Message = "Udev property {Property} of block device {Device} is not a number: '{Value}'")]
    public static partial void UdevValueInvalid(ILogger logger, string property, string device, string value);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Debug,
        Message = "CPU {Cpu} idle time jumped backwards by {Seconds} s; assuming a hotplug event and resetting its counters")]
    public static partial void CpuJumpedBack(ILogger logger, int cpu, double seconds);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Debug, Message = "CPU sysfs attribute {Path} is unavailable: {Reason}")]
    public static partial void CpuAttributeUnavailable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Debug, Message = "Skipping /proc/meminfo field {Field}: it does not make a valid metric name")]
    public static partial void MemInfoFieldSkipped(ILogger logger, string field);
}
