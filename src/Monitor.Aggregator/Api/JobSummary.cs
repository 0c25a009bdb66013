using Monitor.Aggregator.Usage;
using Monitor.Contracts;

namespace Monitor.Aggregator.Api;

/// <summary>
/// One job across the cluster, computed once from every node's records of it: the figures that the JSON document
/// (<see cref="JobReport"/>), and through it <c>monitor jobstats</c>, and the web page (<c>Web/JobPage</c>) show. A job
/// runs while any node says it runs and ends at the last node's end; every lifetime of a requeued id is kept, and the
/// totals add them up.
/// </summary>
internal sealed record JobSummary
{
    /// <summary>The job's id as asked for.</summary>
    public required string JobId { get; init; }

    /// <summary>True while any node says the job runs (or was finalized incomplete: its end on that node is unknown).</summary>
    public required bool Running { get; init; }

    /// <summary>
    /// "running", "ended", or "incomplete": a node stopped answering while the job ran there
    /// (<c>--jobs.incomplete-after</c>), so its usage there ends at its last answer.
    /// </summary>
    public required string State { get; init; }

    /// <summary>The first user name any node gave; null when none did.</summary>
    public string? User { get; init; }

    /// <summary>The first account any node gave; null when none did.</summary>
    public string? Account { get; init; }

    /// <summary>The first partition any node gave; null when none did.</summary>
    public string? Partition { get; init; }

    /// <summary>The earliest start on any node.</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>The last end on any node; null while it runs.</summary>
    public DateTimeOffset? End { get; init; }

    /// <summary>Distinct nodes that reported the job.</summary>
    public required int Nodes { get; init; }

    /// <summary>Every node's record, ordered by node, then start.</summary>
    public required IReadOnlyList<(string Node, NodeJobRecord Record)> Records { get; init; }

    /// <summary>Every GPU of every record, in the order of <see cref="Records"/>.</summary>
    public required IReadOnlyList<JobGpu> Gpus { get; init; }

    /// <summary>Seconds the GPUs were held, summed.</summary>
    public required double GpuAllocatedSeconds { get; init; }

    /// <summary>Utilization × seconds, summed.</summary>
    public required double GpuBusySeconds { get; init; }

    /// <summary>GPU energy in joules, summed.</summary>
    public required double GpuEnergyJoules { get; init; }

    /// <summary>Tensor-pipe active seconds, summed.</summary>
    public required double GpuTensorActiveSeconds { get; init; }

    /// <summary>The largest GPU memory peak of any one GPU (bytes).</summary>
    public required double GpuMemoryPeakBytes { get; init; }

    /// <summary>XID errors on all GPUs while the job held them.</summary>
    public required long XidErrors { get; init; }

    /// <summary>ECC errors on all GPUs while the job held them.</summary>
    public required long EccErrors { get; init; }

    /// <summary>CPU seconds of the job's cgroups, summed (unknown counts as 0).</summary>
    public required double CpuSeconds { get; init; }

    /// <summary>The most time any node did not measure.</summary>
    public required double UnobservedSeconds { get; init; }

    /// <summary>From the earliest start to the last end (or now while it runs).</summary>
    public required double RuntimeSeconds { get; init; }

    /// <summary>The mean GPU utilization as the efficiency rules judge it: null for runs under 300 s or without GPU time.</summary>
    public double? GpuUtilization { get; init; }

    /// <summary>The highest utilization of any one agent tick on any of the job's GPUs; null when no node reported it.</summary>
    public double? GpuUtilizationPeak { get; init; }

    /// <summary>CPUs allocated, summed over the nodes that know them; null when none does.</summary>
    public double? CpusAllocated { get; init; }

    /// <summary>CPU seconds over (CPUs × run time) as the rules judge it (runs of 300 s or more); null when unknown.</summary>
    public double? CpuEfficiency { get; init; }

    /// <summary>The largest memory peak of the job's cgroup on any node; null when unknown.</summary>
    public double? MemoryPeakBytes { get; init; }

    /// <summary>The largest memory limit of the job's cgroup on any node; null when unknown or unlimited.</summary>
    public double? MemoryLimitBytes { get; init; }

    /// <summary>
    /// CPU energy (RAPL package and DRAM) summed over the nodes whose agent attributed it (whole-node ownership, docs/jobs.md
    /// "CPU energy"); null when none did.
    /// </summary>
    public double? CpuEnergyJoules { get; init; }

    /// <summary>The notes the efficiency rules make, in the rule table's order.</summary>
    public required IReadOnlyList<EfficiencyNote> Notes { get; init; }

    /// <summary>Busy over allocated GPU-seconds for any run length (the job page and jobstats show it); null without GPU time.</summary>
    public double? GpuBusyFraction => Ratio(GpuBusySeconds, GpuAllocatedSeconds);

    /// <summary>Tensor-active over allocated GPU-seconds; null without GPU time.</summary>
    public double? GpuTensorFraction => Ratio(GpuTensorActiveSeconds, GpuAllocatedSeconds);

    /// <summary>kWh per GPU-hour held; null without GPU time.</summary>
    public double? KilowattHoursPerGpuHour => GpuAllocatedSeconds > 0 ? Units.KilowattHours(GpuEnergyJoules) / Units.Hours(GpuAllocatedSeconds) : null;

