using Microsoft.Extensions.Logging;
using Monitor.Agent.Jobs.Slurm;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Jobs;

/// <summary>
/// The lifecycle of the jobs on this node, without I/O: a job starts when a source (or a GPU process) first shows it,
/// runs while any source lists it or its processes run on a GPU, holds the GPUs the sources put it on, ends when
/// neither does, and is forgotten an hour after it ended. The same id after its end (a requeued job) is a new lifetime.
/// Callers hold the <see cref="JobStore"/>'s lock around every call.
/// </summary>
internal sealed partial class JobLifecycle(ILogger logger, Func<string, string?> userName)
{
    /// <summary>How long an ended job is kept (for /api/v1/jobs).</summary>
    public static readonly TimeSpan History = TimeSpan.FromHours(1);

    private readonly HashSet<string> _seenByProcess = new(StringComparer.Ordinal);

    /// <summary>
    /// Applies one refresh of the sources: starts and updates the jobs found, moves the GPUs they hold, copies cgroup
    /// usage, ends the jobs no longer found (unless their processes ran on a GPU since the last refresh) and forgets
    /// the ones that ended more than <see cref="History"/> ago.
    /// </summary>
    public void Apply(
        Dictionary<string, TrackedJob> jobs,
        JobFindings findings,
        IReadOnlyDictionary<string, List<string>> allocated,
        GpuIndex gpus,
        IReadOnlyDictionary<string, CgroupUsage>? usage,
        DateTimeOffset now)
    {
        var found = findings.Found;
        foreach (var (id, (identity, _)) in found)
        {
            var named = identity.User is null && identity.Uid is { } uid ? identity with { User = userName(uid) } : identity;
            if (jobs.TryGetValue(id, out var job) && job.End is null)
            {
                job.Identity = named.Merge(job.Identity);
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
        foreach (var job in jobs.Values)
        {
            var id = job.Identity.JobId;
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

            if (usage is not null && usage.TryGetValue(id, out var cgroup))
            {
                job.CpuSeconds = cgroup.CpuSeconds;
                job.MemoryBytes = cgroup.MemoryBytes;
                job.MemoryPeakBytes = double.IsNaN(cgroup.MemoryPeakBytes) ? Math.Max(job.MemoryPeakBytes is var p && double.IsNaN(p) ? 0 : p, cgroup.MemoryBytes) : cgroup.MemoryPeakBytes;
            }

            if (job.End is null && !found.ContainsKey(id))
            {
                job.End = now;
                job.HeldGpus.Clear();
                LogJobEnded(
                    logger, id, (now - job.Start).TotalSeconds, job.Gpus.Count, job.Gpus.Values.Sum(g => g.AllocatedSeconds), job.Gpus.Values.Sum(g => g.BusySeconds),
                    job.Gpus.Values.Sum(g => g.EnergyJoules), job.Gpus.Values.Select(g => g.MemoryPeakBytes).DefaultIfEmpty(0).Max(), job.CpuSeconds, job.MemoryPeakBytes,
                    job.Gpus.Values.Sum(g => g.XidErrors), job.Gpus.Values.Sum(g => g.EccErrors));
            }
        }

        foreach (var id in jobs.Where(j => j.Value.End is { } end && now - end > History).Select(j => j.Key).ToList())
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

        if (!hasProcesses)
        {
            return null;
        }

        job = new TrackedJob(new JobIdentity { JobId = id }, now);
        jobs[id] = job;
        LogJobStarted(logger, id, job.Identity.Scheduler, string.Empty);
        return job;
    }

    [LoggerMessage(EventId = EventIds.JobStarted, EventName = "job_started", Level = LogLevel.Information, Message = "Job {JobId} started on this node ({Scheduler}, user {User})")]
    private static partial void LogJobStarted(ILogger logger, string jobId, string scheduler, string user);

    [LoggerMessage(EventId = EventIds.JobEnded, EventName = "job_ended", Level = LogLevel.Information,
        Message = "Job {JobId} ended on this node after {Seconds} s: {Gpus} GPUs, {GpuSeconds} GPU-seconds allocated, {BusySeconds} busy, {EnergyJoules} J, GPU memory peak {GpuMemoryPeakBytes} B, CPU {CpuSeconds} s, memory peak {MemoryPeakBytes} B, {Xids} XIDs, {EccErrors} ECC errors")]
    private static partial void LogJobEnded(
        ILogger logger, string jobId, double seconds, int gpus, double gpuSeconds, double busySeconds, double energyJoules, double gpuMemoryPeakBytes,
        double cpuSeconds, double memoryPeakBytes, long xids, long eccErrors);
}
