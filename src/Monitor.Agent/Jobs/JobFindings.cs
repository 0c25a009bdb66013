namespace Monitor.Agent.Jobs;

/// <summary>
/// What one refresh of the job sources found: each job with its identity merged from every source that lists it, the
/// GPUs they name and which sources named it, and which sources failed. Pure: no I/O.
/// </summary>
internal sealed class JobFindings
{
    /// <summary>Job id → merged identity and every GPU reference the sources give.</summary>
    public Dictionary<string, (JobIdentity Identity, List<GpuRef> Gpus)> Found { get; } = new(StringComparer.Ordinal);

    /// <summary>Job id → the sources that list it.</summary>
    public Dictionary<string, List<string>> FoundBy { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Job id → the identity and GPU references of jobs the scheduler has ended (an end record, e.g. the Slurm
    /// epilog's), moved out of <see cref="Found"/> by <see cref="SeparateScheduledEnds"/>.
    /// </summary>
    public Dictionary<string, (JobIdentity Identity, List<GpuRef> Gpus)> Ended { get; } = new(StringComparer.Ordinal);

    /// <summary>The sources whose refresh failed this time.</summary>
    public HashSet<string> Failed { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds one source's result.</summary>
    public void Add(string source, JobSourceResult result)
    {
        if (result.Problem is not null)
        {
            Failed.Add(source);
        }

        foreach (var job in result.Jobs)
        {
            var id = job.Identity.JobId;
            Found[id] = Found.TryGetValue(id, out var seen)
                ? (seen.Identity.Merge(job.Identity), [.. seen.Gpus, .. job.Gpus])
                : (job.Identity, [.. job.Gpus]);
            (FoundBy.TryGetValue(id, out var by) ? by : FoundBy[id] = []).Add(source);
        }
    }

    /// <summary>
    /// A source that failed this time says nothing about its jobs: they keep running, on the GPUs they held, until it
    /// answers again. Otherwise one unreadable file or a kubelet restart would end every job it lists, and the next
    /// refresh would start them again with their counters at 0.
    /// </summary>
    public void KeepJobsOfFailedSources(IReadOnlyDictionary<string, TrackedJob> jobs)
    {
        if (Failed.Count == 0)
        {
            return;
        }

        foreach (var (id, job) in jobs)
        {
            if (job.End is null && !Found.ContainsKey(id) && job.Sources.Overlaps(Failed))
            {
                Found[id] = (job.Identity, [.. job.HeldGpus.Select(uuid => new GpuRef(uuid, null))]);
                FoundBy[id] = [.. job.Sources];
            }
        }
    }

    /// <summary>
    /// Moves the jobs whose merged identity carries a scheduled end to <see cref="Ended"/>: the scheduler's word wins
    /// over a source that still lists them (a cgroup being torn down, a mapping file not yet cleaned up).
    /// </summary>
    public void SeparateScheduledEnds()
    {
        foreach (var (id, entry) in Found.Where(f => f.Value.Identity.ScheduledEnd is not null).ToList())
        {
            Ended[id] = entry;
            Found.Remove(id);
            FoundBy.Remove(id);
        }
    }

    /// <summary>GPU UUID → the jobs the sources put on it, with the GPU references resolved through <paramref name="gpus"/>.</summary>
    public Dictionary<string, List<string>> Allocate(GpuIndex gpus)
    {
        var allocated = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (id, (_, refs)) in Found)
        {
            foreach (var reference in refs)
            {
                // Two sources naming the same GPU for a job (mapping and gpustat, say) make one holder, not two.
                if (gpus.Resolve(reference) is { } uuid
                    && (allocated.TryGetValue(uuid, out var holders) ? holders : allocated[uuid] = []) is var list && !list.Contains(id))
                {
                    list.Add(id);
                }
            }
        }

        return allocated;
    }
}
