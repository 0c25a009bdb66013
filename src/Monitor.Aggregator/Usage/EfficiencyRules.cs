using System.Globalization;

namespace Monitor.Aggregator.Usage;

/// <summary>What the efficiency rules look at: one job's run time and its GPUs, on every node.</summary>
/// <param name="RuntimeSeconds">From the earliest start to the last end (or now while it runs).</param>
/// <param name="Gpus">Every GPU the job used, with its counters (the job's share where it was shared).</param>
/// <param name="UnobservedSeconds">The most time any node did not measure (its agent was down).</param>
/// <param name="Nodes">Each node's CPU and memory, where its agent read the job's cgroup.</param>
internal sealed record JobFacts(double RuntimeSeconds, IReadOnlyList<GpuFacts> Gpus, double UnobservedSeconds, IReadOnlyList<NodeFacts>? Nodes = null)
{
    /// <summary>The nodes, none when not given.</summary>
    public IReadOnlyList<NodeFacts> Hosts => Nodes ?? [];
}

/// <summary>One GPU of a job.</summary>
/// <param name="MemoryTotalBytes">The GPU's total memory (NVML); null when the agent did not report it.</param>
internal sealed record GpuFacts(string Node, int Index, double AllocatedSeconds, double BusySeconds, double TensorSeconds, double MemoryPeakBytes, long Xids, long EccErrors, double? MemoryTotalBytes = null);

/// <summary>A job's CPU and memory on one node, from its cgroup (each null when unknown).</summary>
/// <param name="Node">The node.</param>
/// <param name="WallSeconds">How long the job ran there (to now while it runs).</param>
/// <param name="CpuSeconds">CPU seconds the cgroup used.</param>
/// <param name="Cpus">CPUs of its cpuset (with Slurm's ConstrainCores, the cores it was allocated).</param>
/// <param name="MemoryPeakBytes">The cgroup's memory peak: the one memory number, resident memory and page cache as the kernel charges it.</param>
/// <param name="MemoryLimitBytes">The cgroup's memory limit (with ConstrainRAMSpace, the job's request on the node).</param>
internal sealed record NodeFacts(string Node, double WallSeconds, double? CpuSeconds, double? Cpus, double? MemoryPeakBytes, double? MemoryLimitBytes);

/// <summary>A note on a job: how bad, which rule, and what to tell the user.</summary>
internal sealed record EfficiencyNote(string Severity, string Rule, string Message);

/// <summary>A rule: its id, severity, the threshold in words (docs/aggregator.md lists them), and what it says of a job.</summary>
internal sealed record EfficiencyRule(string Id, string Severity, string Threshold, Func<JobFacts, IEnumerable<string>> Evaluate);

/// <summary>
/// The efficiency notes, as a table. Thresholds start from Princeton jobstats' (GPU utilization red below 15 %, a
/// warning below 25 %, CPU efficiency red below 65 %, memory over-allocated under 70 %, no notes for jobs under 300 s,
/// a MIG slice for a small single-GPU job) and add what our data allows: XID and ECC errors during the job, GPU memory
/// near the GPU's total, memory near the cgroup's limit, the MIG slice sized for the job's own GPU model, and time the
/// agents did not measure. Utilization is busy GPU-seconds over allocated GPU-seconds, exact to the GPU tick; GPU
/// memory is the peak of the job's processes (NVML); host memory is the cgroup's peak (the one memory number: what the
/// kernel charged the job, resident memory and page cache, against its limit).
/// </summary>
internal static class EfficiencyRules
{
    /// <summary>Jobs shorter than this get no utilization notes (jobstats' minimum).</summary>
    public const double MinimumRuntimeSeconds = 300;

    /// <summary>Mean GPU utilization under this is critical (jobstats' red).</summary>
    public const double LowUtilization = 0.15;

    /// <summary>Mean GPU utilization under this (and at least <see cref="LowUtilization"/>) is a warning.</summary>
    public const double FairUtilization = 0.25;

    /// <summary>CPU efficiency under this is a warning (jobstats' red).</summary>
    public const double LowCpuEfficiency = 0.65;

    /// <summary>A memory peak at or over this share of the limit is a warning (the job is at the edge of an OOM kill).</summary>
    public const double MemoryNearLimit = 0.95;

    /// <summary>A memory peak under this share of the limit, with <see cref="MemoryUnusedBytes"/> left, is over-allocation (jobstats' 70 %).</summary>
    public const double MemoryOverallocated = 0.70;

    /// <summary>Unused memory that makes over-allocation worth a note.</summary>
    public const double MemoryUnusedBytes = 4e9;

    /// <summary>A GPU memory peak at or over this share of the GPU's memory is a warning (an out-of-memory error is close).</summary>
    public const double GpuMemoryNearTotal = 0.95;

