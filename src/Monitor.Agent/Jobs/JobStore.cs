namespace Monitor.Agent.Jobs;

/// <summary>One job's usage of one GPU on this node. Every counter only rises while the job lives.</summary>
internal sealed class JobGpuUsage(int index, string uuid)
{
    /// <summary>NVML index of the GPU.</summary>
    public int Index { get; set; } = index;

    /// <summary>GPU UUID.</summary>
    public string Uuid { get; } = uuid;

    /// <summary>Seconds the job held the GPU, split equally between the jobs holding it at once.</summary>
    public double AllocatedSeconds { get; set; }

    /// <summary>Utilization × seconds, the job's share by its processes' SM utilization.</summary>
    public double BusySeconds { get; set; }

    /// <summary>Joules from the energy counter's deltas, the job's share by the same weight.</summary>
    public double EnergyJoules { get; set; }

    /// <summary>Seconds of tensor-pipe activity (GPM, Hopper+), the job's share.</summary>
    public double TensorActiveSeconds { get; set; }

    /// <summary>Seconds of SM activity (GPM, Hopper+), the job's share.</summary>
    public double SmActiveSeconds { get; set; }

    /// <summary>Highest GPU memory the job's processes held on this GPU (bytes).</summary>
    public double MemoryPeakBytes { get; set; }

    /// <summary>
    /// The GPU's total memory as NVML reports it (bytes; the whole GPU, also when the job holds a MIG instance of it),
    /// from the last tick credited to the job; NaN until one reports it (and for records of ledger format 1).
    /// </summary>
    public double MemoryTotalBytes { get; set; } = double.NaN;

    /// <summary>
    /// The highest utilization of any one GPU tick credited to the job (busy over held, as the mean is), so a report
    /// can give the peak beside the exact mean; NaN until a tick measured it (and for records from before the field).
    /// </summary>
    public double UtilizationPeak { get; set; } = double.NaN;

    /// <summary>
    /// The GPU memory the job held at its last credited tick (bytes; as <see cref="MemoryPeakBytes"/> counts it); NaN
    /// before the first tick and after a restart. A gauge for the aggregator's memory alert: not in the ledger.
    /// </summary>
    public double MemoryUsedBytes { get; set; } = double.NaN;

    /// <summary>
    /// The code of the last XID on the GPU while the job held it; 0 when none, and after a restart (not in the ledger:
    /// the count, <see cref="XidErrors"/>, is). The aggregator routes its alert by it.
    /// </summary>
    public uint LastXid { get; set; }

    /// <summary>XID errors on the GPU while the job held it.</summary>
    public long XidErrors { get; set; }

    /// <summary>ECC errors (volatile, corrected and uncorrected) on the GPU while the job held it.</summary>
    public long EccErrors { get; set; }

    /// <summary>Seconds the job held the GPU while the agent could not measure it (it was down); not in the counters above.</summary>
    public double UnobservedSeconds { get; set; }

    /// <summary>Unix time of the end of the last tick credited to the job on this GPU; 0 before the first.</summary>
    public double LastTickUnix { get; set; }

    /// <summary>Restored from the ledger: the first tick credited after the restart records the gap since <see cref="LastTickUnix"/> as unobserved.</summary>
    public bool Resumed { get; set; }
}

/// <summary>Where a job's start or end time comes from.</summary>
internal enum JobTimeSource : byte
{
    /// <summary>When the agent saw the job appear or go (exact to the refresh interval).</summary>
    Agent,

    /// <summary>The scheduler's own record (the Slurm prolog's start, the epilog's end).</summary>
    Scheduler,

    /// <summary>The ledger's last checkpoint before a restart: the job was gone when the agent came back.</summary>
    Checkpoint,
}

/// <summary>A job the agent tracks on this node: identity, lifetime, per-GPU usage and cgroup usage.</summary>
internal sealed class TrackedJob(JobIdentity identity, DateTimeOffset start)
{
    /// <summary>Who the job is (merged from every source that reports it).</summary>
    public JobIdentity Identity { get; set; } = identity;

