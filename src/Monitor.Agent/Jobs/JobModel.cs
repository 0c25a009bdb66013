namespace Monitor.Agent.Jobs;

/// <summary>
/// Who a job is, as far as the sources know: one model for Slurm (job id, array job and task, SLUID, user, account,
/// partition) and Kubernetes (namespace, pod, pod uid, containers). Fields a source does not know stay null.
/// </summary>
internal sealed record JobIdentity
{
    /// <summary>
    /// The job's key: Slurm's job id ("1234"; array tasks keep their own job id, with <see cref="ArrayJobId"/> and
    /// <see cref="ArrayTaskId"/> set), or "&lt;namespace&gt;/&lt;pod&gt;" for a Kubernetes pod.
    /// </summary>
    public required string JobId { get; init; }

    /// <summary>"slurm" or "kubernetes".</summary>
    public string Scheduler { get; init; } = "slurm";

    /// <summary>User name.</summary>
    public string? User { get; init; }

    /// <summary>Numeric user id.</summary>
    public string? Uid { get; init; }

    /// <summary>Slurm account.</summary>
    public string? Account { get; init; }

    /// <summary>Slurm partition.</summary>
    public string? Partition { get; init; }

    /// <summary>Slurm array job id (SLURM_ARRAY_JOB_ID).</summary>
    public string? ArrayJobId { get; init; }

    /// <summary>Slurm array task id (SLURM_ARRAY_TASK_ID).</summary>
    public string? ArrayTaskId { get; init; }

    /// <summary>Slurm 26.05 job SLUID, when the job's cgroup is named by it.</summary>
    public string? Sluid { get; init; }

    /// <summary>Kubernetes namespace.</summary>
    public string? Namespace { get; init; }

    /// <summary>Kubernetes pod name.</summary>
    public string? Pod { get; init; }

    /// <summary>Kubernetes pod uid.</summary>
    public string? PodUid { get; init; }

    /// <summary>Kubernetes containers of the pod that hold GPUs.</summary>
    public IReadOnlyList<string> Containers { get; init; } = [];

    /// <summary>
    /// When the scheduler started the job (Slurm: the prolog's <c>start=</c>, SLURM_JOB_START_TIME where Slurm sets
    /// it), or null when no source knows. It wins over the time the agent first saw the job.
    /// </summary>
    public DateTimeOffset? ScheduledStart { get; init; }

    /// <summary>
    /// When the scheduler ended the job (Slurm: the epilog's <c>end=</c>), or null while it runs or when no source
    /// knows. A job with an end is over, whatever other sources still list it.
    /// </summary>
    public DateTimeOffset? ScheduledEnd { get; init; }

    /// <summary>Fills the fields this identity lacks from <paramref name="other"/> (same job seen by two sources).</summary>
    public JobIdentity Merge(JobIdentity other) => this with
    {
        User = User ?? other.User,
        Uid = Uid ?? other.Uid,
        Account = Account ?? other.Account,
        Partition = Partition ?? other.Partition,
        ArrayJobId = ArrayJobId ?? other.ArrayJobId,
        ArrayTaskId = ArrayTaskId ?? other.ArrayTaskId,
        Sluid = Sluid ?? other.Sluid,
        Namespace = Namespace ?? other.Namespace,
        Pod = Pod ?? other.Pod,
        PodUid = PodUid ?? other.PodUid,
        Containers = Containers.Count > 0 ? Containers : other.Containers,
        ScheduledStart = ScheduledStart ?? other.ScheduledStart,
        ScheduledEnd = ScheduledEnd ?? other.ScheduledEnd,
    };
}

/// <summary>
/// A GPU a source assigns to a job: by UUID ("GPU-…" or "MIG-…"), or by NVML index with an optional MIG GPU instance
/// id. <paramref name="Share"/> is the time-slicing replica ("GPU-…::2" in Kubernetes), null for a whole GPU.
/// </summary>
internal readonly record struct GpuRef(string? Uuid, int? Index, uint? GpuInstance = null, string? Share = null);

/// <summary>One job and the GPUs a source says it holds (empty for a CPU-only job).</summary>
internal sealed record JobAssignment(JobIdentity Identity, IReadOnlyList<GpuRef> Gpus);

/// <summary>What one refresh of a source found; <paramref name="Problem"/> is null when the source is healthy.</summary>
internal sealed record JobSourceResult(IReadOnlyList<JobAssignment> Jobs, string? Problem)
{
    /// <summary>Whether the refresh worked.</summary>
    public bool Healthy => Problem is null;

    /// <summary>A failed refresh: no jobs, and why.</summary>
    public static JobSourceResult Failed(string problem) => new([], problem);
}

/// <summary>
/// A source of job ↔ GPU assignments, refreshed in the background (never per scrape). A refresh never throws for
/// bad input: it reports a problem, which the jobs collector exports as that source's health.
/// </summary>
internal interface IJobSource
{
    /// <summary>Label value for the source-health series, e.g. "slurm_mapping", "kubernetes".</summary>
    string Name { get; }

    /// <summary>Reads the source once.</summary>
    ValueTask<JobSourceResult> RefreshAsync(CancellationToken cancellationToken);
}
