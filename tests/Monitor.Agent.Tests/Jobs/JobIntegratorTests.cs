using Monitor.Agent.Gpu;
using Monitor.Agent.Jobs;

namespace Monitor.Agent.Tests.Jobs;

/// <summary>The integrators against a scripted GPU trace, with the ground truth computed by hand in the comments.</summary>
public sealed class JobIntegratorTests
{
    private const double GiB = 1024.0 * 1024 * 1024;

    [Fact]
    public void Trace_ExclusiveAndSharedGpus_MatchHandComputedTotals()
    {
        // GPU A (index 0) belongs to J1 alone and reports no processes. GPU B (index 1) is shared by J2 (pid 10: 60 % SM,
        // 1 GiB) and J3 (pid 11: 20 % SM, 3 GiB), so J2 weighs 0.6 / 0.8 = 0.75 and J3 0.25.
        var jobs = new Dictionary<string, TrackedJob>(StringComparer.Ordinal)
        {
            ["J1"] = new(new JobIdentity { JobId = "J1" }, DateTimeOffset.UnixEpoch),
            ["J2"] = new(new JobIdentity { JobId = "J2" }, DateTimeOffset.UnixEpoch),
            ["J3"] = new(new JobIdentity { JobId = "J3" }, DateTimeOffset.UnixEpoch),
        };
        var allocated = new Dictionary<string, List<string>>(StringComparer.Ordinal) { ["GPU-A"] = ["J1"], ["GPU-B"] = ["J2", "J3"] };
        string? JobOf(uint pid) => pid switch { 10 => "J2", 11 => "J3", _ => null };
        var integrator = new JobIntegrator();

        //             t   A: util, energy J, tensor s, healthy     B: util, energy J, xids
        var trace = new (double T, double AUtil, double AEnergy, double ATensor, bool AHealthy, double BUtil, double BEnergy, long BXids)[]
        {
            (0, double.NaN, 100, 0.0, true, 0.8, 0, 0),
            (1, 0.5, 300, 0.5, true, 0.8, 100, 0),
            (2, 1.0, 600, 1.0, true, 0.8, 200, 2),
            (3, 0.0, 650, 1.0, true, 0.8, 300, 2),
            (4, 0.0, 10, 1.0, true, 0.8, 300, 2),      // A's energy counter reset (driver reload): no negative delta
            (5, 0.9, 999, 9.0, false, 0.8, 300, 2),    // A stalled: skipped, its baseline kept
            (6, 0.25, 110, 1.0, true, 0.8, 300, 2),    // A covers t = 4…6 with the real deltas
        };
        foreach (var tick in trace)
        {
            var a = Sample(tick.AUtil, tick.AEnergy, tick.ATensor, memoryUsed: 10 * GiB, xids: 0);
            var b = Sample(tick.BUtil, tick.BEnergy, double.NaN, memoryUsed: 4 * GiB, xids: tick.BXids);
            b.Processes.Add(new GpuProcessSample(10, 1 * GiB, 0.6, 0.1, uint.MaxValue, uint.MaxValue));
            b.Processes.Add(new GpuProcessSample(11, 3 * GiB, 0.2, 0.1, uint.MaxValue, uint.MaxValue));
            integrator.Tick(tick.T, 1_700_000_000 + tick.T, [new GpuTickDevice(0, "GPU-A", a, tick.AHealthy), new GpuTickDevice(1, "GPU-B", b, true)], allocated, JobOf, (id, _) => jobs.GetValueOrDefault(id));
        }

        var j1 = jobs["J1"].Gpus["GPU-A"];
        Assert.Equal(6.0, j1.AllocatedSeconds, 12);                        // t = 0…6
        Assert.Equal((0.5 * 1) + (1.0 * 1) + (0.0 * 1) + (0.0 * 1) + (0.25 * 2), j1.BusySeconds, 12);   // 2.0
        Assert.Equal(200 + 300 + 50 + 0 + 100, j1.EnergyJoules, 12);       // 650 J; the reset adds 0
        Assert.Equal(1.0, j1.TensorActiveSeconds, 12);
        Assert.Equal(10 * GiB, j1.MemoryPeakBytes);                         // sole holder without processes: the GPU's used memory

        var j2 = jobs["J2"].Gpus["GPU-B"];
        var j3 = jobs["J3"].Gpus["GPU-B"];
        Assert.Equal(3.0, j2.AllocatedSeconds, 12);                        // 6 s split between two holders
        Assert.Equal(3.0, j3.AllocatedSeconds, 12);
        Assert.Equal(0.8 * 6 * 0.75, j2.BusySeconds, 12);                  // 3.6
        Assert.Equal(0.8 * 6 * 0.25, j3.BusySeconds, 12);                  // 1.2
        Assert.Equal(300 * 0.75, j2.EnergyJoules, 12);                     // 225 J
        Assert.Equal(300 * 0.25, j3.EnergyJoules, 12);                     // 75 J
        Assert.Equal(1 * GiB, j2.MemoryPeakBytes);
        Assert.Equal(3 * GiB, j3.MemoryPeakBytes);
        Assert.Equal(2, j2.XidErrors);                                      // every holder sees the GPU's XIDs
        Assert.Equal(2, j3.XidErrors);
        Assert.Equal(300, j2.EnergyJoules + j3.EnergyJoules, 12);          // shared energy adds up to the GPU's

        // The peak is the highest tick's busy over held share: A's t = 2 (1.0; the stalled 0.9 was skipped); on B each
        // tick is 0.8 × weight over half the tick.
        Assert.Equal(1.0, j1.UtilizationPeak, 12);
        Assert.Equal(0.8 * 0.75 * 2, j2.UtilizationPeak, 12);
        Assert.Equal(0.8 * 0.25 * 2, j3.UtilizationPeak, 12);
    }

