using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Collectors;

/// <summary>Source-generated log messages of the collector runner.</summary>
internal static partial class CollectorLog
{
    [LoggerMessage(EventId = EventIds.CollectorFailed, EventName = "collector_failed", Level = LogLevel.Warning,
        Message = "Collector {Collector} failed; its series are incomplete until it recovers: {Reason}")]
    public static partial void CollectorFailed(ILogger logger, string collector, string reason, Exception? exception);

    [LoggerMessage(EventId = EventIds.CollectorRecovered, EventName = "collector_recovered", Level = LogLevel.Information,
        Message = "Collector {Collector} recovered after {Failures} failed updates")]
    public static partial void CollectorRecovered(ILogger logger, string collector, long failures);

    [LoggerMessage(EventId = EventIds.CollectorCreateFailed, EventName = "collector_create_failed", Level = LogLevel.Error,
        Message = "Collector {Collector} could not start and stays disabled: {Reason}")]
    public static partial void CollectorCreateFailed(ILogger logger, string collector, string reason, Exception exception);

    [LoggerMessage(EventId = EventIds.CollectorStuck, EventName = "collector_stuck", Level = LogLevel.Error,
        Message = "Collector {Collector} is stuck reading {Path}: its update has not returned within {TimeoutSeconds} s; its series are withdrawn and it reports failed until the read returns, while every other collector keeps serving")]
    public static partial void CollectorStuck(ILogger logger, string collector, string path, double timeoutSeconds);

    [LoggerMessage(EventId = EventIds.CollectorUnstuck, EventName = "collector_unstuck", Level = LogLevel.Warning,
        Message = "Collector {Collector}: the update that was stuck returned after {Seconds} s")]
    public static partial void CollectorUnstuck(ILogger logger, string collector, double seconds);

    [LoggerMessage(EventId = EventIds.CollectorsEnabled, EventName = "collectors_enabled", Level = LogLevel.Information,
        Message = "Enabled collectors: {Collectors}")]
    public static partial void CollectorsEnabled(ILogger logger, string collectors);
}
