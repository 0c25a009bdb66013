using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Agent.Gpu;
using Monitor.Agent.Jobs;
using Monitor.Agent.Jobs.Slurm;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Jobs;

/// <summary>The job lifecycle without I/O: findings in, tracked jobs out.</summary>
public sealed class JobLifecycleTests
{
    private const string GpuA = "GPU-A";
    private const string GpuB = "GPU-B";
    private static readonly GpuIndex Gpus = GpuIndex.From(
        [new GpuTickDevice(0, GpuA, new GpuSample(), Healthy: true), new GpuTickDevice(1, GpuB, new GpuSample(), Healthy: true)]);

    private readonly Dictionary<string, TrackedJob> _jobs = new(StringComparer.Ordinal);
    private readonly JobLifecycle _lifecycle = new(NullLogger.Instance, uid => uid == "1000" ? "alice" : null);
    private DateTimeOffset _now = TestClock.Start;

    [Fact]
    public void Apply_NewJobOnAGpu_StartsWithItsGpuCountersAtZeroAndItsUserNamed()
    {
        Refresh(("mapping", Job("42", uid: "1000", gpus: [0])));

        var job = _jobs["42"];
        Assert.Equal(TestClock.Start, job.Start);
        Assert.Null(job.End);
        Assert.Equal("alice", job.Identity.User);
        Assert.Equal([GpuA], job.HeldGpus);
        var usage = Assert.Single(job.Gpus.Values);
        Assert.Equal((0, GpuA, 0.0, 0.0), (usage.Index, usage.Uuid, usage.AllocatedSeconds, usage.EnergyJoules));
        Assert.Equal(["mapping"], job.Sources);
    }

    [Fact]
    public void Apply_JobGoneFromEverySource_EndsNowAndGivesItsGpusBack()
    {
        Refresh(("mapping", Job("42", gpus: [0, 1])));
        _now += TimeSpan.FromSeconds(30);

        Refresh(("mapping", Healthy()));

        var job = _jobs["42"];
        Assert.Equal(_now, job.End);
        Assert.Empty(job.HeldGpus);
        Assert.Equal(2, job.Gpus.Count);
    }

    [Fact]
    public void Apply_SameIdAfterItEnded_IsANewLifetime()
    {
        Refresh(("mapping", Job("42", gpus: [0])));
        _now += TimeSpan.FromSeconds(10);
        Refresh(("mapping", Healthy()));
        _now += TimeSpan.FromSeconds(10);

        Refresh(("mapping", Job("42", gpus: [1])));

        var job = _jobs["42"];
        Assert.Equal(TestClock.Start + TimeSpan.FromSeconds(20), job.Start);
        Assert.Null(job.End);
        Assert.Equal([GpuB], job.Gpus.Keys);
    }

    [Fact]
    public void Apply_EndedLongerThanTheHistory_Forgotten()
    {
        Refresh(("mapping", Job("42", gpus: [0])));
        _now += TimeSpan.FromSeconds(1);
        Refresh(("mapping", Healthy()));

        _now += JobLifecycle.History;
        Refresh(("mapping", Healthy()));
        Assert.True(_jobs.ContainsKey("42"));

        _now += TimeSpan.FromSeconds(1);
        Refresh(("mapping", Healthy()));
        Assert.False(_jobs.ContainsKey("42"));
    }

    [Fact]
    public void Apply_SourceFailsWhileItsJobRuns_JobKeepsRunningOnItsGpus()
    {
        Refresh(("mapping", Job("42", gpus: [0])), ("cgroup", Healthy()));
        _now += TimeSpan.FromSeconds(5);

        Refresh(("mapping", JobSourceResult.Failed("unreadable")), ("cgroup", Healthy()));

        var job = _jobs["42"];
        Assert.Null(job.End);
        Assert.Equal(TestClock.Start, job.Start);
        Assert.Equal([GpuA], job.HeldGpus);

        // A healthy source that does not list a job says nothing about the jobs of the failing one either way.
        Refresh(("mapping", Healthy()), ("cgroup", Healthy()));
        Assert.Equal(_now, _jobs["42"].End);
    }

