using Microsoft.Extensions.Logging;

namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>The Elasticsearch sink's own log events (1300–1399). They go through the same pipeline, so they are spooled and shipped too.</summary>
internal static partial class ShipperLog
{
    [LoggerMessage(EventId = 1300, EventName = "es_shipping", Level = LogLevel.Information,
        Message = "Shipping logs to Elasticsearch data stream {DataStream} at {Urls}; spool {SpoolPath} (cap {SpoolMaxBytes} bytes)")]
    public static partial void Started(ILogger logger, string dataStream, string urls, string spoolPath, long spoolMaxBytes);

    [LoggerMessage(EventId = 1301, EventName = "es_unreachable", Level = LogLevel.Warning,
        Message = "Elasticsearch at {Url} failed ({Reason}); events stay in the spool, retrying in {DelaySeconds} s")]
    public static partial void Unreachable(ILogger logger, string url, string reason, double delaySeconds);

    [LoggerMessage(EventId = 1302, EventName = "es_recovered", Level = LogLevel.Information, Message = "Elasticsearch at {Url} accepts events again")]
    public static partial void Recovered(ILogger logger, string url);

    [LoggerMessage(EventId = 1303, EventName = "es_unauthorized", Level = LogLevel.Error,
        Message = "Elasticsearch at {Url} refused our credentials (HTTP {Status}): shipping is stopped until they work, events keep spooling; check --log.elasticsearch.api-key-file or the user and password")]
    public static partial void Unauthorized(ILogger logger, string url, int status);

    [LoggerMessage(EventId = 1304, EventName = "es_dead_lettered", Level = LogLevel.Warning,
        Message = "Elasticsearch rejected document {Id} with {Status} {ErrorType}: {Reason}; written to {DeadLetterPath}")]
    public static partial void DeadLettered(ILogger logger, string id, int status, string errorType, string reason, string deadLetterPath);

    [LoggerMessage(EventId = 1305, EventName = "es_shutdown_left", Level = LogLevel.Warning,
        Message = "Shutdown drain stopped after {Seconds} s; the remaining events stay in {SpoolPath} for the next start")]
    public static partial void LeftOnDisk(ILogger logger, double seconds, string spoolPath);

    [LoggerMessage(EventId = 1306, EventName = "es_spool_failed", Level = LogLevel.Error, Message = "The log spool failed: {Reason}")]
    public static partial void SpoolFailed(ILogger logger, string reason);
}
