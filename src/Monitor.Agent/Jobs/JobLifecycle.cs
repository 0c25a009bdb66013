using Microsoft.Extensions.Logging;
using Monitor.Agent.Jobs.Slurm;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Jobs;

/// <summary>
/// The lifecycle of the jobs on this node, without I/O: a job starts when a source (or a GPU process) first shows it,
/// runs while any source lists it or its processes run on a GPU, holds the GPUs the sources put it on, and ends when
/// neither does. Where the scheduler records the job's start and end (the Slurm prolog and epilog), those times win:
/// the job claims the GPU ticks since its real start (<see cref="JobIntegrator.Claim"/>), and it ends at the real end,
/// giving back the ticks it was credited after it (<see cref="JobIntegrator.Release"/>), even if it started and ended
/// between two refreshes, or another job started on its GPUs in between. A job restored from the ledger that is gone when the agent
/// comes back ends at the scheduler's end, or else at the checkpoint. An ended job stays in the store for
/// <paramref name="keepEnded"/> (its series' grace period); the ledger keeps it longer. The same id after its end (a
/// requeued job) is a new lifetime. Callers hold the <see cref="JobStore"/>'s lock around every call.
/// </summary>
internal sealed partial class JobLifecycle(ILogger logger, Func<string, string?> userName, TimeSpan? keepEnded = null)
{
    /// <summary>How long an ended job stays in the store by default.</summary>
    public static readonly TimeSpan History = TimeSpan.FromHours(1);

    private readonly HashSet<string> _seenByProcess = new(StringComparer.Ordinal);
    private readonly HashSet<string> _closed = new(StringComparer.Ordinal);
    private readonly TimeSpan _keepEnded = keepEnded ?? History;

    /// <summary>Ended jobs older than this are not the ledger's (they ended before it existed): not recorded.</summary>
    public DateTimeOffset RecordEndsSince { get; set; } = DateTimeOffset.MinValue;

    /// <summary>When the checkpoint restored jobs come from was written (their end if they are gone).</summary>
    public DateTimeOffset? CheckpointTime { get; set; }

    /// <summary>Marks a job as recorded (loaded from the ledger), so its scheduler end record does not create it again.</summary>
    public void Recorded(TrackedJob job) => _closed.Add(ClosedKey(job.Identity.JobId, job.Identity.ScheduledStart ?? job.Start));