    [Fact]
    public void ForTick_JobOnlyItsProcessesShow_TrackedAndKeptRunningUntilTheyStop()
    {
        Assert.Null(_lifecycle.ForTick(_jobs, "7", hasProcesses: false, _now));
        Assert.Empty(_jobs);

        var job = _lifecycle.ForTick(_jobs, "7", hasProcesses: true, _now);

        Assert.NotNull(job);
        Assert.Same(job, _jobs["7"]);
        _now += TimeSpan.FromSeconds(5);
        Refresh(("mapping", Healthy()));
        Assert.Null(_jobs["7"].End);

        // No process ran since that refresh: the next one ends it.
        _now += TimeSpan.FromSeconds(5);
        Refresh(("mapping", Healthy()));
        Assert.Equal(_now, _jobs["7"].End);
        Assert.Null(_lifecycle.ForTick(_jobs, "7", hasProcesses: false, _now));
    }

    [Fact]
    public void Apply_CgroupCpusAndLimit_KeptWhenAReadFailsAndAfterTheCgroupGoes()
    {
        const double GiB = 1024.0 * 1024 * 1024;
        Refresh(Usage(("42", new CgroupUsage(10, 1 * GiB, 2 * GiB, 8, 16 * GiB))), ("cgroup", Job("42")));
        Assert.Equal((8.0, 16 * GiB), (_jobs["42"].CpusAllocated, _jobs["42"].MemoryLimitBytes));

        // Both files unreadable for a refresh: the last reading stays.
        _now += TimeSpan.FromSeconds(5);
        Refresh(Usage(("42", new CgroupUsage(20, 1 * GiB, 2 * GiB, double.NaN, double.NaN))), ("cgroup", Job("42")));
        Assert.Equal((20.0, 8.0, 16 * GiB), (_jobs["42"].CpuSeconds, _jobs["42"].CpusAllocated, _jobs["42"].MemoryLimitBytes));

        // The job ends and its cgroup goes: the ended record keeps what was read last.
        _now += TimeSpan.FromSeconds(5);
        Refresh(Usage(), ("cgroup", Healthy()));
        Assert.Equal(_now, _jobs["42"].End);
        Assert.Equal((20.0, 8.0, 16 * GiB), (_jobs["42"].CpuSeconds, _jobs["42"].CpusAllocated, _jobs["42"].MemoryLimitBytes));
    }

    [Fact]
    public void Apply_CgroupWithoutMemoryLimit_LimitUnknown()
    {
        Refresh(Usage(("42", new CgroupUsage(1, 2, 3, 4, 5))), ("cgroup", Job("42")));
        Assert.Equal(5, _jobs["42"].MemoryLimitBytes);

        // "max": the limit was lifted, so the old one is no longer the job's.
        Refresh(Usage(("42", new CgroupUsage(1, 2, 3, 4, double.PositiveInfinity))), ("cgroup", Job("42")));

        Assert.True(double.IsNaN(_jobs["42"].MemoryLimitBytes));
        Assert.Equal(4, _jobs["42"].CpusAllocated);
    }

    private static Dictionary<string, CgroupUsage> Usage(params (string Id, CgroupUsage Usage)[] jobs) =>
        jobs.ToDictionary(j => j.Id, j => j.Usage, StringComparer.Ordinal);

    private void Refresh(params (string Source, JobSourceResult Result)[] results) => Refresh(null, results);

    private void Refresh(Dictionary<string, CgroupUsage>? usage, params (string Source, JobSourceResult Result)[] results)
    {
        var findings = new JobFindings();
        foreach (var (source, result) in results)
        {
            findings.Add(source, result);
        }

        findings.KeepJobsOfFailedSources(_jobs);
        _lifecycle.Apply(_jobs, findings, findings.Allocate(Gpus), Gpus, usage, _now);
    }

    private static JobSourceResult Job(string id, string? uid = null, int[]? gpus = null) =>
        new([new JobAssignment(new JobIdentity { JobId = id, Uid = uid }, [.. (gpus ?? []).Select(i => new GpuRef(null, i))])], null);

    private static JobSourceResult Healthy() => new([], null);
}