    /// <summary>
    /// MIG profiles with their compute slices of 7 and memory, by the GPU's memory: A100 40GB, A100/H100 80GB, H200
    /// 141GB. A GPU whose total is unknown is taken as an 80 GB one.
    /// </summary>
    private static readonly (double UpToBytes, (string Name, int Slices, double MemoryBytes)[] Profiles)[] MigTables =
    [
        (45e9, [("1g.5gb", 1, 5e9), ("2g.10gb", 2, 10e9), ("3g.20gb", 3, 20e9), ("4g.20gb", 4, 20e9)]),
        (100e9, [("1g.10gb", 1, 10e9), ("2g.20gb", 2, 20e9), ("3g.40gb", 3, 40e9), ("4g.40gb", 4, 40e9)]),
        (double.MaxValue, [("1g.18gb", 1, 18e9), ("2g.35gb", 2, 35e9), ("3g.71gb", 3, 71e9), ("4g.71gb", 4, 71e9)]),
    ];

    /// <summary>The table, in the order notes are shown.</summary>
    public static readonly EfficiencyRule[] All =
    [
        new("gpu_xid", "critical", "any XID error on a GPU while the job held it", facts =>
            facts.Gpus.Where(g => g.Xids > 0).Select(g => $"GPU {g.Index} on node {g.Node} reported {g.Xids} XID error{Plural(g.Xids)} during the job; if the job failed, this is a likely cause (see the node's log, event 3004).")),
        new("gpu_ecc", "warning", "any new ECC error on a GPU while the job held it", facts =>
            facts.Gpus.Where(g => g.EccErrors > 0).Select(g => $"GPU {g.Index} on node {g.Node} counted {g.EccErrors} ECC error{Plural(g.EccErrors)} during the job.")),
        new("gpu_idle", "warning", "a GPU busy under 1 % of the time it was held (runs of 300 s or more)", facts =>
            Long(facts) && facts.Gpus.Count > 0
                ? facts.Gpus.Where(g => g.AllocatedSeconds > 0 && g.BusySeconds / g.AllocatedSeconds < 0.01).Select(g => $"GPU {g.Index} on node {g.Node} was idle for the whole job: do not request it.")
                : []),
        new("gpu_low_utilization", "critical", "mean GPU utilization under 15 % (runs of 300 s or more)", facts =>
            Utilization(facts) is { } u && u < LowUtilization ? [UseFewer(facts, u)] : []),
        new("gpu_fair_utilization", "warning", "mean GPU utilization from 15 % to under 25 % (runs of 300 s or more)", facts =>
            Utilization(facts) is { } u && u is >= LowUtilization and < FairUtilization ? [UseFewer(facts, u)] : []),
        new("gpu_memory_near_total", "warning", "a GPU's memory peak at or over 95 % of its memory", facts =>
            facts.Gpus.Where(g => g.MemoryTotalBytes is > 0 && g.MemoryPeakBytes >= GpuMemoryNearTotal * g.MemoryTotalBytes)
                .Select(g => $"GPU {g.Index} on node {g.Node} peaked at {Gigabytes(g.MemoryPeakBytes)} of its {Gigabytes(g.MemoryTotalBytes!.Value)}: an out-of-memory error is close; use a smaller batch or more GPUs.")),
        new("mig_fit", "info", "one GPU, utilization and memory peak within a MIG slice of that GPU (A100 40GB, 80GB GPUs, H200; runs of 300 s or more)", facts =>
            Long(facts) && facts.Gpus.Count == 1 && Utilization(facts) is { } u && Mig(u, facts.Gpus[0]) is { } profile
                ? [$"This job used {Percent(u)} of one GPU and at most {Gigabytes(facts.Gpus[0].MemoryPeakBytes)} of its memory: it would fit a {profile} MIG slice."]
                : []),
        new("cpu_low_efficiency", "warning", "CPU efficiency (CPU seconds over allocated CPUs × run time) under 65 % with more than one CPU (runs of 300 s or more)", facts =>
            CpuEfficiency(facts) is { } e && e < LowCpuEfficiency && facts.Hosts.Sum(n => n.Cpus ?? 0) > 1
                ? [CpuNote(facts, e)]
                : []),
        new("memory_near_limit", "warning", "a node's memory peak at or over 95 % of the job's limit there", facts =>
            facts.Hosts.Where(n => n.MemoryLimitBytes is > 0 && n.MemoryPeakBytes >= MemoryNearLimit * n.MemoryLimitBytes)
                .Select(n => $"On node {n.Node} the job's memory peaked at {Gigabytes(n.MemoryPeakBytes!.Value)} of its {Gigabytes(n.MemoryLimitBytes!.Value)} limit: it may have been killed for memory, or nearly; request more (--mem).")),
        new("memory_overallocated", "info", "memory peak under 70 % of the limit with 4 GB or more unused, on every node (runs of 300 s or more)", facts =>
            Long(facts) && facts.Hosts.Count > 0 && facts.Hosts.All(n => n.MemoryLimitBytes is > 0 && n.MemoryPeakBytes is { } p && p < MemoryOverallocated * n.MemoryLimitBytes && n.MemoryLimitBytes - p >= MemoryUnusedBytes)
                ? [MemoryNote(facts)]
                : []),
        new("unobserved", "info", "any time the agents did not measure", facts =>
            facts.UnobservedSeconds > 0
                ? [string.Create(CultureInfo.InvariantCulture, $"{facts.UnobservedSeconds:0.#} s of the job were not measured (an agent was down); the figures cover the rest.")]
                : []),
    ];