    /// <summary>
    /// Applies one refresh of the sources: starts and updates the jobs found, moves the GPUs they hold, copies cgroup
    /// usage, ends the jobs the scheduler ended or no source lists any more (unless their processes ran on a GPU since
    /// the last refresh), records jobs the scheduler started and ended since the last refresh, and forgets ended jobs
    /// after their grace. Every job that ended goes to <paramref name="ended"/>, for the ledger.
    /// </summary>
    public void Apply(
        Dictionary<string, TrackedJob> jobs,
        JobFindings findings,
        IReadOnlyDictionary<string, List<string>> allocated,
        GpuIndex gpus,
        IReadOnlyDictionary<string, CgroupUsage>? usage,
        DateTimeOffset now,
        JobIntegrator? integrator = null,
        List<TrackedJob>? ended = null)
    {
        var found = findings.Found;
        foreach (var (id, (identity, _)) in found)
        {
            var named = Named(identity);
            if (jobs.TryGetValue(id, out var job) && job.End is null)
            {
                job.Identity = named.Merge(job.Identity);
                if (job.Restored)
                {
                    // Running when the agent went down and still running: the time it was down was not measured.
                    job.Restored = false;
                    job.UnobservedSeconds += Math.Max(0, (now - (CheckpointTime ?? now)).TotalSeconds);
                    job.Dirty = true;
                }
            }
            else
            {
                // New, or the same id again after it ended (a requeued job): a new lifetime.
                job = new TrackedJob(named, now);
                jobs[id] = job;
                LogJobStarted(logger, id, named.Scheduler, named.User ?? string.Empty);
            }

            if (findings.FoundBy.TryGetValue(id, out var sources))
            {
                job.Sources.Clear();
                job.Sources.UnionWith(sources);
            }
        }

        foreach (var id in _seenByProcess)
        {
            if (!found.ContainsKey(id) && jobs.TryGetValue(id, out var job) && job.End is null)
            {
                found[id] = (job.Identity, []);
            }
        }

        _seenByProcess.Clear();

        // Ends first: a job the scheduler ended since the last refresh was still counted as its GPUs' holder until
        // now. It gives those ticks back before any job that started there claims its gap.
        if (integrator is not null)
        {
            foreach (var job in jobs.Values)
            {
                if (job.End is null && findings.Ended.TryGetValue(job.Identity.JobId, out var record) && record.Identity.ScheduledEnd is { } end)
                {
                    integrator.Release(job, Max(end, job.Start));
                }
            }
        }

        foreach (var job in jobs.Values)
        {
            var id = job.Identity.JobId;
            if (job.End is not null)
            {
                continue;
            }

            job.HeldGpus.Clear();
            foreach (var (uuid, holders) in allocated)
            {
                if (holders.Contains(id))
                {
                    job.HeldGpus.Add(uuid);

                    // Its counters start at 0 in the same update as job_info and gpu_job_info, not a GPU tick later:
                    // a scrape never sees a running job on a GPU without its counters, and increase() sees the first
                    // second.
                    if (gpus.IndexOf(uuid) is { } index)
                    {
                        _ = job.Gpu(index, uuid);
                    }
                }
            }

            ScheduledStart(job, allocated, gpus, now, integrator);
            if (usage is not null && usage.TryGetValue(id, out var cgroup))
            {
                job.CpuSeconds = cgroup.CpuSeconds;
                job.MemoryBytes = cgroup.MemoryBytes;
                job.MemoryPeakBytes = double.IsNaN(cgroup.MemoryPeakBytes) ? Math.Max(job.MemoryPeakBytes is var p && double.IsNaN(p) ? 0 : p, cgroup.MemoryBytes) : cgroup.MemoryPeakBytes;

                // The denominators keep their last reading when a file cannot be read for a refresh; "no limit" is
                // a reading (the limit is unknown from then on).
                if (!double.IsNaN(cgroup.CpusAllocated))
                {
                    job.CpusAllocated = cgroup.CpusAllocated;
                }

                if (!double.IsNaN(cgroup.MemoryLimitBytes))
                {
                    job.MemoryLimitBytes = double.IsPositiveInfinity(cgroup.MemoryLimitBytes) ? double.NaN : cgroup.MemoryLimitBytes;
                }
                job.Dirty = true;
            }

            if (findings.Ended.TryGetValue(id, out var record) && record.Identity.ScheduledEnd is { } scheduledEnd)
            {
                job.Identity = Named(record.Identity).Merge(job.Identity);
                End(job, Max(scheduledEnd, job.Start), JobTimeSource.Scheduler, ended);
            }
            else if (!found.ContainsKey(id))
            {
                if (job.Restored && CheckpointTime is { } checkpoint)
                {
                    // Gone while the agent was down, with no end from the scheduler: it ended at the last checkpoint.
                    End(job, Max(checkpoint, job.Start), JobTimeSource.Checkpoint, ended);
                }
                else
                {
                    End(job, now, JobTimeSource.Agent, ended);
                }
            }
        }

        // Jobs the scheduler started and ended that the agent never saw running: between two refreshes, or while it was down.
        foreach (var (id, (identity, refs)) in findings.Ended)
        {
            if (identity.ScheduledEnd is not { } end || end < RecordEndsSince || _closed.Contains(ClosedKey(id, identity.ScheduledStart ?? end))
                || (jobs.TryGetValue(id, out var known) && (known.End is null || known.Identity.ScheduledEnd == end)))
            {
                continue;
            }

            var job = new TrackedJob(Named(identity), identity.ScheduledStart ?? end);
            jobs[id] = job;
            LogJobStarted(logger, id, identity.Scheduler, job.Identity.User ?? string.Empty);
            foreach (var reference in refs)
            {
                if (gpus.Resolve(reference) is { } uuid && gpus.IndexOf(uuid) is { } index)
                {
                    _ = job.Gpu(index, uuid);
                }
            }

            ScheduledStart(job, allocated, gpus, now, integrator);
            End(job, Max(end, job.Start), JobTimeSource.Scheduler, ended);
        }

        foreach (var id in jobs.Where(j => j.Value.End is { } end && now - end > _keepEnded).Select(j => j.Key).ToList())
        {
            jobs.Remove(id);
        }
    }

    /// <summary>
    /// The running job a GPU tick integrates for <paramref name="id"/>, or null. A job whose processes run on a GPU is
    /// alive whatever the sources say; one seen only through its processes (no source lists it) is tracked from now
    /// on; one a source allocated but the last refresh has not tracked yet starts at the next refresh.
    /// </summary>
    public TrackedJob? ForTick(Dictionary<string, TrackedJob> jobs, string id, bool hasProcesses, DateTimeOffset now)
    {
        if (hasProcesses)
        {
            _seenByProcess.Add(id);
        }

        if (jobs.TryGetValue(id, out var job) && job.End is null)
        {
            return job;
        }

        // Processes that outlive the job the scheduler ended (a CUDA context being torn down) are not a new lifetime.
        if (!hasProcesses || job?.EndSource == JobTimeSource.Scheduler)
        {
            return null;
        }

        job = new TrackedJob(new JobIdentity { JobId = id }, now);
        jobs[id] = job;
        LogJobStarted(logger, id, job.Identity.Scheduler, string.Empty);
        return job;
    }

