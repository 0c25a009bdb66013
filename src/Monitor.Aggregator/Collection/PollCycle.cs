using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Monitor.Aggregator.Storage;
using Prometheus;

namespace Monitor.Aggregator.Collection;

/// <summary>
/// Polls every target every <c>--poll.interval</c>, at most <c>--poll.concurrency</c> at once, each within
/// <c>--poll.timeout</c>. A target that fails is retried at the next cycles with exponential backoff (one cycle,
/// then two, four... at most 10 minutes), and its health is a metric. One failure is logged when it starts and one
/// line when the target recovers, never one per cycle. With <c>--shard=i/N</c> it polls only its share of the targets;
/// with <c>--ha.standby</c> only while it holds the leader lock. After the polls, it finalizes the jobs of nodes
/// unreachable for longer than <c>--jobs.incomplete-after</c>, writes finished Slurm jobs' AdminComments
/// (<c>--slurm.admin-comment</c>), once an hour deletes records older than <c>--storage.retention</c>, and evaluates
/// the job alert rules and pushes their alerts (<c>--alertmanager.url</c>).
/// </summary>
internal sealed partial class PollCycle(
    TargetList targets,
    TargetPoller poller,
    JobStore store,
    AggregatorOptions options,
    TimeProvider time,
    ILogger<PollCycle> logger,
    LeaderLock? leader = null,
    Slurm.AdminComments? comments = null,
    Alerting.RunningJobs? running = null,
    Alerting.JobAlerter? alerter = null)
{
    private static readonly Gauge TargetUp = Metrics.CreateGauge("monitor_aggregator_target_up", "Whether the target's last poll worked (1) or not (0).", "target");
    private static readonly Gauge PollSeconds = Metrics.CreateGauge("monitor_aggregator_target_poll_seconds", "How long the target's last poll took.", "target");
    private static readonly Counter Records = Metrics.CreateCounter("monitor_aggregator_records_stored_total", "Job records that changed the store.");
    private static readonly Gauge CycleSeconds = Metrics.CreateGauge("monitor_aggregator_cycle_seconds", "How long the last poll cycle took, all targets.");
    private static readonly Gauge Targets = Metrics.CreateGauge("monitor_aggregator_targets", "Targets this replica polls (its shard of every target known).");
    private static readonly Gauge Behind = Metrics.CreateGauge("monitor_aggregator_targets_behind", "Targets whose last poll stopped at 100 answers with more records to read (they catch up over the next cycles).");
    private static readonly Gauge Leader = Metrics.CreateGauge("monitor_aggregator_leader", "Whether this replica polls (1) or stands by (0, --ha.standby without the lock).");
    private static readonly Counter Incomplete = Metrics.CreateCounter("monitor_aggregator_records_incomplete_total", "Running node records finalized incomplete because their node was unreachable for --jobs.incomplete-after.");
    private static readonly Counter Expired = Metrics.CreateCounter("monitor_aggregator_records_expired_total", "Ended node records deleted by --storage.retention.");

    private static readonly Gauge SourceUp = Metrics.CreateGauge("monitor_aggregator_target_source_up", "Whether a target source (a --targets.file, or --targets.slurm) was read at the last cycle (1) or its last good targets are used (0).", "source");
    private readonly Dictionary<string, string?> _sourceProblems = new(StringComparer.Ordinal);
    private DateTimeOffset _nextRetention = DateTimeOffset.MinValue;
    private bool _led;

    private readonly Dictionary<string, (int Failures, DateTimeOffset Next, string? Problem)> _health = new(StringComparer.Ordinal);

    /// <summary>One cycle: polls every target that is due. Returns each poll's result.</summary>
    public async Task<IReadOnlyList<PollResult>> RunOnceAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var now = time.GetUtcNow();
        if (leader is not null && !leader.TryLead())
        {
            Leader.Set(0);
            _led = false;
            return [];
        }

        if (!_led)
        {
            // Leading from now on (at start, or taking over from another replica): the alerts start from the store.
            alerter?.Reset();
            _led = true;
        }

        alerter?.Load(now);

        Leader.Set(1);
        var current = targets.Current().Where(options.Shard.Owns).ToList();
        ReportSources();
        Targets.Set(current.Count);
        using var slots = new SemaphoreSlim(options.PollConcurrency);
        var due = current.Where(t => !_health.TryGetValue(t, out var h) || h.Next <= now).ToList();
        var results = await Task.WhenAll(due.Select(async target =>
        {
            await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var began = Stopwatch.GetTimestamp();
                var result = await poller.PollAsync(target, options.PollTimeout, cancellationToken).ConfigureAwait(false);
                PollSeconds.WithLabels(target).Set(Stopwatch.GetElapsedTime(began).TotalSeconds);
                return result;
            }
            finally
            {
                slots.Release();
            }
        })).ConfigureAwait(false);

        foreach (var result in results)
        {
            Record(result, now);
        }

        Behind.Set(results.Count(r => r.Behind));

        Maintain(now);
        if (alerter is not null)
        {
            running?.Forget(now - options.IncompleteAfter);
            await alerter.RunAsync(time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }

        CycleSeconds.Set(Stopwatch.GetElapsedTime(started).TotalSeconds);
        return results;
    }

    /// <summary>Runs cycles until <paramref name="stoppingToken"/> fires.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.PollInterval, time);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The store failed (a full disk, say): the cycle is lost, the cursors stay, the next cycle tries again.
                LogCycleFailed(logger, e.Message, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>A target source (a file_sd file, Slurm) that fails is logged once per distinct problem and is a metric.</summary>
    private void ReportSources()
    {
        foreach (var source in targets.Sources)
        {
            var problem = targets.Problems.GetValueOrDefault(source);
            SourceUp.WithLabels(source).Set(problem is null ? 1 : 0);
            if (problem is not null && _sourceProblems.GetValueOrDefault(source) != problem)
            {
                LogSourceFailed(logger, source, problem);
            }

            _sourceProblems[source] = problem;
        }
    }

    private void Maintain(DateTimeOffset now)
    {
        var incomplete = store.FinalizeUnreachable(now, options.IncompleteAfter);
        if (incomplete > 0)
        {
            Incomplete.Inc(incomplete);
            LogIncomplete(logger, incomplete, options.IncompleteAfter.TotalHours);
        }

        comments?.WriteDue(now);
        if (now >= _nextRetention)
        {
            _nextRetention = now + TimeSpan.FromHours(1);
            Expired.Inc(store.DeleteEndedBefore(now - options.Retention));
        }
    }

    private void Record(PollResult result, DateTimeOffset now)
    {
        Records.Inc(result.Records);
        TargetUp.WithLabels(result.Target).Set(result.Ok ? 1 : 0);
        var had = _health.TryGetValue(result.Target, out var health);
        if (result.Ok)
        {
            running?.Polled(result.Target, now);
            if (had && health.Failures > 0)
            {
                LogRecovered(logger, result.Target, health.Failures);
            }

            _health[result.Target] = (0, now, null);
            if (result.Truncated)
            {
                LogTruncated(logger, result.Target);
            }

            return;
        }

        var failures = (had ? health.Failures : 0) + 1;
        var backoff = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(10).Ticks, options.PollInterval.Ticks * (1L << Math.Min(failures - 1, 20))));
        if (failures == 1)
        {
            LogFailed(logger, result.Target, result.Problem ?? "unknown");
        }

        // Half an interval early, so the cycle that falls due 2^(failures-1) intervals from now polls it.
        _health[result.Target] = (failures, now + backoff - (options.PollInterval / 2), result.Problem);
    }

    [LoggerMessage(EventId = 5000, EventName = "target_failed", Level = LogLevel.Warning, Message = "Target {Target} failed (monitor_aggregator_target_up 0; retried with backoff): {Problem}")]
    private static partial void LogFailed(ILogger logger, string target, string problem);

    [LoggerMessage(EventId = 5001, EventName = "target_recovered", Level = LogLevel.Information, Message = "Target {Target} answers again after {Failures} failed polls")]
    private static partial void LogRecovered(ILogger logger, string target, int failures);

    [LoggerMessage(EventId = 5002, EventName = "target_truncated", Level = LogLevel.Warning, Message = "Target {Target}: the stored cursor was older than the agent's retention; ended jobs may be missing")]
    private static partial void LogTruncated(ILogger logger, string target);

    [LoggerMessage(EventId = 5004, EventName = "records_incomplete", Level = LogLevel.Warning, Message = "{Count} running job records finalized incomplete: their nodes have not answered for {Hours} h (--jobs.incomplete-after)")]
    private static partial void LogIncomplete(ILogger logger, int count, double hours);

    [LoggerMessage(EventId = 5005, EventName = "target_source_failed", Level = LogLevel.Warning, Message = "Targets from {Source} could not be read; its last good targets are polled: {Problem}")]
    private static partial void LogSourceFailed(ILogger logger, string source, string problem);

    [LoggerMessage(EventId = 5003, EventName = "cycle_failed", Level = LogLevel.Error, Message = "A poll cycle failed: {Problem}")]
    private static partial void LogCycleFailed(ILogger logger, string problem, Exception exception);
}
