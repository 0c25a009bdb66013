using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Collectors.Hwmon;

/// <summary>Source-generated log messages of the hwmon collector.</summary>
internal static partial class HwmonLog
{
    [LoggerMessage(EventId = EventIds.HwmonUnnamed, Level = LogLevel.Debug, Message = "Could not derive a monitoring name for {Directory}")]
    public static partial void Unnamed(ILogger logger, string directory);
}
