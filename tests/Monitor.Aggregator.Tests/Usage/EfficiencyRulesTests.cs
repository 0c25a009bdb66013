using Monitor.Aggregator.Usage;

namespace Monitor.Aggregator.Tests.Usage;

/// <summary>Each efficiency rule at and around its threshold, with the facts worked out by hand.</summary>
public sealed class EfficiencyRulesTests
{
    private const double Hour = 3600;

    [Fact]
    public void FourGpusAtNinePercent_CriticalRequestOne()
    {
        var facts = Job(Hour, Gpu(0, busy: 0.09 * Hour), Gpu(1, busy: 0.09 * Hour), Gpu(2, busy: 0.09 * Hour), Gpu(3, busy: 0.09 * Hour));

        var note = Assert.Single(EfficiencyRules.Evaluate(facts));

        Assert.Equal(("critical", "gpu_low_utilization"), (note.Severity, note.Rule));
        Assert.Equal("This job used 9 % of its 4 GPUs on average: 1 GPU would have done the same work (request 1).", note.Message);
    }

    [Theory]
    [InlineData(0.149, "gpu_low_utilization")]
    [InlineData(0.15, "gpu_fair_utilization")]
    [InlineData(0.249, "gpu_fair_utilization")]
    [InlineData(0.25, null)]
    public void TwoGpus_UtilizationThresholds(double utilization, string? rule)
    {
        var facts = Job(Hour, Gpu(0, busy: utilization * Hour, memory: 70e9), Gpu(1, busy: utilization * Hour, memory: 70e9));

        Assert.Equal(rule, EfficiencyRules.Evaluate(facts).SingleOrDefault()?.Rule);
    }

    [Fact]
    public void OneIdleGpuOfTwo_NamedAndTheJobAtHalfUse()
    {
        var facts = Job(Hour, Gpu(0, busy: 0.8 * Hour, memory: 70e9), Gpu(1, busy: 0.005 * Hour, node: "gpu17"));

        var notes = EfficiencyRules.Evaluate(facts);

        Assert.Equal(["gpu_idle"], notes.Select(n => n.Rule));
        Assert.Equal("GPU 1 on node gpu17 was idle for the whole job: do not request it.", notes[0].Message);
    }

    [Fact]
    public void SmallSingleGpuJob_FitsTheSmallestMigSliceThatHoldsItsComputeAndMemory()
    {
        // 30 % of one GPU needs 3 of 7 slices (2/7 = 28.6 % is too few); 12 GB peak × 1.2 = 14.4 GB fits 40 GB.
        var facts = Job(Hour, Gpu(0, busy: 0.30 * Hour, memory: 12e9));

        var note = Assert.Single(EfficiencyRules.Evaluate(facts));

        Assert.Equal("mig_fit", note.Rule);
        Assert.Equal("This job used 30 % of one GPU and at most 12 GB of its memory: it would fit a 3g.40gb MIG slice.", note.Message);
    }

    [Fact]
    public void ShortJob_NoUtilizationNotesButErrorsStill()
    {
        var facts = Job(299, Gpu(0, busy: 0, xids: 2, ecc: 1));

        var notes = EfficiencyRules.Evaluate(facts);

        Assert.Equal(["gpu_xid", "gpu_ecc"], notes.Select(n => n.Rule));
        Assert.Equal("GPU 0 on node node1 reported 2 XID errors during the job; if the job failed, this is a likely cause (see the node's log, event 3004).", notes[0].Message);
        Assert.Equal("GPU 0 on node node1 counted 1 ECC error during the job.", notes[1].Message);
    }

    [Fact]
    public void UnobservedTime_Said()
    {
        var facts = Job(Hour, [Gpu(0, busy: 0.9 * Hour, memory: 70e9)], unobserved: 12.5);

        Assert.Equal("12.5 s of the job were not measured (an agent was down); the figures cover the rest.", Assert.Single(EfficiencyRules.Evaluate(facts)).Message);
    }

    [Fact]
    public void EveryRule_HasAThresholdInWords()
    {
        Assert.All(EfficiencyRules.All, rule => Assert.False(string.IsNullOrWhiteSpace(rule.Threshold)));
        Assert.Equal(EfficiencyRules.All.Length, EfficiencyRules.All.Select(r => r.Id).Distinct().Count());
    }

