using Monitor.Agent.Collectors;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Logging.Elasticsearch;

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

    public ShipperCollector(CollectorContext context, ShipperMetrics metrics, TimeProvider time)
    {
        _metrics = metrics;
        _time = time;
        var group = context.Group;
        _shipped = group.Counter("monitor_log_shipper_shipped_events_total", "Log events Elasticsearch acknowledged as created.").Get();
        _retried = group.Counter("monitor_log_shipper_retried_events_total", "Log events sent again after a retryable failure (429, 5xx, a failed request), counted per attempt.").Get();
        _duplicates = group.Counter("monitor_log_shipper_duplicate_events_total", "Log events Elasticsearch already had (409 on create): done, not stored twice.").Get();
        _deadLettered = group.Counter("monitor_log_shipper_dead_lettered_events_total", "Log events Elasticsearch rejected permanently (mapping errors, other 4xx), written to the dead-letter file.").Get();
        _dropped = group.Counter("monitor_log_shipper_dropped_events_total", "Log events lost before shipping, by reason: spool_full, spool_age, queue_full, corrupt.", "reason");
        _spoolBytes = group.Gauge("monitor_log_shipper_spool_bytes", "Bytes in the on-disk spool's segment files.").Get();
        _oldest = group.Gauge("monitor_log_shipper_oldest_unshipped_age_seconds", "Age of the oldest log event not yet shipped; 0 when the spool is drained.").Get();
        _failed = group.Counter("monitor_log_shipper_failed_requests_total", "_bulk requests that failed as a whole (connection, timeout, 429, 5xx, 401/403).").Get();
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
        _spoolBytes.Set(_metrics.SpoolBytes);
        var oldest = _metrics.OldestUnshippedUnixMs;
        _oldest.Set(oldest == 0 ? 0 : Math.Max(0, (_time.GetUtcNow().ToUnixTimeMilliseconds() - oldest) / 1000.0));
        _failed.Set(_metrics.RequestsFailed);
        _up.Set(_metrics.Up ? 1 : 0);
    }
}