    /// <summary>
    /// When the job started: the scheduler's start when known, else when the agent first saw it. Whole milliseconds,
    /// as the ledger stores it, so a record reads the same before and after a restart.
    /// </summary>
    public DateTimeOffset Start
    {
        get;
        set => field = DateTimeOffset.FromUnixTimeMilliseconds(value.ToUnixTimeMilliseconds());
    } = DateTimeOffset.FromUnixTimeMilliseconds(start.ToUnixTimeMilliseconds());

    /// <summary>Where <see cref="Start"/> comes from.</summary>
    public JobTimeSource StartSource { get; set; }

    /// <summary>When the job ended (whole milliseconds); null while it runs.</summary>
    public DateTimeOffset? End
    {
        get;
        set => field = value is { } end ? DateTimeOffset.FromUnixTimeMilliseconds(end.ToUnixTimeMilliseconds()) : null;
    }

    /// <summary>Where <see cref="End"/> comes from.</summary>
    public JobTimeSource EndSource { get; set; }

    /// <summary>
    /// The ledger revision of the record's last change (0 until the first refresh that records it). Revisions only
    /// grow, across restarts too; the jobs feed (<c>/api/v1/jobs?since=</c>) returns records by it.
    /// </summary>
    public long Revision { get; set; }

    /// <summary>Changed since its last revision (a tick credited it, or the lifecycle changed it).</summary>
    public bool Dirty { get; set; } = true;

    /// <summary>Restored from the ledger and not yet confirmed by a refresh of the sources.</summary>
    public bool Restored { get; set; }

    /// <summary>Seconds of the job's life the agent did not observe (it was down), whatever the GPUs.</summary>
    public double UnobservedSeconds { get; set; }

    /// <summary>
    /// The record as of its last durable revision: what the series and /api/v1/jobs show, so a reader never sees a
    /// value a crash could take back. Null until the first checkpoint that holds the job.
    /// </summary>
    public TrackedJob? Published { get; set; }

    /// <summary>
    /// Makes <see cref="Published"/> a copy of the record as it is now, reusing the previous copy's objects (a running
    /// job is published at every refresh). A reader holds the store's lock, so it never sees a copy half made.
    /// </summary>
    public void Publish() => Published = CopyTo(Published is { End: null } previous && End is null ? previous : new TrackedJob(Identity, Start));

    private TrackedJob CopyTo(TrackedJob copy)
    {
        copy.Identity = Identity;
        copy.Start = Start;
        (copy.StartSource, copy.End, copy.EndSource, copy.Revision, copy.Dirty, copy.UnobservedSeconds) = (StartSource, End, EndSource, Revision, false, UnobservedSeconds);
        (copy.CpuSeconds, copy.MemoryBytes, copy.MemoryPeakBytes) = (CpuSeconds, MemoryBytes, MemoryPeakBytes);
        (copy.CpusAllocated, copy.MemoryLimitBytes, copy.CpuEnergyJoules) = (CpusAllocated, MemoryLimitBytes, CpuEnergyJoules);
        copy.Sources.Clear();
        copy.Sources.UnionWith(Sources);
        copy.HeldGpus.Clear();
        copy.HeldGpus.UnionWith(HeldGpus);
        foreach (var (uuid, usage) in Gpus)
        {
            var to = copy.Gpu(usage.Index, uuid);
            to.Index = usage.Index;
            (to.AllocatedSeconds, to.BusySeconds, to.EnergyJoules, to.TensorActiveSeconds, to.SmActiveSeconds) =
                (usage.AllocatedSeconds, usage.BusySeconds, usage.EnergyJoules, usage.TensorActiveSeconds, usage.SmActiveSeconds);
            (to.MemoryPeakBytes, to.XidErrors, to.EccErrors, to.UnobservedSeconds, to.LastTickUnix, to.MemoryTotalBytes, to.UtilizationPeak) =
                (usage.MemoryPeakBytes, usage.XidErrors, usage.EccErrors, usage.UnobservedSeconds, usage.LastTickUnix, usage.MemoryTotalBytes, usage.UtilizationPeak);
            to.MemoryUsedBytes = usage.MemoryUsedBytes;
            to.LastXid = usage.LastXid;
        }

        return copy;
    }