    [Theory]
    [InlineData(8, 0.649, "cpu_low_efficiency")]
    [InlineData(8, 0.65, null)]
    [InlineData(1, 0.10, null)]
    public void Cpu_EfficiencyThreshold_OnlyWithMoreThanOneCpu(double cpus, double efficiency, string? rule)
    {
        var facts = Job(Hour, [], 0) with { Nodes = [new NodeFacts("n", Hour, efficiency * cpus * Hour, cpus, 1e9, null)] };

        Assert.Equal(efficiency, EfficiencyRules.CpuEfficiency(facts)!.Value, 9);
        Assert.Equal(rule, EfficiencyRules.Evaluate(facts).SingleOrDefault()?.Rule);
    }

    [Fact]
    public void Cpu_TwoNodes_JobstatsDefinitionSummedOverNodes()
    {
        // 4 CPUs for an hour and 8 CPUs for half an hour: 8 CPU-hours of capacity; 2 + 2 CPU-hours used: 50 %.
        var facts = Job(Hour, [], 0) with { Nodes = [new NodeFacts("a", Hour, 2 * Hour, 4, null, null), new NodeFacts("b", Hour / 2, 2 * Hour, 8, null, null)] };

        Assert.Equal(0.5, EfficiencyRules.CpuEfficiency(facts));
        Assert.Null(EfficiencyRules.CpuEfficiency(Job(299, [], 0) with { Nodes = facts.Nodes }));
    }

    [Theory]
    [InlineData(60.8e9, 64e9, "memory_near_limit")]
    [InlineData(60.7e9, 64e9, null)]
    [InlineData(44.7e9, 64e9, "memory_overallocated")]
    [InlineData(44.8e9, 64e9, null)]
    [InlineData(5e9, 8e9, null)]
    [InlineData(60e9, null, null)]
    public void Memory_NearTheLimitOrOverallocated(double peak, double? limit, string? rule)
    {
        var facts = Job(Hour, [], 0) with { Nodes = [new NodeFacts("n", Hour, null, null, peak, limit)] };

        Assert.Equal(rule, EfficiencyRules.Evaluate(facts).SingleOrDefault()?.Rule);
    }

    [Theory]
    [InlineData(76e9, 80e9, "gpu_memory_near_total")]
    [InlineData(75.9e9, 80e9, null)]
    [InlineData(76e9, null, null)]
    public void GpuMemory_NearTheTotal(double peak, double? total, string? rule)
    {
        var facts = Job(Hour, [Gpu(0, busy: 0.9 * Hour, memory: peak) with { MemoryTotalBytes = total }], 0);

        Assert.Equal(rule, EfficiencyRules.Evaluate(facts).SingleOrDefault()?.Rule);
    }

    [Theory]
    [InlineData(40e9, "3g.20gb")]
    [InlineData(85.5e9, "3g.40gb")]
    [InlineData(143.8e9, "3g.71gb")]
    [InlineData(null, "3g.40gb")]
    public void Mig_SliceOfTheJobsOwnGpuModel(double? total, string profile)
    {
        // 40 % of one GPU (3 slices of 7 needed), 15 GB peak (18 GB with the 1.2 margin).
        var facts = Job(Hour, [Gpu(0, busy: 0.4 * Hour, memory: 15e9) with { MemoryTotalBytes = total }], 0);

        Assert.EndsWith($"it would fit a {profile} MIG slice.", Assert.Single(EfficiencyRules.Evaluate(facts)).Message, StringComparison.Ordinal);
    }

    private static JobFacts Job(double runtime, params GpuFacts[] gpus) => new(runtime, gpus, 0);

    private static JobFacts Job(double runtime, GpuFacts[] gpus, double unobserved) => new(runtime, gpus, unobserved);

    private static GpuFacts Gpu(int index, double busy, double memory = 0, string node = "node1", long xids = 0, long ecc = 0) =>
        new(node, index, Hour, busy, 0, memory, xids, ecc);
}
