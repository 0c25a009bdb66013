using Monitor.Agent.Jobs;
using Monitor.Agent.Jobs.Slurm;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Jobs;

/// <summary>Every mapping format and both cgroup layouts, as fixture trees written here.</summary>
public sealed class JobSourceTests
{
    [Fact]
    public async Task MappingDirectory_IndexAndMigFiles_OtherNamesIgnored()
    {
        using var tree = new TempTree()
            .Write("map/0", "1234\n")
            .Write("map/1", "1234\n5678\n\n")
            .Write("map/2.1", "77\n")
            .Write("map/README", "not a mapping file\n")
            .Write("map/3", "bad id with spaces\n")
            .Write("map/4.x", "99\n");

        var result = await new SlurmMappingDirectorySource(tree.Path("map")).RefreshAsync(CancellationToken.None);

        Assert.True(result.Healthy);
        var jobs = result.Jobs.ToDictionary(j => j.Identity.JobId);
        Assert.Equal(["1234", "5678", "77"], jobs.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([new GpuRef(null, 0), new GpuRef(null, 1)], jobs["1234"].Gpus.OrderBy(g => g.Index));
        Assert.Equal([new GpuRef(null, 1)], jobs["5678"].Gpus);
        Assert.Equal([new GpuRef(null, 2, 1)], jobs["77"].Gpus);
    }

    [Fact]
    public async Task MappingDirectory_Missing_IsHealthyAndEmpty()
    {
        var result = await new SlurmMappingDirectorySource("/nonexistent/monitor-map").RefreshAsync(CancellationToken.None);

        Assert.True(result.Healthy);
        Assert.Empty(result.Jobs);
    }

    [Fact]
    public async Task Gpustat_IndexAndUuidFiles_WithUid()
    {
        using var tree = new TempTree()
            .Write("gpustat/0", "1234 1001\n")
            .Write("gpustat/GPU-5131d000-0000-4000-8000-000000000001", "1234 1001\n")
            .Write("gpustat/MIG-aaaa", "88 1002")
            .Write("gpustat/junk", "1 2\n")
            .Write("gpustat/3", "1234 1001\n99 1003\n")
            .Write("gpustat/.monitor.lock", "")
            .Write("gpustat/.3.tmp.77", "5 5\n")
            .Write("gpustat/2", "\n");

        var result = await new GpustatDirectorySource(tree.Path("gpustat")).RefreshAsync(CancellationToken.None);

        var jobs = result.Jobs.ToDictionary(j => j.Identity.JobId);
        Assert.Equal(["1234", "88", "99"], jobs.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([new GpuRef(null, 3)], jobs["99"].Gpus);
        Assert.Equal("1003", jobs["99"].Identity.Uid);
        Assert.Equal("1001", jobs["1234"].Identity.Uid);
        Assert.Contains(new GpuRef(null, 0), jobs["1234"].Gpus);
        Assert.Contains(new GpuRef("GPU-5131d000-0000-4000-8000-000000000001", null), jobs["1234"].Gpus);
        Assert.Equal([new GpuRef("MIG-aaaa", null)], jobs["88"].Gpus);
    }

    [Fact]
    public async Task JobInfo_IdentityFromThePrologsFiles_BadValuesIgnored()
    {
        using var tree = new TempTree()
            .Write("jobs/4242", "user=alice\nuid=1001\naccount=physics\npartition=gpu\narray_job_id=4240\narray_task_id=2\nsluid=s5K1KKYAYG5D00\n")
            .Write("jobs/77", "user=bob\nuid=not-a-number\naccount=\npartition=bad\u0007value\ncolour=blue\n")
            .Write("jobs/.77.tmp.1", "user=mallory\n")
            .Write("jobs/bad id", "user=x\n");

        var result = await new SlurmJobInfoSource(tree.Path("jobs")).RefreshAsync(CancellationToken.None);

        var jobs = result.Jobs.ToDictionary(j => j.Identity.JobId);
        Assert.Equal(["4242", "77"], jobs.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(
            new JobIdentity { JobId = "4242", User = "alice", Uid = "1001", Account = "physics", Partition = "gpu", ArrayJobId = "4240", ArrayTaskId = "2", Sluid = "s5K1KKYAYG5D00", Containers = jobs["4242"].Identity.Containers },
            jobs["4242"].Identity);
        Assert.Equal(new JobIdentity { JobId = "77", User = "bob", Containers = jobs["77"].Identity.Containers }, jobs["77"].Identity);
        Assert.All(result.Jobs, j => Assert.Empty(j.Gpus));
    }

    [Fact]
    public async Task JobInfo_StartEndAndGpus_ParsedExactlyBadOnesIgnored()
    {
        using var tree = new TempTree()
            .Write("jobs/5", "uid=1001\ngpus=0,2\nstart=1764800000\nend=1764800020\n")
            .Write("jobs/6", "gpus=GPU-5131d000-0000-4000-8000-000000000003,MIG-aa bb,x,99999\nstart=1764800000\n")
            .Write("jobs/7", "start=abc\nend=-5\n")
            .Write("jobs/8", "start=1234567890123\nend=\n");

        var jobs = (await new SlurmJobInfoSource(tree.Path("jobs")).RefreshAsync(CancellationToken.None)).Jobs.ToDictionary(j => j.Identity.JobId);

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1764800000), jobs["5"].Identity.ScheduledStart);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1764800020), jobs["5"].Identity.ScheduledEnd);
        Assert.Equal([new GpuRef(null, 0), new GpuRef(null, 2)], jobs["5"].Gpus);
        Assert.Null(jobs["6"].Identity.ScheduledEnd);
        Assert.Equal([new GpuRef("GPU-5131d000-0000-4000-8000-000000000003", null)], jobs["6"].Gpus);
        Assert.All(new[] { jobs["7"], jobs["8"] }, j => Assert.Equal((null, null), (j.Identity.ScheduledStart, j.Identity.ScheduledEnd)));
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("1700000000", 1700000000L)]
    [InlineData("253402300799", 253402300799L)] // 9999-12-31T23:59:59Z, the last representable second
    [InlineData("abc", null)]
    [InlineData("-5", null)]
    [InlineData("+5", null)]
    [InlineData("1.5", null)]
    [InlineData("1234567890123", null)] // 13 digits
    [InlineData("999999999999", null)] // 12 digits, past the year 9999: ignored, not thrown
    [InlineData("", null)]
    public void JobInfo_ParseIdentity_StartAndEndAreWholeEpochSeconds(string value, long? seconds)
    {
        var identity = SlurmJobInfoSource.ParseIdentity("9", [$"start={value}", $"end={value}"]);

        var expected = seconds is { } s ? DateTimeOffset.FromUnixTimeSeconds(s) : (DateTimeOffset?)null;
        Assert.Equal((expected, expected), (identity.ScheduledStart, identity.ScheduledEnd));
        Assert.Equal(TimeSpan.Zero, identity.ScheduledStart?.Offset ?? TimeSpan.Zero);
    }

    [Fact]
    public void JobInfo_ParseIdentity_StartAndEndExactAlongsideTheIdentity()
    {
        var identity = SlurmJobInfoSource.ParseIdentity("4242", ["user=alice", "uid=1001", "gpus=0", "start=1764800000", "end=1764800020"]);

        Assert.Equal(
            new JobIdentity
            {
                JobId = "4242", User = "alice", Uid = "1001", Containers = identity.Containers,
                ScheduledStart = DateTimeOffset.FromUnixTimeSeconds(1764800000), ScheduledEnd = DateTimeOffset.FromUnixTimeSeconds(1764800020),
            },
            identity);
        Assert.Equal(new DateTimeOffset(2025, 12, 3, 22, 13, 20, TimeSpan.Zero), identity.ScheduledStart);
        Assert.Equal(TimeSpan.FromSeconds(20), identity.ScheduledEnd - identity.ScheduledStart);
    }

    [Fact]
    public async Task CgroupV2_JobsWithCpuAndMemory_MultipleSlurmdAndSluid()
    {
        using var tree = new TempTree()
            .Write("cg/system.slice/slurmstepd.scope/job_100/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
            .Write("cg/system.slice/slurmstepd.scope/job_100/memory.current", "1048576\n")
            .Write("cg/system.slice/slurmstepd.scope/job_100/memory.peak", "4194304\n")
            .Write("cg/system.slice/slurmstepd.scope/job_100/cpuset.cpus.effective", "0-3,64-67\n")
            .Write("cg/system.slice/slurmstepd.scope/job_100/memory.max", "17179869184\n")
            .Write("cg/system.slice/node7_slurmstepd.scope/job_200/memory.max", "max\n")
            .Write("cg/system.slice/node7_slurmstepd.scope/job_200/cpuset.cpus.effective", "0-3,\u0663\n")
            .Write("cg/system.slice/slurmstepd.scope/job_100/step_0/user/task_0/cgroup.procs", "")
            .Write("cg/system.slice/node7_slurmstepd.scope/job_200/cpu.stat", "usage_usec 1000000\n")
            .Write("cg/system.slice/node7_slurmstepd.scope/job_200/memory.current", "garbage\n")
            .Write("cg/system.slice/slurmstepd.scope/s5K1KKYAYG5D00/cpu.stat", "usage_usec 3000000\n")
            .Write("cg/system.slice/slurmstepd.scope/s5K1KKYAYG5D00/step_0/cgroup.procs", "4242\n")
            .Write("proc/4242/environ", "HOME=/home/a\0SLURM_JOB_ID=300\0SLURM_JOB_USER=a\0")
            .Write("cg/system.slice/slurmstepd.scope/system/cgroup.procs", "1\n")
            .Write("cg/system.slice/other.service/job_9/cpu.stat", "usage_usec 1\n");
        var source = new SlurmCgroupSource(tree.Path("cg"), tree.Path("proc"));

        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.True(result.Healthy);
        Assert.Equal(["100", "200", "300"], result.Jobs.Select(j => j.Identity.JobId).Order(StringComparer.Ordinal));
        Assert.Equal(new CgroupUsage(2.5, 1048576, 4194304, 8, 16 * 1024.0 * 1024 * 1024), source.Usage["100"]);
        Assert.Equal(1.0, source.Usage["200"].CpuSeconds);
        Assert.True(double.IsNaN(source.Usage["200"].MemoryBytes));
        Assert.True(double.IsNaN(source.Usage["200"].CpusAllocated)); // an Arabic-Indic digit is no CPU number
        Assert.Equal(double.PositiveInfinity, source.Usage["200"].MemoryLimitBytes); // "max": no limit
        Assert.Equal(3.0, source.Usage["300"].CpuSeconds);
        Assert.True(double.IsNaN(source.Usage["300"].CpusAllocated)); // no cpuset controller: no file
        Assert.True(double.IsNaN(source.Usage["300"].MemoryLimitBytes));
        Assert.Equal("s5K1KKYAYG5D00", result.Jobs.Single(j => j.Identity.JobId == "300").Identity.Sluid);
        Assert.Equal("300", source.Sluids["s5K1KKYAYG5D00"]);
    }

    [Fact]
    public async Task CgroupV1_JobsPerUserWithCpuacctAndMemory()
    {
        using var tree = new TempTree()
            .Write("cg/cpuacct/slurm/uid_1001/job_55/cpuacct.usage", "7500000000\n")
            .Write("cg/memory/slurm/uid_1001/job_55/memory.usage_in_bytes", "2048\n")
            .Write("cg/memory/slurm/uid_1001/job_55/memory.max_usage_in_bytes", "8192\n")
            .Write("cg/memory/slurm/uid_1001/job_55/memory.limit_in_bytes", "4294967296\n")
            .Write("cg/cpuset/slurm/uid_1001/job_55/cpuset.effective_cpus", "2,4-5\n")
            .Write("cg/cpuset/slurm/uid_1001/job_55/cpuset.cpus", "0-31\n")
            .Write("cg/cpu,cpuacct/slurm_node3/uid_1002/job_66/cpuacct.usage", "1000000000\n")
            .Write("cg/memory/slurm_node3/uid_1002/job_66/memory.limit_in_bytes", "9223372036854771712\n")
            .Write("cg/cpuset/slurm_node3/uid_1002/job_66/cpuset.cpus", "0-1\n")
            .Write("cg/cpuacct/notslurm/uid_1/job_1/cpuacct.usage", "1\n");
        var source = new SlurmCgroupSource(tree.Path("cg"), tree.Path("proc"));

        var result = await source.RefreshAsync(CancellationToken.None);

        var jobs = result.Jobs.ToDictionary(j => j.Identity.JobId);
        Assert.Equal(["55", "66"], jobs.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("1001", jobs["55"].Identity.Uid);
        Assert.Equal("1002", jobs["66"].Identity.Uid);
        Assert.Equal(new CgroupUsage(7.5, 2048, 8192, 3, 4294967296), source.Usage["55"]);
        Assert.Equal(1.0, source.Usage["66"].CpuSeconds);

        // No cpuset.effective_cpus (older kernels): cpuset.cpus. v1 writes "no limit" as 2^63 − 4096.
        Assert.Equal(2, source.Usage["66"].CpusAllocated);
        Assert.Equal(double.PositiveInfinity, source.Usage["66"].MemoryLimitBytes);
    }

    [Theory]
    [InlineData("0::/system.slice/slurmstepd.scope/job_812/step_0/user/task_0\n", "812")]
    [InlineData("12:memory:/slurm/uid_1001/job_55/step_batch/task_0\n11:cpuacct:/slurm/uid_1001/job_55/step_batch\n", "55")]
    [InlineData("0::/system.slice/node7_slurmstepd.scope/job_9/step_extern/user/task_special\n", "9")]
    [InlineData("0::/system.slice/slurmstepd.scope/s5K1KKYAYG5D00/step_0/user/task_0\n", "300")]
    [InlineData("0::/system.slice/slurmstepd.scope/sABCDEFGHIJKLM/step_0\n", "sABCDEFGHIJKLM")]
    [InlineData("0::/user.slice/user-1000.slice/session-3.scope\n", null)]
    [InlineData("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-pod1234.slice/cri-containerd-abc.scope\n", null)]
    [InlineData("", null)]
    public void ProcessCgroup_NamesTheJob(string text, string? expected)
    {
        var sluids = new Dictionary<string, string>(StringComparer.Ordinal) { ["s5K1KKYAYG5D00"] = "300" };

        Assert.Equal(expected, ProcessJobResolver.ParseCgroup(text, sluids));
    }

    [Fact]
    public void ProcessResolver_CgroupThenEnvironment_CachedPerRound()
    {
        using var tree = new TempTree()
            .Write("proc/10/cgroup", "0::/system.slice/slurmstepd.scope/job_7/step_0/user/task_0\n")
            .Write("proc/11/cgroup", "0::/user.slice\n")
            .Write("proc/11/environ", "PATH=/bin\0SLURM_JOB_ID=8\0")
            .Write("proc/12/cgroup", "0::/init.scope\n");
        var resolver = new ProcessJobResolver(tree.Path("proc"), () => new Dictionary<string, string>());

        resolver.BeginRound();
        Assert.Equal("7", resolver.JobOf(10));
        Assert.Equal("8", resolver.JobOf(11));
        Assert.Null(resolver.JobOf(12));
        Assert.Null(resolver.JobOf(13));

        // Cached while the pid stays on a GPU; looked up again after it was gone for a round (pid reuse).
        tree.Write("proc/10/cgroup", "0::/system.slice/slurmstepd.scope/job_70/step_0\n");
        resolver.BeginRound();
        Assert.Equal("7", resolver.JobOf(10));
        resolver.BeginRound();
        resolver.BeginRound();
        Assert.Equal("70", resolver.JobOf(10));
    }

    [Fact]
    public void ReadLines_FileRemovedSinceTheListing_NoLinesNotAnError() =>
        Assert.Empty(Monitor.Agent.Jobs.Slurm.MappingFiles.ReadLines("/nonexistent/monitor-tests/0", 4096));
}
