using Microsoft.Extensions.Logging;

namespace Monitor.Agent.Collectors;

/// <summary>Source-generated log messages of the collector runner.</summary>
internal static partial class CollectorLog
{
    [LoggerMessage(EventId = 1100, EventName = "collector_failed", Level = LogLevel.Warning,
        Message = "Collector {Collector} failed; its series are incomplete until it recovers: {Reason}")]
    public static partial void CollectorFailed(ILogger logger, string collector, string reason, Exception? exception);

    [LoggerMessage(EventId = 1101, EventName = "collector_recovered", Level = LogLevel.Information,
        Message = "Collector {Collector} recovered after {Failures} failed updates")]
    public static partial void CollectorRecovered(ILogger logger, string collector, long failures);

    [LoggerMessage(EventId = 1102, EventName = "collector_create_failed", Level = LogLevel.Error,
        Message = "Collector {Collector} could not start and stays disabled: {Reason}")]
    public static partial void CollectorCreateFailed(ILogger logger, string collector, string reason, Exception exception);

    [LoggerMessage(EventId = 1103, EventName = "collector_stuck", Level = LogLevel.Error,
        Message = "Collector {Collector} is stuck reading {Path}: its update has not returned within {TimeoutSeconds} s; its series are withdrawn and it reports failed until the read returns, while every other collector keeps serving")]
    public static partial void CollectorStuck(ILogger logger, string collector, string path, double timeoutSeconds);

    [LoggerMessage(EventId = 1104, EventName = "collector_unstuck", Level = LogLevel.Warning,
        Message = "Collector {Collector}: the update that was stuck returned after {Seconds} s")]
    public static partial void CollectorUnstuck(ILogger logger, string collector, double seconds);

    [LoggerMessage(EventId = 1002, EventName = "collectors_enabled", Level = LogLevel.Information,
        Message = "Enabled collectors: {Collectors}")]
    public static partial void CollectorsEnabled(ILogger logger, string collectors);
}
