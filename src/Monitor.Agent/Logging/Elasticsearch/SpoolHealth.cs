using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>
/// Reports the spool's disk failures: every failed operation is counted (<c>monitor_log_shipper_spool_errors_total{operation}</c>);
/// the first failure of an operation is logged once with the path and the error (event 1306), and its first success
/// afterwards once more (event 1307), so a disk that stays full for a day writes two lines, not one per event. A
/// failure before the logger exists (opening the spool at startup) is logged as soon as it is set.
/// </summary>
internal sealed class SpoolHealth
{
    private static readonly int Count = Enum.GetValues<SpoolOperation>().Length;
    private readonly Lock _gate = new();
    private readonly ShipperMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly long[] _failingSince = new long[Count];
    private readonly long[] _failures = new long[Count];
    private readonly (string Path, string Error)?[] _unlogged = new (string, string)?[Count];
    private int _failing;
    private ILogger? _logger;

    public SpoolHealth(ShipperMetrics metrics, TimeProvider time)
    {
        _metrics = metrics;
        _time = time;
    }

    /// <summary>Sets the logger and logs any failure that happened before it existed.</summary>
    public void SetLogger(ILogger logger)
    {
        List<(SpoolOperation, string, string)> pending = [];
        lock (_gate)
        {
            _logger = logger;
            for (var i = 0; i < Count; i++)
            {
                if (_unlogged[i] is { } failure)
                {
                    pending.Add(((SpoolOperation)i, failure.Path, failure.Error));
                    _unlogged[i] = null;
                }
            }
        }

        foreach (var (operation, path, error) in pending)
        {
            ShipperLog.SpoolFailed(logger, Name(operation), path, error, Consequence(operation));
        }
    }

    /// <summary>True while <paramref name="operation"/> has failed and not succeeded since.</summary>
    public bool IsFailing(SpoolOperation operation) => Volatile.Read(ref _failingSince[(int)operation]) != 0;

    /// <summary>Counts a failure of <paramref name="operation"/> on <paramref name="path"/>; logs it when it is the first of its episode.</summary>
    public void Failed(SpoolOperation operation, string path, Exception error)
    {
        _metrics.AddSpoolError(operation);
        ILogger? logger;
        lock (_gate)
        {
            _failures[(int)operation]++;
            if (_failingSince[(int)operation] != 0)
            {
                return;
            }

            Volatile.Write(ref _failingSince[(int)operation], Math.Max(1, _time.GetTimestamp()));
            Interlocked.Increment(ref _failing);
            logger = _logger;
            if (logger is null)
            {
                _unlogged[(int)operation] = (path, error.Message);
                return;
            }
        }

        ShipperLog.SpoolFailed(logger, Name(operation), path, error.Message, Consequence(operation));
    }

    /// <summary>Notes a success of <paramref name="operation"/>; logs the recovery when it had been failing. Cheap when healthy.</summary>
    public void Succeeded(SpoolOperation operation)
    {
        if (Volatile.Read(ref _failing) == 0 || !IsFailing(operation))
        {
            return;
        }

        long since;
        long failures;
        ILogger? logger;
        lock (_gate)
        {
            since = _failingSince[(int)operation];
            if (since == 0)
            {
                return;
            }

            failures = _failures[(int)operation];
            _failures[(int)operation] = 0;
            Volatile.Write(ref _failingSince[(int)operation], 0);
            Interlocked.Decrement(ref _failing);
            _unlogged[(int)operation] = null;
            logger = _logger;
        }

        if (logger is not null)
        {
            ShipperLog.SpoolRecovered(logger, Name(operation), Math.Round(_time.GetElapsedTime(since).TotalSeconds, 1), failures);
        }
    }

    /// <summary>The operation's name in logs and in the metric's <c>operation</c> label.</summary>
    public static string Name(SpoolOperation operation) => operation switch
    {
        SpoolOperation.Write => "write",
        SpoolOperation.Sync => "sync",
        SpoolOperation.Create => "create",
        SpoolOperation.Delete => "delete",
        SpoolOperation.Cursor => "cursor",
        SpoolOperation.Read => "read",
        _ => "dead_letter",
    };

    private static string Consequence(SpoolOperation operation) => operation switch
    {
        SpoolOperation.Write or SpoolOperation.Create =>
            "new events wait in memory (oldest dropped beyond --log.elasticsearch.memory-queue-max-bytes) and are shipped from there; the spool is tried again every second",
        SpoolOperation.Sync => "written events are in the page cache but may not survive a power cut",
        SpoolOperation.Delete => "the file stays on disk and still counts against the spool cap",
        SpoolOperation.Cursor => "shipping goes on; after a restart the shipped events since the last saved cursor are sent again and answered 409, not stored twice",
        SpoolOperation.Read => "shipping from the spool waits and retries with backoff",
        _ => "the rejected document is counted but not kept",
    };
}