    /// <summary>Every note the table makes of <paramref name="facts"/>.</summary>
    public static IReadOnlyList<EfficiencyNote> Evaluate(JobFacts facts) =>
        [.. All.SelectMany(rule => rule.Evaluate(facts).Select(message => new EfficiencyNote(rule.Severity, rule.Id, message)))];

    /// <summary>Busy over allocated GPU-seconds, for runs long enough to judge; null otherwise.</summary>
    public static double? Utilization(JobFacts facts)
    {
        var allocated = facts.Gpus.Sum(g => g.AllocatedSeconds);
        return Long(facts) && allocated > 0 ? facts.Gpus.Sum(g => g.BusySeconds) / allocated : null;
    }

    /// <summary>
    /// CPU seconds over (allocated CPUs × run time), summed over the nodes that know both (jobstats' definition), for
    /// runs long enough to judge; null otherwise.
    /// </summary>
    public static double? CpuEfficiency(JobFacts facts)
    {
        var known = facts.Hosts.Where(n => n.CpuSeconds is not null && n.Cpus is > 0).ToList();
        var capacity = known.Sum(n => n.Cpus!.Value * n.WallSeconds);
        return Long(facts) && capacity > 0 ? known.Sum(n => n.CpuSeconds!.Value) / capacity : null;
    }

    private static bool Long(JobFacts facts) => facts.RuntimeSeconds >= MinimumRuntimeSeconds;

    private static string CpuNote(JobFacts facts, double efficiency)
    {
        var cpus = facts.Hosts.Sum(n => n.Cpus ?? 0);
        var enough = Math.Max(1, (int)Math.Ceiling(efficiency * cpus));
        return $"This job used {Percent(efficiency)} of its {cpus:0} CPUs' time: {enough} CPU{Plural(enough)} would have done (request {enough}), unless it needed their memory.";
    }

    private static string MemoryNote(JobFacts facts)
    {
        var peak = facts.Hosts.Max(n => n.MemoryPeakBytes!.Value);
        var suggest = Math.Ceiling(peak * 1.2 / 1e9);
        return string.Create(CultureInfo.InvariantCulture, $"This job's memory peaked at {Gigabytes(peak)} per node, under 70 % of its {Gigabytes(facts.Hosts.Max(n => n.MemoryLimitBytes!.Value))} limit: request about {suggest:0} GB (--mem={suggest:0}G) and the scheduler can place more jobs.");
    }

    private static string UseFewer(JobFacts facts, double utilization)
    {
        var gpus = facts.Gpus.Count;
        var enough = Math.Max(1, (int)Math.Ceiling(facts.Gpus.Sum(g => g.BusySeconds) / Math.Max(1, facts.Gpus.Max(g => g.AllocatedSeconds))));
        return gpus > enough
            ? $"This job used {Percent(utilization)} of its {gpus} GPUs on average: {enough} GPU{Plural(enough)} would have done the same work (request {enough})."
            : $"This job used {Percent(utilization)} of its GPU{Plural(gpus)} on average: check the input pipeline, the batch size, or that the code runs on the GPU.";
    }

    private static string? Mig(double utilization, GpuFacts gpu) =>
        MigTables.First(t => (gpu.MemoryTotalBytes ?? 80e9) <= t.UpToBytes).Profiles
            .Where(p => p.Slices / 7.0 >= utilization && p.MemoryBytes >= gpu.MemoryPeakBytes * 1.2).Select(p => p.Name).FirstOrDefault();

    private static string Percent(double ratio) => string.Create(CultureInfo.InvariantCulture, $"{ratio * 100:0} %");

    private static string Gigabytes(double bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:0.#} GB");

    private static string Plural(long count) => count == 1 ? string.Empty : "s";
}