    private JobIdentity Named(JobIdentity identity) =>
        identity.User is null && identity.Uid is { } uid ? identity with { User = userName(uid) } : identity;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static string ClosedKey(string id, DateTimeOffset start) => $"{id}\n{start.ToUnixTimeSeconds()}";

    /// <summary>
    /// The first time the scheduler's start is known: it becomes the job's start, and the job claims its GPUs'
    /// ticks from then to now that no job was credited with.
    /// </summary>
    private static void ScheduledStart(TrackedJob job, IReadOnlyDictionary<string, List<string>> allocated, GpuIndex gpus, DateTimeOffset now, JobIntegrator? integrator)
    {
        if (job.StartSource == JobTimeSource.Scheduler || job.Identity.ScheduledStart is not { } start || start > now)
        {
            return;
        }

        job.Start = start;
        job.StartSource = JobTimeSource.Scheduler;
        job.Dirty = true;
        if (integrator is null)
        {
            return;
        }

        var to = (job.Identity.ScheduledEnd ?? now).ToUnixTimeMilliseconds() / 1000.0;
        foreach (var usage in job.Gpus.Values)
        {
            // Jobs that start together on a shared GPU split the gap.
            var claimants = allocated.TryGetValue(usage.Uuid, out var holders) ? Math.Max(1, holders.Count) : 1;
            integrator.Claim(job, gpus.IndexOf(usage.Uuid) ?? usage.Index, usage.Uuid, start.ToUnixTimeMilliseconds() / 1000.0, to, claimants);
        }
    }

    private void End(TrackedJob job, DateTimeOffset end, JobTimeSource source, List<TrackedJob>? ended)
    {
        var id = job.Identity.JobId;
        job.End = end;
        job.EndSource = source;
        job.HeldGpus.Clear();
        job.Dirty = true;
        if (job.Restored)
        {
            // Ended while the agent was down: from the checkpoint to the end, nothing was measured.
            job.Restored = false;
            var unobserved = Math.Max(0, (end - (CheckpointTime ?? end)).TotalSeconds);
            job.UnobservedSeconds += unobserved;
            foreach (var usage in job.Gpus.Values.Where(u => u.Resumed))
            {
                usage.UnobservedSeconds += Math.Max(0, (end.ToUnixTimeMilliseconds() / 1000.0) - usage.LastTickUnix);
                usage.Resumed = false;
            }
        }

        _closed.Add(ClosedKey(id, job.Identity.ScheduledStart ?? job.Start));
        ended?.Add(job);
        LogJobEnded(
            logger, id, (end - job.Start).TotalSeconds, job.Gpus.Count, job.Gpus.Values.Sum(g => g.AllocatedSeconds), job.Gpus.Values.Sum(g => g.BusySeconds),
            job.Gpus.Values.Sum(g => g.EnergyJoules), job.Gpus.Values.Select(g => g.MemoryPeakBytes).DefaultIfEmpty(0).Max(), job.CpuSeconds, job.MemoryPeakBytes,
            job.Gpus.Values.Sum(g => g.XidErrors), job.Gpus.Values.Sum(g => g.EccErrors));
    }

    [LoggerMessage(EventId = EventIds.JobStarted, EventName = "job_started", Level = LogLevel.Information, Message = "Job {JobId} started on this node ({Scheduler}, user {User})")]
    private static partial void LogJobStarted(ILogger logger, string jobId, string scheduler, string user);

    [LoggerMessage(EventId = EventIds.JobEnded, EventName = "job_ended", Level = LogLevel.Information,
        Message = "Job {JobId} ended on this node after {Seconds} s: {Gpus} GPUs, {GpuSeconds} GPU-seconds allocated, {BusySeconds} busy, {EnergyJoules} J, GPU memory peak {GpuMemoryPeakBytes} B, CPU {CpuSeconds} s, memory peak {MemoryPeakBytes} B, {Xids} XIDs, {EccErrors} ECC errors")]
    private static partial void LogJobEnded(
        ILogger logger, string jobId, double seconds, int gpus, double gpuSeconds, double busySeconds, double energyJoules, double gpuMemoryPeakBytes,
        double cpuSeconds, double memoryPeakBytes, long xids, long eccErrors);
}
