using Monitor.Agent.Logging.Elasticsearch;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Shipper;

/// <summary>The Elasticsearch sink's self metrics (<c>monitor_log_shipper_*</c>), registered only when a URL is configured.</summary>
internal sealed class ShipperCollector : ICollector
{
    private readonly ShipperMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Series _shipped;
    private readonly Series _retried;
    private readonly Series _duplicates;
    private readonly Series _deadLettered;
    private readonly MetricFamily _dropped;
    private readonly Series _spoolBytes;
    private readonly Series _oldest;
    private readonly Series _failed;
    private readonly Series _up;
    private readonly Series[] _spoolErrors;
    private readonly Series _spoolWritable;
    private readonly Series _memoryQueueBytes;
    private readonly Series _internalErrors;

    public ShipperCollector(CollectorContext context, ShipperMetrics metrics, TimeProvider time)
    {
        _metrics = metrics;
        _time = time;
        var group = context.Group;
        _shipped = group.Counter("monitor_log_shipper_shipped_events_total", "Log events Elasticsearch acknowledged as created.").Get();
        _retried = group.Counter("monitor_log_shipper_retried_events_total", "Log events sent again after a retryable failure (429, 5xx, a failed request), counted per attempt.").Get();
        _duplicates = group.Counter("monitor_log_shipper_duplicate_events_total", "Log events Elasticsearch already had (409 on create): done, not stored twice.").Get();
        _deadLettered = group.Counter("monitor_log_shipper_dead_lettered_events_total", "Log events Elasticsearch rejected permanently (mapping errors, other 4xx), written to the dead-letter file.").Get();
        _dropped = group.Counter("monitor_log_shipper_dropped_events_total", "Log events lost before shipping, by reason: spool_full, spool_age, queue_full, corrupt, spool_unwritable, too_large.", "reason");
        _spoolBytes = group.Gauge("monitor_log_shipper_spool_bytes", "Bytes in the on-disk spool's segment files.").Get();
        _oldest = group.Gauge("monitor_log_shipper_oldest_unshipped_age_seconds", "Age of the oldest log event not yet shipped; 0 when the spool is drained.").Get();
        _failed = group.Counter("monitor_log_shipper_failed_requests_total", "_bulk requests that failed or were refused as a whole (connection, timeout, 4xx, 5xx).").Get();
        var spoolErrors = group.Counter("monitor_log_shipper_spool_errors_total", "Spool disk operations that failed (ENOSPC, EIO, read-only), by operation: write, sync, create, delete, cursor, read, dead_letter.", "operation");
        _internalErrors = group.Counter("monitor_log_shipper_internal_errors_total", "Unexpected exceptions the sink's writer and shipper loops caught and survived (a bug to report; the first is logged as event 1311).").Get();
        _spoolErrors = [.. Enum.GetValues<SpoolOperation>().Select(o => spoolErrors.Get(SpoolHealth.Name(o)))];
        _spoolWritable = group.Gauge("monitor_log_shipper_spool_writable", "0 while the spool's disk refuses writes; events then wait in memory and are shipped from there.").Get();
        _memoryQueueBytes = group.Gauge("monitor_log_shipper_memory_queue_bytes", "Bytes of log events waiting in memory because the spool's disk refuses writes (bounded by --log.elasticsearch.memory-queue-max-bytes).").Get();
        _up = group.Gauge("monitor_log_shipper_up", "1 when the last _bulk request to Elasticsearch got a usable answer.").Get();
    }

    /// <summary>Registration with the sink's counters.</summary>
    public static CollectorDescriptor Descriptor(ShipperMetrics metrics, TimeProvider time) => new(
        "log_shipper", "Elasticsearch log shipping.", true, Cadence.OnScrape, TimeSpan.Zero, c => new ShipperCollector(c, metrics, time), []);

    public void Update(CancellationToken cancellationToken)
    {
        _shipped.Set(_metrics.Shipped);
        _retried.Set(_metrics.Retried);
        _duplicates.Set(_metrics.Duplicates);
        _deadLettered.Set(_metrics.DeadLettered);
        _dropped.Get("spool_full").Set(_metrics.DroppedSpoolFull);
        _dropped.Get("spool_age").Set(_metrics.DroppedSpoolAge);
        _dropped.Get("queue_full").Set(_metrics.DroppedQueueFull);
        _dropped.Get("corrupt").Set(_metrics.DroppedCorrupt);
        _dropped.Get("spool_unwritable").Set(_metrics.DroppedSpoolUnwritable);
        _dropped.Get("too_large").Set(_metrics.DroppedTooLarge);
        for (var i = 0; i < _spoolErrors.Length; i++)
        {
            _spoolErrors[i].Set(_metrics.SpoolErrors((SpoolOperation)i));
        }

        _spoolWritable.Set(_metrics.SpoolWritable ? 1 : 0);
        _memoryQueueBytes.Set(_metrics.MemoryQueueBytes);
        _internalErrors.Set(_metrics.InternalErrors);
        _spoolBytes.Set(_metrics.SpoolBytes);
        var oldest = _metrics.OldestUnshippedUnixMs;
        _oldest.Set(oldest == 0 ? 0 : Math.Max(0, (_time.GetUtcNow().ToUnixTimeMilliseconds() - oldest) / 1000.0));
        _failed.Set(_metrics.RequestsFailed);
        _up.Set(_metrics.Up ? 1 : 0);
    }
}