    [Fact]
    public void ProcessOfAnUnlistedJob_CreatesIt_AndIdleSharedGpuSplitsByMemory()
    {
        // No source lists anything; pid 7's cgroup names job 42. With no SM activity the weight falls back to memory.
        var jobs = new Dictionary<string, TrackedJob>(StringComparer.Ordinal);
        var integrator = new JobIntegrator();
        TrackedJob Job(string id, bool hasProcesses) => jobs.TryGetValue(id, out var j) ? j : jobs[id] = new TrackedJob(new JobIdentity { JobId = id }, DateTimeOffset.UnixEpoch);
        for (var t = 0; t <= 2; t++)
        {
            var sample = Sample(0.0, 100.0 * t, double.NaN, 8 * GiB, 0);
            sample.Processes.Add(new GpuProcessSample(7, 2 * GiB, 0, 0, uint.MaxValue, uint.MaxValue));
            sample.Processes.Add(new GpuProcessSample(8, 6 * GiB, 0, 0, uint.MaxValue, uint.MaxValue));
            integrator.Tick(t, 1_700_000_000 + t, [new GpuTickDevice(3, "GPU-C", sample, true)], new Dictionary<string, List<string>>(), pid => pid switch { 7 => "42", 8 => "43", _ => null }, Job);
        }

        Assert.Equal(0.25 * 200, jobs["42"].Gpus["GPU-C"].EnergyJoules, 12);   // 2 GiB of 8 GiB
        Assert.Equal(0.75 * 200, jobs["43"].Gpus["GPU-C"].EnergyJoules, 12);
        Assert.Equal(1.0, jobs["42"].Gpus["GPU-C"].AllocatedSeconds, 12);
        Assert.Equal(3, jobs["42"].Gpus["GPU-C"].Index);
    }

    [Fact]
    public void Claim_UtilizationPeak_TheBusiestClaimedTick()
    {
        // GPU F's ticks at 20 %, 90 % and 40 %; a job found late claims the last two: its peak is 90 %, not the first's.
        var late = new TrackedJob(new JobIdentity { JobId = "J6" }, DateTimeOffset.UnixEpoch);
        var integrator = new JobIntegrator();
        double[] utilization = [0, 0.2, 0.9, 0.4];
        for (var t = 0; t < utilization.Length; t++)
        {
            integrator.Tick(t, 1_700_000_000 + t, [new GpuTickDevice(0, "GPU-F", Sample(utilization[t], 10.0 * t, double.NaN, 1 * GiB, 0), true)], new Dictionary<string, List<string>>(StringComparer.Ordinal), _ => null, (_, _) => null);
        }

        Assert.Equal(2.0, integrator.Claim(late, 0, "GPU-F", 1_700_000_001, 1_700_000_003), 12);
        Assert.Equal(0.9, late.Gpus["GPU-F"].UtilizationPeak, 12);
    }

