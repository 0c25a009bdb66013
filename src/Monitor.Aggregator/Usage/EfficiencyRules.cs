using System.Globalization;

namespace Monitor.Aggregator.Usage;

/// <summary>What the efficiency rules look at: one job's run time and its GPUs, on every node.</summary>
/// <param name="RuntimeSeconds">From the earliest start to the last end (or now while it runs).</param>
/// <param name="Gpus">Every GPU the job used, with its counters (the job's share where it was shared).</param>
/// <param name="UnobservedSeconds">The most time any node did not measure (its agent was down).</param>
internal sealed record JobFacts(double RuntimeSeconds, IReadOnlyList<GpuFacts> Gpus, double UnobservedSeconds);

/// <summary>One GPU of a job.</summary>
internal sealed record GpuFacts(string Node, int Index, double AllocatedSeconds, double BusySeconds, double TensorSeconds, double MemoryPeakBytes, long Xids, long EccErrors);

/// <summary>A note on a job: how bad, which rule, and what to tell the user.</summary>
internal sealed record EfficiencyNote(string Severity, string Rule, string Message);

/// <summary>A rule: its id, severity, the threshold in words (docs/aggregator.md lists them), and what it says of a job.</summary>
internal sealed record EfficiencyRule(string Id, string Severity, string Threshold, Func<JobFacts, IEnumerable<string>> Evaluate);

/// <summary>
/// The efficiency notes, as a table. Thresholds start from Princeton jobstats' (GPU utilization red below 15 %, a
/// warning below 25 %, no notes for jobs under 300 s, a MIG slice for a small single-GPU job) and add what our data
/// allows: XID and ECC errors during the job, and time the agents did not measure. Utilization is busy GPU-seconds
/// over allocated GPU-seconds, exact to the GPU tick; memory is the GPU memory peak of the job's processes.
/// </summary>
internal static class EfficiencyRules
{
    /// <summary>Jobs shorter than this get no utilization notes (jobstats' minimum).</summary>
    public const double MinimumRuntimeSeconds = 300;

    /// <summary>Mean GPU utilization under this is critical (jobstats' red).</summary>
    public const double LowUtilization = 0.15;

    /// <summary>Mean GPU utilization under this (and at least <see cref="LowUtilization"/>) is a warning.</summary>
    public const double FairUtilization = 0.25;

    /// <summary>NVIDIA H100 80GB MIG profiles: compute slices of 7 and memory.</summary>
    private static readonly (string Name, int Slices, double MemoryBytes)[] MigProfiles =
        [("1g.10gb", 1, 10e9), ("2g.20gb", 2, 20e9), ("3g.40gb", 3, 40e9), ("4g.40gb", 4, 40e9)];

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
        new("mig_fit", "info", "one GPU, utilization and memory peak within a MIG slice of an H100 80GB (runs of 300 s or more)", facts =>
            Long(facts) && facts.Gpus.Count == 1 && Utilization(facts) is { } u && Mig(u, facts.Gpus[0].MemoryPeakBytes) is { } profile
                ? [$"This job used {Percent(u)} of one GPU and at most {Gigabytes(facts.Gpus[0].MemoryPeakBytes)} of its memory: it would fit a {profile} MIG slice."]
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

    private static bool Long(JobFacts facts) => facts.RuntimeSeconds >= MinimumRuntimeSeconds;

    private static string UseFewer(JobFacts facts, double utilization)
    {
        var gpus = facts.Gpus.Count;
        var enough = Math.Max(1, (int)Math.Ceiling(facts.Gpus.Sum(g => g.BusySeconds) / Math.Max(1, facts.Gpus.Max(g => g.AllocatedSeconds))));
        return gpus > enough
            ? $"This job used {Percent(utilization)} of its {gpus} GPUs on average: {enough} GPU{Plural(enough)} would have done the same work (request {enough})."
            : $"This job used {Percent(utilization)} of its GPU{Plural(gpus)} on average: check the input pipeline, the batch size, or that the code runs on the GPU.";
    }

    private static string? Mig(double utilization, double memoryPeakBytes) =>
        MigProfiles.Where(p => p.Slices / 7.0 >= utilization && p.MemoryBytes >= memoryPeakBytes * 1.2).Select(p => p.Name).FirstOrDefault();

    private static string Percent(double ratio) => string.Create(CultureInfo.InvariantCulture, $"{ratio * 100:0} %");

    private static string Gigabytes(double bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:0.#} GB");

    private static string Plural(long count) => count == 1 ? string.Empty : "s";
}