    /// <summary>Computes the summary; null when no node has reported the job.</summary>
    public static JobSummary? Of(string jobId, IReadOnlyList<(string Node, NodeJobRecord Record)> records, DateTimeOffset now)
    {
        if (records.Count == 0)
        {
            return null;
        }

        var ordered = records.OrderBy(r => r.Node, StringComparer.Ordinal).ThenBy(r => r.Record.Start).ToList();
        var gpus = ordered.SelectMany(r => r.Record.Gpus.Select(g => new JobGpu(r.Node, r.Record.Start, g))).ToList();
        var running = records.Any(r => !r.Record.Ended);
        var facts = Facts(records, now);
        var counters = records.SelectMany(r => r.Record.Gpus).ToList(); // Summed in the order the records came (the store's), so the JSON's totals stay bit for bit what they were.
        return new JobSummary
        {
            JobId = jobId,
            Running = running,
            State = records.Any(r => r.Record.State == "incomplete") ? "incomplete" : running ? "running" : "ended",
            User = records.Select(r => r.Record.User).FirstOrDefault(u => u is not null),
            Account = records.Select(r => r.Record.Account).FirstOrDefault(a => a is not null),
            Partition = records.Select(r => r.Record.Partition).FirstOrDefault(p => p is not null),
            Start = records.Min(r => r.Record.Start),
            End = running ? null : records.Max(r => r.Record.End!.Value),
            Nodes = records.Select(r => r.Node).Distinct(StringComparer.Ordinal).Count(),
            Records = ordered,
            Gpus = gpus,
            GpuAllocatedSeconds = counters.Sum(g => g.AllocatedSeconds),
            GpuBusySeconds = counters.Sum(g => g.BusySeconds),
            GpuEnergyJoules = counters.Sum(g => g.EnergyJoules),
            GpuTensorActiveSeconds = counters.Sum(g => g.TensorActiveSeconds),
            GpuMemoryPeakBytes = counters.Select(g => g.MemoryPeakBytes).DefaultIfEmpty(0).Max(),
            XidErrors = counters.Sum(g => g.XidErrors),
            EccErrors = counters.Sum(g => g.EccErrors),
            CpuSeconds = records.Sum(r => r.Record.CpuSeconds ?? 0),
            UnobservedSeconds = facts.UnobservedSeconds,
            RuntimeSeconds = facts.RuntimeSeconds,
            GpuUtilization = EfficiencyRules.Utilization(facts),
            GpuUtilizationPeak = counters.Where(g => g.UtilizationPeak is not null).Select(g => g.UtilizationPeak).Max(),
            CpusAllocated = records.All(r => r.Record.CpusAllocated is null) ? null : records.Sum(r => r.Record.CpusAllocated ?? 0),
            CpuEfficiency = EfficiencyRules.CpuEfficiency(facts),
            MemoryPeakBytes = records.All(r => r.Record.MemoryPeakBytes is null) ? null : records.Max(r => r.Record.MemoryPeakBytes ?? 0),
            MemoryLimitBytes = records.All(r => r.Record.MemoryLimitBytes is null) ? null : records.Max(r => r.Record.MemoryLimitBytes ?? 0),
            CpuEnergyJoules = records.All(r => r.Record.CpuEnergyJoules is null) ? null : records.Sum(r => r.Record.CpuEnergyJoules ?? 0),
            Notes = EfficiencyRules.Evaluate(facts),
        };
    }

    /// <summary>The facts the efficiency rules judge: run time from the earliest start to the last end (or now).</summary>
    private static JobFacts Facts(IReadOnlyList<(string Node, NodeJobRecord Record)> records, DateTimeOffset now)
    {
        var start = records.Min(r => r.Record.Start);
        var end = records.Any(r => !r.Record.Ended) ? now : records.Max(r => r.Record.End!.Value);
        return new JobFacts(
            Math.Max(0, (end - start).TotalSeconds),
            [.. records.SelectMany(r => r.Record.Gpus.Select(g => new GpuFacts(r.Node, g.Index, g.AllocatedSeconds, g.BusySeconds, g.TensorActiveSeconds, g.MemoryPeakBytes, g.XidErrors, g.EccErrors, g.MemoryTotalBytes)))],
            records.Max(r => r.Record.UnobservedSeconds),
            [.. records.Select(r => new NodeFacts(
                r.Node, Math.Max(0, ((r.Record.End ?? now) - r.Record.Start).TotalSeconds), r.Record.CpuSeconds, r.Record.CpusAllocated, r.Record.MemoryPeakBytes, r.Record.MemoryLimitBytes))]);
    }

    private static double? Ratio(double part, double whole) => whole > 0 ? part / whole : null;
}

/// <summary>One GPU of a job on one node, in one lifetime of the job, with the ratios the report shows.</summary>
/// <param name="Node">The node's name.</param>
/// <param name="Start">The start of the node's record it belongs to (a requeued job has several).</param>
/// <param name="Counters">The GPU's counters as the node reported them.</param>
internal sealed record JobGpu(string Node, DateTimeOffset Start, NodeJobGpu Counters)
{
    /// <summary>Busy over allocated seconds; null when it was never held.</summary>
    public double? BusyFraction => Counters.AllocatedSeconds > 0 ? Counters.BusySeconds / Counters.AllocatedSeconds : null;

    /// <summary>Tensor-active over allocated seconds; null when it was never held.</summary>
    public double? TensorFraction => Counters.AllocatedSeconds > 0 ? Counters.TensorActiveSeconds / Counters.AllocatedSeconds : null;
}
