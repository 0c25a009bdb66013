using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>
/// The Elasticsearch sink's own log events (1300–1399), logged under the category <see cref="Category"/>. They reach
/// the console (journald) but never the spool: <see cref="ElasticsearchSink.Emit"/> leaves them out, so nothing the
/// shipper says about shipping can be shipped, rejected and reported again (the feedback loop of issue 22). Each one
/// that could repeat is logged once per episode or summarised per batch; the metrics carry the counts.
/// </summary>
internal static partial class ShipperLog
{
    /// <summary>The logging category of every shipper event (the agent creates its logger with it).</summary>
    public const string Category = "Monitor.Agent.Logging.Elasticsearch";

    [LoggerMessage(EventId = EventIds.EsShipping, EventName = "es_shipping", Level = LogLevel.Information,
        Message = "Shipping logs to Elasticsearch data stream {DataStream} at {Urls}; spool {SpoolPath} (cap {SpoolMaxBytes} bytes)")]
    public static partial void Started(ILogger logger, string dataStream, string urls, string spoolPath, long spoolMaxBytes);

    [LoggerMessage(EventId = EventIds.EsUnreachable, EventName = "es_unreachable", Level = LogLevel.Warning,
        Message = "Elasticsearch at {Url} failed ({Reason}); events stay in the spool, retrying in {DelaySeconds} s")]
    public static partial void Unreachable(ILogger logger, string url, string reason, double delaySeconds);

    [LoggerMessage(EventId = EventIds.EsRecovered, EventName = "es_recovered", Level = LogLevel.Information, Message = "Elasticsearch at {Url} accepts events again")]
    public static partial void Recovered(ILogger logger, string url);

    [LoggerMessage(EventId = EventIds.EsUnauthorized, EventName = "es_unauthorized", Level = LogLevel.Error,
        Message = "Elasticsearch at {Url} refused our credentials (HTTP {Status}): shipping is stopped until they work, events keep spooling; check --log.elasticsearch.api-key-file or the user and password")]
    public static partial void Unauthorized(ILogger logger, string url, int status);

    [LoggerMessage(EventId = EventIds.EsDeadLettered, EventName = "es_dead_lettered", Level = LogLevel.Warning,
        Message = "Elasticsearch rejected {Count} document(s) of a batch for good (last: {Id} with HTTP {Status} {ErrorType}: {Reason}); written to {DeadLetterPath}")]
    public static partial void DeadLettered(ILogger logger, int count, string id, int status, string errorType, string reason, string deadLetterPath);

    [LoggerMessage(EventId = EventIds.EsShutdownLeft, EventName = "es_shutdown_left", Level = LogLevel.Warning,
        Message = "Shutdown drain stopped after {Seconds} s; the remaining events stay in {SpoolPath} for the next start")]
    public static partial void LeftOnDisk(ILogger logger, double seconds, string spoolPath);

    [LoggerMessage(EventId = EventIds.EsSpoolFailed, EventName = "es_spool_failed", Level = LogLevel.Error,
        Message = "Log spool {Operation} failed at {Path}: {Error}; {Consequence}")]
    public static partial void SpoolFailed(ILogger logger, string operation, string path, string error, string consequence);

    [LoggerMessage(EventId = EventIds.EsSpoolRecovered, EventName = "es_spool_recovered", Level = LogLevel.Information,
        Message = "Log spool {Operation} works again after {Seconds} s and {Failures} failed attempt(s)")]
    public static partial void SpoolRecovered(ILogger logger, string operation, double seconds, long failures);

    [LoggerMessage(EventId = EventIds.EsMemoryQueueFull, EventName = "es_memory_queue_full", Level = LogLevel.Error,
        Message = "The log spool at {Path} refuses writes and {MaxBytes} bytes of events already wait in memory: dropping the oldest, counted as spool_unwritable in monitor_log_shipper_dropped_events_total")]
    public static partial void MemoryQueueFull(ILogger logger, string path, int maxBytes);

    [LoggerMessage(EventId = EventIds.EsPoisonSearch, EventName = "es_poison_search", Level = LogLevel.Warning,
        Message = "Elasticsearch at {Url} refused a whole _bulk request of {Count} documents with HTTP {Status} ({Reason}); splitting the batch to find the documents it refuses")]
    public static partial void PoisonSearch(ILogger logger, string url, int count, int status, string reason);

    [LoggerMessage(EventId = EventIds.EsShutdownLost, EventName = "es_shutdown_lost", Level = LogLevel.Error,
        Message = "{Count} log events could reach neither the spool at {Path} (its disk refuses writes) nor Elasticsearch before shutdown ended; they are lost")]
    public static partial void ShutdownLost(ILogger logger, int count, string path);

    [LoggerMessage(EventId = EventIds.EsInternalError, EventName = "es_internal_error", Level = LogLevel.Error,
        Message = "The Elasticsearch sink's {Loop} loop failed unexpectedly and carries on after {Seconds} s; further failures are only counted")]
    public static partial void InternalError(ILogger logger, Exception error, string loop, double seconds);

    [LoggerMessage(EventId = EventIds.EsEventTooLarge, EventName = "es_event_too_large", Level = LogLevel.Warning,
        Message = "A log event of {Bytes} bytes is larger than the {MaxBytes}-byte limit of a spool record and was dropped; further ones are only counted as too_large")]
    public static partial void TooLarge(ILogger logger, int bytes, int maxBytes);
}