    /// <summary>Per GPU (by UUID) usage, including GPUs the job no longer holds.</summary>
    public Dictionary<string, JobGpuUsage> Gpus { get; } = new(StringComparer.Ordinal);

    /// <summary>The sources that listed the job at the last refresh where one did (a failing one keeps it running).</summary>
    public HashSet<string> Sources { get; } = new(StringComparer.Ordinal);

    /// <summary>UUIDs of the GPUs the job holds now (from the sources and its processes).</summary>
    public HashSet<string> HeldGpus { get; } = new(StringComparer.Ordinal);

    /// <summary>CPU seconds from the job's cgroup; NaN when unknown.</summary>
    public double CpuSeconds { get; set; } = double.NaN;

    /// <summary>Current memory of the job's cgroup (bytes); NaN when unknown.</summary>
    public double MemoryBytes { get; set; } = double.NaN;

    /// <summary>Peak memory of the job's cgroup (bytes); NaN when unknown.</summary>
    public double MemoryPeakBytes { get; set; } = double.NaN;

    /// <summary>
    /// CPUs (hardware threads) in the effective cpuset of the job's cgroup, as last read; NaN when never read. Kept
    /// when the cgroup goes (the job ended).
    /// </summary>
    public double CpusAllocated { get; set; } = double.NaN;

    /// <summary>
    /// The memory limit of the job's cgroup (bytes), as last read; NaN when never read or when the cgroup has no
    /// limit. Kept when the cgroup goes (the job ended).
    /// </summary>
    public double MemoryLimitBytes { get; set; } = double.NaN;

    /// <summary>
    /// CPU energy (RAPL package and DRAM, joules) of the intervals in which the job was the only one running on the
    /// node and its cpuset held every online CPU; NaN when no such interval was measured (docs/jobs.md, "CPU energy").
    /// </summary>
    public double CpuEnergyJoules { get; set; } = double.NaN;

    /// <summary>Usage of GPU <paramref name="uuid"/>, created on first use.</summary>
    public JobGpuUsage Gpu(int index, string uuid)
    {
        if (!Gpus.TryGetValue(uuid, out var usage))
        {
            usage = new JobGpuUsage(index, uuid);
            Gpus[uuid] = usage;
        }

        return usage;
    }
}

/// <summary>
/// The jobs of this node: the jobs collector writes them (refreshes and GPU ticks), the web host reads them
/// (/api/v1/jobs). Every access goes through <see cref="Read{T}"/> or <see cref="Write"/>, under one lock.
/// </summary>
internal sealed class JobStore : IGpuHolders
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, TrackedJob> _jobs = new(StringComparer.Ordinal);

    private IReadOnlyDictionary<string, JobIdentity[]> _holders = new Dictionary<string, JobIdentity[]>(StringComparer.Ordinal);

    /// <summary>GPU UUID → the running jobs holding it, as of the last refresh (for dcgm compatibility labels).</summary>
    public IReadOnlyDictionary<string, JobIdentity[]> Holders
    {
        get => Volatile.Read(ref _holders);
        set => Volatile.Write(ref _holders, value);
    }

    /// <inheritdoc/>
    public ReadOnlySpan<JobIdentity> HoldersOf(string uuid) => Holders.TryGetValue(uuid, out var holders) ? holders : [];

    /// <summary>Whether a jobs collector maintains this store (the API answers 404 otherwise).</summary>
    public bool Enabled { get; set; }

    /// <summary>The durable ledger behind the store: ended jobs, revisions, the feed's cursor.</summary>
    public Ledger.JobLedger? Ledger { get; set; }

    /// <summary>The highest revision a feed reader has acknowledged (asked for changes since); null before any.</summary>
    public long? Acknowledged { get; set; }

    /// <summary>Runs <paramref name="action"/> with the jobs, under the lock.</summary>
    public void Write(Action<Dictionary<string, TrackedJob>> action)
    {
        lock (_gate)
        {
            action(_jobs);
        }
    }

    /// <summary>Reads the jobs under the lock.</summary>
    public T Read<T>(Func<IReadOnlyDictionary<string, TrackedJob>, T> read)
    {
        lock (_gate)
        {
            return read(_jobs);
        }
    }
}
