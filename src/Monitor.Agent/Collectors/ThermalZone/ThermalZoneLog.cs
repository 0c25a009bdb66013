using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Collectors.ThermalZone;

/// <summary>Source-generated log messages of the thermal_zone collector.</summary>
internal static partial class ThermalZoneLog
{
    [LoggerMessage(EventId = EventIds.ThermalZoneReadFailed, Level = LogLevel.Debug, Message = "Skipping {Path}: {Problem}")]
    public static partial void ReadFailed(ILogger logger, string path, string problem);
}
