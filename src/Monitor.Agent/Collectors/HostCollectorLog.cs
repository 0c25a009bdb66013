using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Collectors;

/// <summary>
/// Source-generated log messages of the procfs/sysfs host collectors (cpu, stat, meminfo, diskstats, netdev,
/// pressure, infiniband, netclass). Event IDs 2100–2199 are reserved for them and are all defined here.
/// </summary>
internal static partial class HostCollectorLog
{
    [LoggerMessage(EventId = EventIds.PressureUnavailable, Level = LogLevel.Debug,
        Message = "Pressure information is unavailable at {Path}; it needs a Linux kernel >= 4.20 with CONFIG_PSI enabled")]
    public static partial void PressureUnavailable(ILogger logger, string path);

    [LoggerMessage(EventId = EventIds.EntrySkipped, Level = LogLevel.Warning, Message = "{Source}: skipping an entry that does not parse: {Problem}")]
    public static partial void EntrySkipped(ILogger logger, string source, string problem);

    [LoggerMessage(EventId = EventIds.EntrySkippedAgain, Level = LogLevel.Debug, Message = "{Source}: skipping an entry that does not parse: {Problem}")]
    public static partial void EntrySkippedAgain(ILogger logger, string source, string problem);

    [LoggerMessage(EventId = EventIds.UdevDataUnavailable, Level = LogLevel.Debug, Message = "No udev data for block device {Device} at {Path}: {Reason}")]
    public static partial void UdevDataUnavailable(ILogger logger, string device, string path, string reason);

    [LoggerMessage(EventId = EventIds.UdevValueInvalid, Level = LogLevel.Debug, Message = "Udev property {Property} of block device {Device} is not a number: '{Value}'")]
    public static partial void UdevValueInvalid(ILogger logger, string property, string device, string value);

    [LoggerMessage(EventId = EventIds.CpuJumpedBack, Level = LogLevel.Debug,
        Message = "CPU {Cpu} idle time jumped backwards by {Seconds} s; assuming a hotplug event and resetting its counters")]
    public static partial void CpuJumpedBack(ILogger logger, int cpu, double seconds);

    [LoggerMessage(EventId = EventIds.CpuAttributeUnavailable, Level = LogLevel.Debug, Message = "CPU sysfs attribute {Path} is unavailable: {Reason}")]
    public static partial void CpuAttributeUnavailable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = EventIds.MemInfoFieldSkipped, Level = LogLevel.Debug, Message = "Skipping /proc/meminfo field {Field}: it does not make a valid metric name, or its name is taken by another field")]
    public static partial void MemInfoFieldSkipped(ILogger logger, string field);

    // InfiniBand link events (2110-2113): one event per change between two consecutive reads of a port, with the
    // device, port, old and new values as structured fields, for the log-shipping pipeline.
    [LoggerMessage(EventId = EventIds.IbPortStateChanged,
        Message = "InfiniBand {Device} port {Port} ({LinkLayer}) state changed from {OldStateId}: {OldState} to {NewStateId}: {NewState} (physical state {OldPhysStateId}: {OldPhysState} to {NewPhysStateId}: {NewPhysState}); node GUID {NodeGuid}")]
    public static partial void IbPortStateChanged(
        ILogger logger, LogLevel level, string device, string port, string linkLayer, long oldStateId, string oldState, long newStateId, string newState,
        long oldPhysStateId, string oldPhysState, long newPhysStateId, string newPhysState, string nodeGuid);

    [LoggerMessage(EventId = EventIds.IbLinkDowned, Level = LogLevel.Warning,
        Message = "InfiniBand {Device} port {Port} ({LinkLayer}) link went down: link_downed rose from {OldValue} to {NewValue}; node GUID {NodeGuid}")]
    public static partial void IbLinkDowned(ILogger logger, string device, string port, string linkLayer, double oldValue, double newValue, string nodeGuid);

    [LoggerMessage(EventId = EventIds.IbRateDropped, Level = LogLevel.Warning,
        Message = "InfiniBand {Device} port {Port} ({LinkLayer}) rate dropped from {OldGbps} Gb/s to {NewGbps} Gb/s ({OldValue} to {NewValue} bytes/s); node GUID {NodeGuid}")]
    public static partial void IbRateDropped(
        ILogger logger, string device, string port, string linkLayer, double oldGbps, double newGbps, double oldValue, double newValue, string nodeGuid);

    [LoggerMessage(EventId = EventIds.IbLinkErrorRecoveryBurst, Level = LogLevel.Warning,
        Message = "InfiniBand {Device} port {Port} ({LinkLayer}) link error recovery burst: link_error_recovery rose from {OldValue} to {NewValue}; node GUID {NodeGuid}")]
    public static partial void IbLinkErrorRecoveryBurst(ILogger logger, string device, string port, string linkLayer, double oldValue, double newValue, string nodeGuid);

    [LoggerMessage(EventId = EventIds.IbDeviceFailed, Level = LogLevel.Warning,
        Message = "InfiniBand device {Device} failed ({Problem}); node_infiniband_device_error is 1 and its other series are kept where they read")]
    public static partial void IbDeviceFailed(ILogger logger, string device, string problem);

    [LoggerMessage(EventId = EventIds.IbDeviceRecovered, Level = LogLevel.Information, Message = "InfiniBand device {Device} reads cleanly again")]
    public static partial void IbDeviceRecovered(ILogger logger, string device);

    [LoggerMessage(EventId = EventIds.IbDeviceStuck, Level = LogLevel.Warning,
        Message = "InfiniBand device {Device} did not answer within {Timeout}; it is marked failed and not read again until the stuck read returns")]
    public static partial void IbDeviceStuck(ILogger logger, string device, TimeSpan timeout);

    [LoggerMessage(EventId = EventIds.NetClassInterfaceSkipped, Level = LogLevel.Warning, Message = "Network interface {Device} skipped: {Problem}")]
    public static partial void NetClassInterfaceSkipped(ILogger logger, string device, string problem);

    [LoggerMessage(EventId = EventIds.NetClassInterfaceSkippedAgain, Level = LogLevel.Debug, Message = "Network interface {Device} skipped again: {Problem}")]
    public static partial void NetClassInterfaceSkippedAgain(ILogger logger, string device, string problem);
}
