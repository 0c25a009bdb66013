namespace Monitor.Contracts;

/// <summary>
/// One job on one node as the agent's jobs feed gives it (<c>GET /api/v1/jobs</c>, docs/api.md): identity, times and
/// their sources, cgroup usage and per-GPU counters, cumulative since the job started on that node. A record is
/// identified by (<see cref="JobId"/>, <see cref="Start"/>); <see cref="Revision"/> orders its versions.
/// </summary>
public sealed record NodeJobRecord
{
    /// <summary>Slurm's job id, or "namespace/pod".</summary>
    public required string JobId { get; init; }

    /// <summary>The ledger revision of this version of the record.</summary>
    public required long Revision { get; init; }

    /// <summary>"slurm" or "kubernetes".</summary>
    public required string Scheduler { get; init; }

    /// <summary>"running" or "ended"; in the aggregator's store also "incomplete" (its node stopped answering while it ran).</summary>
    public required string State { get; init; }

    /// <summary>User name, when known.</summary>
    public string? User { get; init; }

    /// <summary>Numeric user id, when known.</summary>
    public string? Uid { get; init; }

    /// <summary>Slurm account.</summary>
    public string? Account { get; init; }

    /// <summary>Slurm partition.</summary>
    public string? Partition { get; init; }

    /// <summary>Kubernetes namespace.</summary>
    public string? Namespace { get; init; }

    /// <summary>Kubernetes pod.</summary>
    public string? Pod { get; init; }

    /// <summary>When the job started on this node.</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>"scheduler" or "agent".</summary>
    public string StartSource { get; init; } = "agent";

    /// <summary>When it ended; null while it runs.</summary>
    public DateTimeOffset? End { get; init; }

    /// <summary>"scheduler", "agent" or "checkpoint"; null while it runs.</summary>
    public string? EndSource { get; init; }

    /// <summary>Seconds the agent did not observe (it was down).</summary>
    public double UnobservedSeconds { get; init; }

    /// <summary>CPU seconds of the job's cgroup; null when unknown.</summary>
    public double? CpuSeconds { get; init; }

    /// <summary>Memory of the job's cgroup now (bytes); null when unknown.</summary>
    public double? MemoryBytes { get; init; }

    /// <summary>Peak memory of the job's cgroup (bytes); null when unknown.</summary>
    public double? MemoryPeakBytes { get; init; }

    /// <summary>
    /// CPUs (hardware threads) in the effective cpuset of the job's cgroup, as last read (kept after the job ends); null
    /// when unknown: no cgroup read (Kubernetes, a job seen only through its processes), no cpuset controller, or an
    /// agent or ledger record older than the field. The denominator of CPU efficiency,
    /// <see cref="CpuSeconds"/> / (<see cref="CpusAllocated"/> × wall seconds).
    /// </summary>
    public double? CpusAllocated { get; init; }

    /// <summary>
    /// The memory limit of the job's cgroup (bytes), as last read (kept after the job ends); null when the cgroup has
    /// no limit or it is unknown, as for <see cref="CpusAllocated"/>. With Slurm's ConstrainRAMSpace it is the job's
    /// memory request on the node (× AllowedRAMSpace %).
    /// </summary>
    public double? MemoryLimitBytes { get; init; }

    /// <summary>
    /// CPU package and DRAM energy (RAPL, joules) over the intervals in which the job was alone on the node and held
    /// every online CPU; null when no such interval was measured (a shared node, no RAPL, an agent not running as root,
    /// an older agent).
    /// </summary>
    public double? CpuEnergyJoules { get; init; }

    /// <summary>Every GPU the job used on this node.</summary>
    public IReadOnlyList<NodeJobGpu> Gpus { get; init; } = [];

    /// <summary>Whether the job has ended on this node.</summary>
    public bool Ended => State == "ended";
}

/// <summary>One job's usage of one GPU on one node (cumulative).</summary>
public sealed record NodeJobGpu
{
    /// <summary>NVML index.</summary>
    public required int Index { get; init; }

    /// <summary>GPU UUID.</summary>
    public required string Uuid { get; init; }

    /// <summary>Whether the job holds it now.</summary>
    public bool Held { get; init; }

    /// <summary>Seconds the job held the GPU (its share when shared).</summary>
    public double AllocatedSeconds { get; init; }

    /// <summary>Utilization × seconds, the job's share.</summary>
    public double BusySeconds { get; init; }

    /// <summary>Joules, the job's share.</summary>
    public double EnergyJoules { get; init; }

    /// <summary>Tensor-pipe active seconds (Hopper+).</summary>
    public double TensorActiveSeconds { get; init; }

    /// <summary>SM active seconds (Hopper+).</summary>
    public double SmActiveSeconds { get; init; }

    /// <summary>The most GPU memory the job's processes held (bytes).</summary>
    public double MemoryPeakBytes { get; init; }

    /// <summary>
    /// The GPU's total memory as NVML reports it (bytes; the whole GPU, also for a job on one of its MIG instances);
    /// null when unknown (no tick credited the job since an agent that reports it, or a record older than the field).
    /// Null rather than 0, so that no ratio against it is ever taken by mistake.
    /// </summary>
    public double? MemoryTotalBytes { get; init; }

    /// <summary>
    /// The highest utilization of any one agent tick the job held the GPU (busy over held seconds, as the mean is: on a
    /// shared GPU the heavier job's can pass 1); null when
    /// unknown (a record older than the field). The mean is <see cref="BusySeconds"/> over <see cref="AllocatedSeconds"/>.
    /// </summary>
    public double? UtilizationPeak { get; init; }

    /// <summary>
    /// The GPU memory the job holds now (bytes; its processes' memory, or the GPU's used memory for a sole holder
    /// without a process list), as of the agent's last tick; null when unknown (the job no longer holds the GPU, the
    /// agent restarted since its last tick, or a record older than the field). A gauge, not kept in the agent's
    /// ledger: the aggregator's GPU-memory alert reads it.
    /// </summary>
    public double? MemoryUsedBytes { get; init; }

    /// <summary>XID errors while the job held the GPU.</summary>
    public long XidErrors { get; init; }

    /// <summary>
    /// The code of the last of those XIDs; null when none, or unknown (an agent restart since, or a record older than
    /// the field: the agent's ledger keeps the count, not the code).
    /// </summary>
    public long? LastXid { get; init; }

    /// <summary>ECC errors while the job held the GPU.</summary>
    public long EccErrors { get; init; }

    /// <summary>Seconds held while the agent was down.</summary>
    public double UnobservedSeconds { get; init; }
}

/// <summary>One answer of the jobs feed.</summary>
/// <param name="Node">The agent's host name.</param>
/// <param name="Cursor">Where the next poll starts (null from an agent without a ledger).</param>
/// <param name="More">The answer was cut by <c>limit</c>: poll again at once.</param>
/// <param name="Truncated">The cursor was older than the node's retention: ended jobs may have been missed.</param>
/// <param name="Reset">The cursor was another ledger's: the node's records start over.</param>
/// <param name="Jobs">The records, in revision order.</param>
public sealed record JobsFeedPage(string Node, string? Cursor, bool More, bool Truncated, bool Reset, IReadOnlyList<NodeJobRecord> Jobs);