    [Fact]
    public void Tick_Xids_TheJobKeepsTheLastCodeAndAJobFoundLateClaimsIt()
    {
        // GPU X: XID 13 at the first tick, XID 79 at the third; job K holds it throughout. GPU Y: XID 48 while nobody
        // held it; job L, found late, claims that tick and its code.
        var jobs = new Dictionary<string, TrackedJob>(StringComparer.Ordinal) { ["K"] = new(new JobIdentity { JobId = "K" }, DateTimeOffset.UnixEpoch) };
        var allocated = new Dictionary<string, List<string>>(StringComparer.Ordinal) { ["GPU-X"] = ["K"] };
        var integrator = new JobIntegrator();
        (long Xids, uint Last)[] x = [(0, 0), (1, 13), (1, 13), (2, 79), (2, 79)];
        (long Xids, uint Last)[] y = [(0, 0), (0, 0), (1, 48), (1, 48), (1, 48)];
        for (var t = 0; t < x.Length; t++)
        {
            var sx = Sample(0.5, 10.0 * t, double.NaN, 1 * GiB, x[t].Xids);
            sx.LastXid = x[t].Last;
            var sy = Sample(0.5, 10.0 * t, double.NaN, 1 * GiB, y[t].Xids);
            sy.LastXid = y[t].Last;
            integrator.Tick(t, 1_700_000_000 + t, [new GpuTickDevice(0, "GPU-X", sx, true), new GpuTickDevice(1, "GPU-Y", sy, true)], allocated, _ => null, (id, _) => jobs.GetValueOrDefault(id));
            if (t == 2)
            {
                Assert.Equal((1, 13u), (jobs["K"].Gpus["GPU-X"].XidErrors, jobs["K"].Gpus["GPU-X"].LastXid));
            }
        }

        Assert.Equal((2, 79u), (jobs["K"].Gpus["GPU-X"].XidErrors, jobs["K"].Gpus["GPU-X"].LastXid));
        var late = new TrackedJob(new JobIdentity { JobId = "L" }, DateTimeOffset.UnixEpoch);
        integrator.Claim(late, 1, "GPU-Y", 1_700_000_000, 1_700_000_004);
        Assert.Equal((1, 48u), (late.Gpus["GPU-Y"].XidErrors, late.Gpus["GPU-Y"].LastXid));
    }

    [Fact]
    public void Claim_TwoJobsStartingTogetherOnASharedGpu_EachGetsHalfOfTheGap()
    {
        // Nobody held GPU G for three ticks of 10 J each; two jobs found late, both started at the first, split them.
        // A third claim finds nothing left.
        var integrator = new JobIntegrator();
        for (var t = 0; t <= 3; t++)
        {
            integrator.Tick(t, 1_700_000_000 + t, [new GpuTickDevice(0, "GPU-G", Sample(0.5, 10.0 * t, double.NaN, 1 * GiB, 0), true)], new Dictionary<string, List<string>>(StringComparer.Ordinal), _ => null, (_, _) => null);
        }

        var a = new TrackedJob(new JobIdentity { JobId = "A" }, DateTimeOffset.UnixEpoch);
        var b = new TrackedJob(new JobIdentity { JobId = "B" }, DateTimeOffset.UnixEpoch);
        Assert.Equal(1.5, integrator.Claim(a, 0, "GPU-G", 1_700_000_000, 1_700_000_003, claimants: 2), 12);
        Assert.Equal(1.5, integrator.Claim(b, 0, "GPU-G", 1_700_000_000, 1_700_000_003, claimants: 2), 12);
        Assert.Equal((15.0, 15.0), (a.Gpus["GPU-G"].EnergyJoules, b.Gpus["GPU-G"].EnergyJoules));
        Assert.Equal(0.0, integrator.Claim(new TrackedJob(new JobIdentity { JobId = "C" }, DateTimeOffset.UnixEpoch), 0, "GPU-G", 1_700_000_000, 1_700_000_003), 12);
    }

    [Fact]
    public void Release_HolderEndedInsideATick_GivesBackThePartAfterItsEndForTheNextJob()
    {
        // Job H held GPU H for ticks (0, 4] of 10 J each; its end, learned late, is at 2.5: it keeps 2.5 s and 25 J.
        // Job I, which started at 2.5, claims the rest: 1.5 s and 15 J. Nothing is counted twice or lost.
        var jobs = new Dictionary<string, TrackedJob>(StringComparer.Ordinal) { ["H"] = new(new JobIdentity { JobId = "H" }, DateTimeOffset.UnixEpoch) };
        var allocated = new Dictionary<string, List<string>>(StringComparer.Ordinal) { ["GPU-H"] = ["H"] };
        var integrator = new JobIntegrator();
        for (var t = 0; t <= 4; t++)
        {
            integrator.Tick(t, 1_700_000_000 + t, [new GpuTickDevice(0, "GPU-H", Sample(0.5, 10.0 * t, double.NaN, 1 * GiB, 0), true)], allocated, _ => null, (id, _) => jobs.GetValueOrDefault(id));
        }

        var held = jobs["H"].Gpus["GPU-H"];
        Assert.Equal((4.0, 40.0), (held.AllocatedSeconds, held.EnergyJoules));
        Assert.Equal(1.5, integrator.Release(jobs["H"], DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_002_500)), 12);
        Assert.Equal(2.5, held.AllocatedSeconds, 12);
        Assert.Equal(25.0, held.EnergyJoules, 12);
        Assert.Equal(0.0, integrator.Release(jobs["H"], DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_002_500)), 12);

        var next = new TrackedJob(new JobIdentity { JobId = "I" }, DateTimeOffset.UnixEpoch);
        Assert.Equal(1.5, integrator.Claim(next, 0, "GPU-H", 1_700_000_002.5, 1_700_000_004), 12);
        Assert.Equal(15.0, next.Gpus["GPU-H"].EnergyJoules, 12);
    }

    [Fact]
    public void Tick_GpuMemoryTotal_TheLastOneNvmlReportedForTheJobsTicks()
    {
        // GPU D: 80 GiB at t = 1, a tick where NVML gives no total (kept), then 0 (no answer either, kept). Job J5 is
        // found late: it claims the unclaimed ticks of GPU E, which reported 40 GiB, through the history.
        var jobs = new Dictionary<string, TrackedJob>(StringComparer.Ordinal) { ["J4"] = new(new JobIdentity { JobId = "J4" }, DateTimeOffset.UnixEpoch) };
        var late = new TrackedJob(new JobIdentity { JobId = "J5" }, DateTimeOffset.UnixEpoch);
        var allocated = new Dictionary<string, List<string>>(StringComparer.Ordinal) { ["GPU-D"] = ["J4"] };
        var integrator = new JobIntegrator();
        double[] totals = [80 * GiB, 80 * GiB, double.NaN, 0];
        for (var t = 0; t < totals.Length; t++)
        {
            var d = Sample(0.5, 10.0 * t, double.NaN, 1 * GiB, 0);
            d[GpuValue.MemoryTotal] = totals[t];
            var e = Sample(0.5, 10.0 * t, double.NaN, 1 * GiB, 0);
            e[GpuValue.MemoryTotal] = 40 * GiB;
            integrator.Tick(t, 1_700_000_000 + t, [new GpuTickDevice(0, "GPU-D", d, true), new GpuTickDevice(1, "GPU-E", e, true)], allocated, _ => null, (id, _) => jobs.GetValueOrDefault(id));
            if (t == 1)
            {
                Assert.Equal(80 * GiB, jobs["J4"].Gpus["GPU-D"].MemoryTotalBytes);
            }
        }

        Assert.Equal(80 * GiB, jobs["J4"].Gpus["GPU-D"].MemoryTotalBytes);
        Assert.True(double.IsNaN(late.Gpu(1, "GPU-E").MemoryTotalBytes));   // nothing credited yet: unknown

        Assert.Equal(3.0, integrator.Claim(late, 1, "GPU-E", 1_700_000_000, 1_700_000_003), 12);

        Assert.Equal(40 * GiB, late.Gpus["GPU-E"].MemoryTotalBytes);
        Assert.Equal(0.5, late.Gpus["GPU-E"].UtilizationPeak, 12);         // the claimed ticks' busy over held
    }

    private static GpuSample Sample(double utilization, double energy, double tensorSeconds, double memoryUsed, long xids)
    {
        var sample = new GpuSample { Timestamp = 1, XidErrors = xids };
        sample[GpuValue.Utilization] = utilization;
        sample[GpuValue.Energy] = energy;
        sample[GpuValue.TensorActiveSeconds] = tensorSeconds;
        sample[GpuValue.MemoryUsed] = memoryUsed;
        return sample;
    }
}
