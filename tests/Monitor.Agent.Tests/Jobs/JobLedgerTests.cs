using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.Jobs;
using Monitor.Agent.Configuration;
using Monitor.Agent.Gpu;
using Monitor.Agent.Jobs;
using Monitor.Agent.Jobs.Ledger;
using Monitor.Agent.Tests.Collectors;
using Monitor.Agent.Tests.Support;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Jobs;

/// <summary>
/// The job ledger through the jobs collector: restarts against a scripted GPU trace with hand-computed totals, the
/// files' faults (torn, corrupt, newer, unwritable, full), and the ?since= feed.
/// </summary>
public sealed class JobLedgerTests : IDisposable
{
    private const string Uuid = "GPU-5131d000-0000-4000-8000-000000000000";
    private const string Labels = $"{{gpu=\"0\",job_id=\"7\",uuid=\"{Uuid}\"}}";
    private const string JobCgroupPath = "sys/fs/cgroup/system.slice/slurmstepd.scope/job_7";

    /// <summary>What NVML reports as an H100 80GB HBM3's total memory (81,559 MiB), as the simulated GPUs do.</summary>
    private const double H100Total = 85520809984;
    private readonly TempTree _tree = new TempTree().Write("map/0", "7\n").Write("root/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    private readonly FakeTimeProvider _time = TestClock.Create();

    public void Dispose() => _tree.Dispose();

    /// <summary>The trace: at second t, utilization (t mod 5) / 4, power 100 + 10 t W, tensor active 30 % of the time.</summary>
    private static double Utilization(int t) => t % 5 / 4.0;

    private static double EnergyCounter(int t) => Enumerable.Range(1, t).Sum(s => 100.0 + (10 * s));

    [Fact]
    public void Restart_TenSecondsDownFiveThenTenMore_CountersAreTheTwentyObservedSecondsAndFiveUnobserved()
    {
        // Agent A: the job on GPU 0 for ticks 1–10, then a clean stop (the last checkpoint).
        var (services, harness) = Agent();
        Tick(services, 0);
        harness.Update();
        for (var t = 1; t <= 10; t++)
        {
            Tick(services, t);
        }

        harness.Update();
        var before = PromSamples.Parse(harness.Scrape());
        services.Stop();

        // 5 s down; agent B on the same ledger: its first tick is a baseline, its refresh confirms the job, 10 more ticks.
        var (services2, harness2) = Agent();
        Tick(services2, 15);
        harness2.Update();
        for (var t = 16; t <= 25; t++)
        {
            Tick(services2, t);
        }

        var after = PromSamples.Parse(harness2.Scrape());
        int[] observed = [.. Enumerable.Range(1, 10), .. Enumerable.Range(16, 10)];
        Assert.Equal(10, before["job_gpu_allocated_seconds_total" + Labels], 9);
        Assert.Equal(20, after["job_gpu_allocated_seconds_total" + Labels], 9);
        Assert.Equal(observed.Sum(Utilization), after["job_gpu_busy_seconds_total" + Labels], 9);
        Assert.Equal(observed.Sum(t => EnergyCounter(t) - EnergyCounter(t - 1)), after["job_gpu_energy_joules_total" + Labels], 6);
        Assert.Equal(20 * 0.3, after["job_gpu_tensor_active_seconds_total" + Labels], 9);
        Assert.Equal(5, after["job_unobserved_seconds{job_id=\"7\"}"], 9);
        Assert.Equal(5, after["job_gpu_unobserved_seconds" + Labels], 9);
        Assert.Equal(before["job_start_timestamp_seconds{job_id=\"7\"}"], after["job_start_timestamp_seconds{job_id=\"7\"}"]);
        Assert.Equal(1, after["monitor_jobs_ledger_durable"]);
    }

    [Fact]
    public void Restart_JobGoneWhileDown_EndsAtTheCheckpoint()
    {
        var (services, harness) = Agent();
        Tick(services, 0);
        harness.Update();
        for (var t = 1; t <= 4; t++)
        {
            Tick(services, t);
        }

        harness.Update();

        // A crash: no shutdown checkpoint; the last one is the refresh at t = 4. The job ends while the agent is down.
        File.Delete(_tree.Path("map/0"));
        _time.Advance(TimeSpan.FromSeconds(60));
        var (services2, harness2) = Agent();
        harness2.Update();

        var job = Job(services2, "7");
        Assert.Equal("ended", job.GetProperty("state").GetString());
        Assert.Equal("checkpoint", job.GetProperty("end_source").GetString());
        Assert.Equal(TestClock.Start + TimeSpan.FromSeconds(4), job.GetProperty("end").GetDateTimeOffset());
        Assert.Equal(4, job.GetProperty("gpus")[0].GetProperty("allocated_seconds").GetDouble(), 9);
        Assert.Equal(0, job.GetProperty("unobserved_seconds").GetDouble());
    }

    [Fact]
    public void Checkpoint_TornNewestFile_ThePreviousGoodOneLoadsAndTheErrorIsCounted()
    {
        var (services, harness) = Agent();
        Tick(services, 0);
        harness.Update();
        Tick(services, 1);
        harness.Update();
        Tick(services, 2);
        harness.Update();

        // The newest checkpoint (the third write went to slot a: a, b, a) loses its tail.
        var newest = Path.Join(_tree.Path("state"), "checkpoint.a");
        var bytes = File.ReadAllBytes(newest);
        File.WriteAllBytes(newest, bytes[..(bytes.Length - 9)]);

        using var logs = new CollectingLoggerFactory();
        var (services2, harness2) = Agent(logs);
        var samples = PromSamples.Parse(harness2.Scrape());

        Assert.Equal(1, samples["monitor_jobs_ledger_errors_total{kind=\"corrupt\"}"]);
        Assert.Single(logs.Entries, e => e.Id.Id == 4010);
        Assert.Equal(1, Job(services2, "7").GetProperty("gpus")[0].GetProperty("allocated_seconds").GetDouble(), 9);
    }

    [Fact]
    public void Load_LedgerOfANewerVersion_LeftUntouchedAndAccountingInMemory()
    {
        Directory.CreateDirectory(_tree.Path("state"));
        var path = Path.Join(_tree.Path("state"), "checkpoint.a");
        byte[] newer = [.. "MJLG"u8, LedgerFormat.Version + 1, 0, 0, 0, 1, 2, 3];
        File.WriteAllBytes(path, newer);
        using var logs = new CollectingLoggerFactory();

        var (services, harness) = Agent(logs);
        Tick(services, 0);
        harness.Update();
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(newer, File.ReadAllBytes(path));
        Assert.False(File.Exists(Path.Join(_tree.Path("state"), "checkpoint.b")));
        Assert.Equal(0, samples["monitor_jobs_ledger_durable"]);
        Assert.Equal(1, samples["monitor_jobs_ledger_errors_total{kind=\"newer_version\"}"]);
        Assert.Contains($"written by a newer monitor-agent (ledger format {LedgerFormat.Version + 1}", logs.Entries.Single(e => e.Id.Id == 4011).Message, StringComparison.Ordinal);
        Assert.Equal(1, samples["job_running{job_id=\"7\"}"]);
    }

    [Fact]
    public void Checkpoint_DiskFull_LoggedOnceCountedAndTheFeedWaitsUntilItIsWritten()
    {
        using var logs = new CollectingLoggerFactory();
        var (services, harness) = Agent(logs);
        Tick(services, 0);
        harness.Update();
        var cursor = Feed(services, "0").GetProperty("cursor").GetString()!;
        var ledger = services.Jobs.Ledger!;
        var full = true;
        ledger.FaultInjection = operation =>
        {
            if (full && operation == "write")
            {
                throw new IOException("No space left on device");
            }
        };

        Tick(services, 1);
        harness.Update();
        Tick(services, 2);
        harness.Update();
        var during = PromSamples.Parse(harness.Render());

        // Nothing new is durable, so the feed has nothing new and the series hold the last durable values (a crash now
        // must not take back what a reader saw); accounting goes on in memory and shows once it is written.
        Assert.Equal(2, during["monitor_jobs_ledger_errors_total{kind=\"write\"}"]);
        Assert.Equal(0, Feed(services, cursor).GetProperty("jobs").GetArrayLength());
        Assert.Equal(0, during["job_gpu_allocated_seconds_total" + Labels], 9);
        Assert.Contains("No space left on device", logs.Entries.Single(e => e.Id.Id == 4012).Message, StringComparison.Ordinal);

        full = false;
        Tick(services, 3);
        harness.Update();
        var changed = Feed(services, cursor).GetProperty("jobs");
        Assert.Equal(1, changed.GetArrayLength());
        Assert.Equal(3, changed[0].GetProperty("gpus")[0].GetProperty("allocated_seconds").GetDouble(), 9);
        Assert.Single(logs.Entries, e => e.Id.Id == 4013);
    }

    [Fact]
    public void Feed_RandomStartsEndsAndRestarts_APollerThatSavesItsCursorSeesEveryRevisionOnce()
    {
        // 1,000 random job starts and ends on 4 GPUs over 20 agent restarts; a poller asks after every refresh.
        var random = new Random(20261204);
        var seen = new Dictionary<(string Job, string Start), long>();
        var revisions = new HashSet<long>();
        string cursor = "0";
        var onGpu = new Dictionary<int, int>();
        var next = 1;
        var events = 0;
        for (var restart = 0; restart < 20; restart++)
        {
            var (services, harness) = Agent();
            Tick(services, Now());
            while (events < (restart + 1) * 50)
            {
                // Start a job on a free GPU, or end a running one; then a tick and a refresh.
                if (onGpu.Count < 4 && (onGpu.Count == 0 || random.Next(2) == 0))
                {
                    var gpu = Enumerable.Range(0, 4).First(g => !onGpu.ContainsKey(g));
                    onGpu[gpu] = next;
                    File.WriteAllText(_tree.Path($"map/{gpu}"), $"{next}\n");
                    next++;
                }
                else
                {
                    var gpu = onGpu.Keys.ElementAt(random.Next(onGpu.Count));
                    onGpu.Remove(gpu);
                    File.Delete(_tree.Path($"map/{gpu}"));
                }

                events++;
                Tick(services, Now() + 1, gpus: 4);
                harness.Update();
                var answer = Feed(services, cursor);
                Assert.False(answer.TryGetProperty("reset", out _));
                Assert.False(answer.GetProperty("truncated").GetBoolean());
                foreach (var record in answer.GetProperty("jobs").EnumerateArray())
                {
                    var revision = record.GetProperty("revision").GetInt64();
                    Assert.True(revisions.Add(revision), $"revision {revision} seen twice");
                    var key = (record.GetProperty("job_id").GetString()!, record.GetProperty("start").GetString()!);
                    Assert.True(!seen.TryGetValue(key, out var last) || last < revision, $"{key} went back from {last} to {revision}");
                    seen[key] = revision;
                }

                cursor = answer.GetProperty("cursor").GetString()!;
            }

            if (restart % 2 == 0)
            {
                services.Stop();
            }
        }

        // Every job that started was seen, and its last revision is the ledger's.
        var (final, _) = Agent();
        var all = Feed(final, "0").GetProperty("jobs").EnumerateArray().ToDictionary(j => (j.GetProperty("job_id").GetString()!, j.GetProperty("start").GetString()!), j => j.GetProperty("revision").GetInt64());
        Assert.Equal(next - 1, seen.Count);
        Assert.Equal(all.Count, seen.Count);
        foreach (var (key, revision) in all)
        {
            Assert.Equal(revision, seen[key]);
        }
    }

    [Fact]
    public void Feed_CursorOfAnotherLedger_StartsOverWithReset()
    {
        var (services, harness) = Agent();
        Tick(services, 0);
        harness.Update();

        var answer = Feed(services, $"{Guid.NewGuid():N}-5");

        Assert.True(answer.GetProperty("reset").GetBoolean());
        Assert.Equal(1, answer.GetProperty("jobs").GetArrayLength());
        Assert.NotNull(JobsApi.ParseQuery("not-a-cursor", null, services.Jobs, out _));
    }

    [Fact]
    public void SchedulerTimes_JobFoundLateClaimsTheGapAndIsCutAtTheEpilogsEnd()
    {
        // Slurm starts job 7 at second 2; the refresh at second 5 finds it; the epilog ends it at second 8, and the
        // refresh after the tick at second 9 closes it. Ground truth: the six ticks (2, 8].
        File.Delete(_tree.Path("map/0"));
        var (services, harness) = Agent();
        Tick(services, 0);
        harness.Update();
        for (var t = 1; t <= 5; t++)
        {
            Tick(services, t);
        }

        var start = TestClock.Start.AddSeconds(2).ToUnixTimeSeconds();
        JobInfo($"uid=1000\ngpus=0\nstart={start}\n");
        File.WriteAllText(_tree.Path("map/0"), "7\n");
        harness.Update();
        for (var t = 6; t <= 8; t++)
        {
            Tick(services, t);
        }

        // The epilog: the end record lands (by rename, as the script does) and the mapping file goes.
        JobInfo($"uid=1000\ngpus=0\nstart={start}\nend={start + 6}\n");
        File.Delete(_tree.Path("map/0"));
        Tick(services, 9);
        harness.Update();

        var job = Job(services, "7");
        Assert.Equal(("scheduler", "scheduler", "ended"), (job.GetProperty("start_source").GetString(), job.GetProperty("end_source").GetString(), job.GetProperty("state").GetString()));
        var gpu = job.GetProperty("gpus")[0];
        int[] held = [3, 4, 5, 6, 7, 8];
        Assert.Equal(6, gpu.GetProperty("allocated_seconds").GetDouble(), 9);
        Assert.Equal(held.Sum(Utilization), gpu.GetProperty("busy_seconds").GetDouble(), 9);
        Assert.Equal(EnergyCounter(8) - EnergyCounter(2), gpu.GetProperty("energy_joules").GetDouble(), 6);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SchedulerTimes_OneJobEndsAndTheNextStartsOnItsGpuBetweenTwoRefreshes_EachGetsItsOwnTicks(bool recordsLandOnTime)
    {
        // Job 7 holds GPU 0 from second 0; its epilog ends it at second 3, the prolog starts job 8 there at second 5,
        // and the next refresh comes after the tick at second 10. The records land when the scripts run (the agent's
        // per-tick watch of the job info directory sees the end) or, as a slow file system may show them, all just
        // before the refresh. Either way, ground truth: job 7 gets the ticks (0, 3], job 8 the ticks (5, 10], nobody
        // (3, 5]; job 7's utilization peak is its own ticks' (second 3: 0.75), not the 1.0 of second 4 or 9.
        var start = TestClock.Start.ToUnixTimeSeconds();
        JobInfo($"uid=1000\ngpus=0\nstart={start}\n");
        var (services, harness) = Agent();
        Tick(services, 0);
        harness.Update();
        for (var t = 1; t <= 10; t++)
        {
            Tick(services, t);
            if (recordsLandOnTime ? t == 3 : t == 10)
            {
                JobInfo($"uid=1000\ngpus=0\nstart={start}\nend={start + 3}\n");
            }

            if (recordsLandOnTime ? t == 5 : t == 10)
            {
                JobInfo($"uid=1001\ngpus=0\nstart={start + 5}\n", "8");
                File.WriteAllText(_tree.Path("map/0"), "8\n");
            }
        }

        harness.Update();

        var first = Job(services, "7");
        Assert.Equal(("scheduler", "ended"), (first.GetProperty("end_source").GetString(), first.GetProperty("state").GetString()));
        var gpu = first.GetProperty("gpus")[0];
        Assert.Equal(3, gpu.GetProperty("allocated_seconds").GetDouble(), 9);
        Assert.Equal(new[] { 1, 2, 3 }.Sum(Utilization), gpu.GetProperty("busy_seconds").GetDouble(), 9);
        Assert.Equal(EnergyCounter(3), gpu.GetProperty("energy_joules").GetDouble(), 6);
        Assert.Equal(0.3 * 3, gpu.GetProperty("tensor_active_seconds").GetDouble(), 9);
        Assert.Equal(0.75, gpu.GetProperty("utilization_peak").GetDouble(), 9);

        var second = Job(services, "8");
        Assert.Equal(("scheduler", "running"), (second.GetProperty("start_source").GetString(), second.GetProperty("state").GetString()));
        gpu = second.GetProperty("gpus")[0];
        Assert.Equal(5, gpu.GetProperty("allocated_seconds").GetDouble(), 9);
        Assert.Equal(new[] { 6, 7, 8, 9, 10 }.Sum(Utilization), gpu.GetProperty("busy_seconds").GetDouble(), 9);
        Assert.Equal(EnergyCounter(10) - EnergyCounter(5), gpu.GetProperty("energy_joules").GetDouble(), 6);
        Assert.Equal(1.0, gpu.GetProperty("utilization_peak").GetDouble(), 9);

        // From here on job 8 alone holds it, tick by tick.
        Tick(services, 11);
        harness.Update();
        Assert.Equal(6, Job(services, "8").GetProperty("gpus")[0].GetProperty("allocated_seconds").GetDouble(), 9);
    }

    [Fact]
    public void Load_DirectoryThatCannotBeCreated_RunsInMemoryAndSaysWhy()
    {
        using var logs = new CollectingLoggerFactory();
        var ledger = new JobLedger("/proc/1/monitor-ledger", logs.CreateLogger("jobs"));

        Assert.Empty(ledger.Load());

        Assert.Equal(LedgerMode.Memory, ledger.Mode);
        Assert.Equal(1, ledger.Errors["unusable_path"]);
        Assert.Contains("cannot write /proc/1/monitor-ledger", logs.Entries.Single(e => e.Id.Id == 4011).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 1)]
    public void Retention_AcknowledgedEndedJobs_DroppedEarlyOnlyWhenAsked(bool pruneAcknowledged, int endedLeft)
    {
        // Two jobs end; a reader acknowledges the first one's revision; a third refresh prunes.
        var (services, harness) = Agent(pruneAcknowledged: pruneAcknowledged ? "true" : "false");
        File.WriteAllText(_tree.Path("map/1"), "8\n");
        Tick(services, 0, gpus: 2);
        harness.Update();
        File.Delete(_tree.Path("map/0"));
        Tick(services, 1, gpus: 2);
        harness.Update();
        var first = Feed(services, "0");
        var seven = first.GetProperty("jobs").EnumerateArray().Single(j => j.GetProperty("job_id").GetString() == "7").GetProperty("revision").GetInt64();
        File.Delete(_tree.Path("map/1"));
        Tick(services, 2, gpus: 2);
        harness.Update();

        // The reader's next poll acknowledges everything up to job 7's end, not job 8's.
        Feed(services, services.Jobs.Ledger!.Cursor(seven));
        Tick(services, 3, gpus: 2);
        harness.Update();

        var ended = Document(services, null).GetProperty("jobs").EnumerateArray().Where(j => j.GetProperty("state").GetString() == "ended").ToList();
        Assert.Equal(endedLeft, ended.Count);
        Assert.Contains(ended, j => j.GetProperty("job_id").GetString() == "8");
    }

    [Fact]
    public void Feed_WhatTheAgentWrites_TheContractReadsFieldForField()
    {
        // The aggregator reads the agent's feed through Monitor.Contracts: the agent's own answer must parse to the same
        // values. Job 7 has a cgroup (8 CPUs, 16 GiB) until it ends, when the cgroup goes with the mapping file.
        JobCgroup(cpus: "0-3,64-67\n", limit: "17179869184\n");
        var (services, harness) = Agent(cgroup: true);
        Tick(services, 0);
        harness.Update();
        for (var t = 1; t <= 3; t++)
        {
            Tick(services, t, memoryUsed: 1e9 * t);
        }

        // While it runs, the GPU memory it holds now is the last tick's (a sole holder: the GPU's used memory).
        harness.Update();
        Assert.Equal(3e9, Assert.Single(Assert.Single(Monitor.Contracts.JobsFeedReader.Parse(Feed(services)).Jobs).Gpus).MemoryUsedBytes);
        File.Delete(_tree.Path("map/0"));
        Directory.Delete(_tree.Path(JobCgroupPath), recursive: true);
        Tick(services, 4);
        harness.Update();
        using var buffer = new MemoryStream();
        Assert.Null(JobsApi.ParseQuery("0", null, services.Jobs, out var query));
        using (var json = new Utf8JsonWriter(buffer))
        {
            JobsApi.Write(json, services.Jobs, "node1", _time.GetUtcNow(), query);
        }

        var page = Monitor.Contracts.JobsFeedReader.Parse(buffer.ToArray());
        var mine = Document(services, query).GetProperty("jobs")[0];

        Assert.Equal(("node1", false, false, false), (page.Node, page.More, page.Truncated, page.Reset));
        Assert.Equal(services.Jobs.Ledger!.Cursor(services.Jobs.Ledger.DurableRevision), page.Cursor);
        var job = Assert.Single(page.Jobs);
        Assert.Equal(("7", "slurm", "ended", "agent", "agent"), (job.JobId, job.Scheduler, job.State, job.StartSource, job.EndSource));
        Assert.Equal(mine.GetProperty("revision").GetInt64(), job.Revision);
        Assert.Equal(mine.GetProperty("start").GetDateTimeOffset(), job.Start);
        Assert.Equal(mine.GetProperty("end").GetDateTimeOffset(), job.End);
        Assert.Equal((2.5, 1048576.0, 4194304.0), (job.CpuSeconds, job.MemoryBytes, job.MemoryPeakBytes));
        Assert.Equal((8.0, 17179869184.0), (job.CpusAllocated, job.MemoryLimitBytes));
        Assert.Equal((8.0, 17179869184.0), (mine.GetProperty("cpus_allocated").GetDouble(), mine.GetProperty("memory_limit_bytes").GetDouble()));
        var gpu = Assert.Single(job.Gpus);
        Assert.Equal((0, Uuid, false), (gpu.Index, gpu.Uuid, gpu.Held));
        Assert.Equal(4, gpu.AllocatedSeconds, 9);
        Assert.Equal(Enumerable.Range(1, 4).Sum(Utilization), gpu.BusySeconds, 9);
        Assert.Equal(EnergyCounter(4), gpu.EnergyJoules, 6);
        Assert.Equal(4 * 0.3, gpu.TensorActiveSeconds, 9);
        Assert.Equal(H100Total, gpu.MemoryTotalBytes);
        Assert.Equal(H100Total, mine.GetProperty("gpus")[0].GetProperty("memory_total_bytes").GetDouble());
        Assert.Equal(3e9, gpu.MemoryPeakBytes);
        Assert.Null(gpu.MemoryUsedBytes);   // no longer held: no current value
    }

    [Fact]
    public void Cgroup_CpusAndLimit_InTheSeriesWhileItRunsAndInTheLedgerAfterItsCgroupWentAndARestart()
    {
        JobCgroup(cpus: "0-3,64-67\n", limit: "17179869184\n");
        var (services, harness) = Agent(cgroup: true);
        Tick(services, 0);
        harness.Update();
        Tick(services, 1);
        harness.Update();
        var running = PromSamples.Parse(harness.Scrape());
        Assert.Equal(8, running["job_cpus_allocated{job_id=\"7\"}"]);
        Assert.Equal(17179869184, running["job_memory_limit_bytes{job_id=\"7\"}"]);

        // The job ends: its cgroup is removed with it, and the ledger's final record keeps the last reading.
        File.Delete(_tree.Path("map/0"));
        Directory.Delete(_tree.Path(JobCgroupPath), recursive: true);
        Tick(services, 2);
        harness.Update();
        var ended = PromSamples.Parse(harness.Scrape());
        Assert.Equal(0, ended["job_running{job_id=\"7\"}"]);
        Assert.Equal(8, ended["job_cpus_allocated{job_id=\"7\"}"]);
        services.Stop();

        var (after, _) = Agent(cgroup: true);
        var job = Job(after, "7");
        Assert.Equal("ended", job.GetProperty("state").GetString());
        Assert.Equal(8, job.GetProperty("cpus_allocated").GetDouble());
        Assert.Equal(17179869184, job.GetProperty("memory_limit_bytes").GetDouble());
        Assert.Equal(H100Total, job.GetProperty("gpus")[0].GetProperty("memory_total_bytes").GetDouble());
    }

    [Fact]
    public void CpuEnergy_TheWholeNodesJobGetsThePackageAndDramDeltas_ASharedNodeNone_KeptAcrossARestart()
    {
        // Eight CPUs online, all in job 7's cpuset. Package 0 with its core (inside the package) and DRAM subzones,
        // and a psys zone (the whole platform): only package + DRAM count.
        JobCgroup(cpus: "0-7\n", limit: "max\n");
        _tree.Write("sys/devices/system/cpu/online", "0-7\n");
        Rapl(package: 1_000_000, core: 0, dram: 500_000, psys: 0);
        var (services, harness) = Agent(cgroup: true);
        Tick(services, 0);
        harness.Update();                                   // primes the meter: nothing to credit yet

        Rapl(package: 11_000_000, core: 9_000_000, dram: 2_500_000, psys: 90_000_000);
        Tick(services, 1);
        harness.Update();                                   // 10 J package + 2 J DRAM
        Assert.Equal(12, PromSamples.Parse(harness.Scrape())["job_cpu_energy_joules_total{job_id=\"7\"}"], 9);

        // The package counter wraps at max_energy_range_uj (262143.328850 J here): 0.671150 J to the top, 3 J after.
        Rapl(package: RaplRange - 671_150, core: 0, dram: 2_500_000, psys: 0);
        Tick(services, 2);
        harness.Update();
        Rapl(package: 3_000_000, core: 0, dram: 3_500_000, psys: 0);
        Tick(services, 3);
        harness.Update();
        var expected = 12 + ((RaplRange - 671_150 - 11_000_000) / 1e6) + 0.67115 + 3 + 1;
        Assert.Equal(expected, Job(services, "7").GetProperty("cpu_energy_joules").GetDouble(), 6);

        // Sixteen CPUs online: the job no longer holds the whole node, so the next interval goes to no job.
        _tree.Write("sys/devices/system/cpu/online", "0-15\n");
        Rapl(package: 53_000_000, core: 0, dram: 3_500_000, psys: 0);
        Tick(services, 4);
        harness.Update();
        Assert.Equal(expected, Job(services, "7").GetProperty("cpu_energy_joules").GetDouble(), 6);
        services.Stop();

        var (after, _) = Agent(cgroup: true);
        Assert.Equal(expected, Job(after, "7").GetProperty("cpu_energy_joules").GetDouble(), 6);
    }

    [Fact]
    public void CpuEnergy_NoRapl_NullInTheFeedAndNoSeries()
    {
        JobCgroup(cpus: "0-7\n", limit: "max\n");
        _tree.Write("sys/devices/system/cpu/online", "0-7\n");
        var (services, harness) = Agent(cgroup: true);
        for (var t = 0; t < 3; t++)
        {
            Tick(services, t);
            harness.Update();
        }

        Assert.Equal(JsonValueKind.Null, Job(services, "7").GetProperty("cpu_energy_joules").ValueKind);
        Assert.DoesNotContain("job_cpu_energy_joules_total", harness.Scrape(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0-63\n", 64)]
    [InlineData("0\n", 1)]
    [InlineData("0-3,8-11\n", 8)]
    [InlineData("0,2,4\n", 3)]
    [InlineData("garbage\n", null)]
    [InlineData("", null)]
    public void OnlineCpus_CountsTheKernelsRanges(string online, int? expected)
    {
        _tree.Write("sys/devices/system/cpu/online", online);
        Assert.Equal(expected, CpuEnergyMeter.OnlineCpus(_tree.Path("sys")));
    }

    [Fact]
    public void Cgroup_WithoutLimitOrCpuset_NoSeriesAndNullInTheFeed()
    {
        // "max" is no limit; a cgroup without the cpuset controller has no cpuset file.
        JobCgroup(cpus: null, limit: "max\n");
        var (services, harness) = Agent(cgroup: true);
        Tick(services, 0);
        harness.Update();

        var samples = PromSamples.Parse(harness.Scrape());
        var job = Job(services, "7");

        Assert.Equal(2.5, samples["job_cpu_seconds_total{job_id=\"7\"}"]);
        Assert.False(samples.ContainsKey("job_cpus_allocated{job_id=\"7\"}"));
        Assert.False(samples.ContainsKey("job_memory_limit_bytes{job_id=\"7\"}"));
        Assert.Equal(JsonValueKind.Null, job.GetProperty("cpus_allocated").ValueKind);
        Assert.Equal(JsonValueKind.Null, job.GetProperty("memory_limit_bytes").ValueKind);
    }

    [Fact]
    public void Load_LedgerOfFormat1_EveryValueReadAndTheNewFieldsUnknown()
    {
        // tests/fixtures/ledger-v1: written by the format 1 build (its README lists the values).
        var ledger = new JobLedger(CopyLedgerV1(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        var running = Assert.Single(ledger.Load());
        var ended = Assert.Single(ledger.Ended);

        Assert.Equal(0, ledger.Errors.Values.Sum());
        Assert.Equal(LedgerMode.Durable, ledger.Mode);
        Assert.Equal(2, ledger.Revision);
        var start = DateTimeOffset.Parse("2026-11-29T11:30:38.123Z", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(new JobIdentity { JobId = "7", User = "alice", Uid = "1001", Account = "physics", Partition = "gpu", ScheduledStart = start }, running.Identity with { Containers = [] });
        Assert.Equal((start, JobTimeSource.Scheduler, (DateTimeOffset?)null, 1L, 2.5), (running.Start, running.StartSource, running.End, running.Revision, running.UnobservedSeconds));
        Assert.Equal((8123.25, 68719476736.0, 70866960384.0), (running.CpuSeconds, running.MemoryBytes, running.MemoryPeakBytes));
        Assert.Equal(["slurm_mapping"], running.Sources);
        Assert.Equal([Uuid], running.HeldGpus);
        var u = running.Gpus[Uuid];
        Assert.Equal((0, 3600.0, 3312.5, 2301120.25, 2410.125, 3105.875, 65290260620.0, 1L, 2L, 0.5, 1795955438.0),
            (u.Index, u.AllocatedSeconds, u.BusySeconds, u.EnergyJoules, u.TensorActiveSeconds, u.SmActiveSeconds, u.MemoryPeakBytes, u.XidErrors, u.EccErrors, u.UnobservedSeconds, u.LastTickUnix));

        Assert.Equal(("8", "1002", 2L, start.AddSeconds(10), start.AddSeconds(70), JobTimeSource.Agent), (ended.Identity.JobId, ended.Identity.Uid, ended.Revision, ended.Start, ended.End, ended.EndSource));
        Assert.Equal((59.75, 4096.0), (ended.CpuSeconds, ended.MemoryPeakBytes));
        Assert.True(double.IsNaN(ended.MemoryBytes));
        Assert.Equal([1, 2], ended.Gpus.Values.Select(g => g.Index).Order());
        Assert.All(ended.Gpus.Values, g => Assert.Equal((60.0, 30.0 + g.Index, 1000.0 * g.Index, 1073741824.0, 1795951908.0), (g.AllocatedSeconds, g.BusySeconds, g.EnergyJoules, g.MemoryPeakBytes, g.LastTickUnix)));

        // Format 1 has none of the new fields.
        Assert.All([running, ended], j => Assert.True(double.IsNaN(j.CpusAllocated) && double.IsNaN(j.MemoryLimitBytes)));
        Assert.All(running.Gpus.Values.Concat(ended.Gpus.Values), g => Assert.True(double.IsNaN(g.MemoryTotalBytes)));
    }

    [Fact]
    public void Load_LedgerOfFormat1_AJobEndsAndARestart_TheLogIsRewrittenInFormat2AndHoldsBothRecords()
    {
        // Appending a format 2 record to a format 1 log would make it unreadable: the log is rewritten first.
        var directory = CopyLedgerV1();
        var ledger = new JobLedger(directory, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var running = Assert.Single(ledger.Load());
        running.End = running.Start.AddHours(2);
        running.CpusAllocated = 16;
        running.MemoryLimitBytes = 34359738368;
        running.Gpus[Uuid].MemoryTotalBytes = H100Total;
        running.Gpus[Uuid].UtilizationPeak = 0.875;
        ledger.Close(running);
        ledger.Checkpoint([], running.Start.AddHours(2));

        using var logs = new CollectingLoggerFactory();
        var reloaded = new JobLedger(directory, logs.CreateLogger("jobs"));
        Assert.Empty(reloaded.Load());

        Assert.Empty(logs.Entries);
        Assert.Equal(0, reloaded.Errors.Values.Sum());
        Assert.Equal(LedgerFormat.Version, LedgerFormat.ReadHeader(File.ReadAllBytes(Path.Join(directory, "ended.log"))));
        Assert.Equal(["7", "8"], reloaded.Ended.Select(j => j.Identity.JobId).Order(StringComparer.Ordinal));
        var seven = reloaded.Ended.Single(j => j.Identity.JobId == "7");
        var eight = reloaded.Ended.Single(j => j.Identity.JobId == "8");
        Assert.Equal((16.0, 34359738368.0, H100Total, 8123.25, 0.875), (seven.CpusAllocated, seven.MemoryLimitBytes, seven.Gpus[Uuid].MemoryTotalBytes, seven.CpuSeconds, seven.Gpus[Uuid].UtilizationPeak));
        Assert.True(double.IsNaN(eight.CpusAllocated) && double.IsNaN(eight.MemoryLimitBytes));
        Assert.Equal((59.75, 4096.0), (eight.CpuSeconds, eight.MemoryPeakBytes));
    }

    [Fact]
    public void Feed_RecordsOfAFormat1Ledger_NewFieldsNullAndTheContractReadsThemAsUnknown()
    {
        CopyLedgerV1(_tree.Path("state"));
        var (services, _) = Agent();

        using var buffer = new MemoryStream();
        Assert.Null(JobsApi.ParseQuery("0", null, services.Jobs, out var query));
        using (var json = new Utf8JsonWriter(buffer))
        {
            JobsApi.Write(json, services.Jobs, "node1", _time.GetUtcNow(), query);
        }

        var eight = JsonDocument.Parse(buffer.ToArray()).RootElement.GetProperty("jobs").EnumerateArray().Single(j => j.GetProperty("job_id").GetString() == "8");
        var record = Monitor.Contracts.JobsFeedReader.Parse(buffer.ToArray()).Jobs.Single(j => j.JobId == "8");

        Assert.Equal(JsonValueKind.Null, eight.GetProperty("cpus_allocated").ValueKind);
        Assert.Equal(JsonValueKind.Null, eight.GetProperty("memory_limit_bytes").ValueKind);
        Assert.Equal(JsonValueKind.Null, eight.GetProperty("gpus")[0].GetProperty("memory_total_bytes").ValueKind);
        Assert.Equal((null, null, 59.75), (record.CpusAllocated, record.MemoryLimitBytes, record.CpuSeconds));
        Assert.All(record.Gpus, g => Assert.Null(g.MemoryTotalBytes));
        Assert.Equal(2, record.Gpus.Count);
    }

    [Fact]
    public void Format_JobRoundTrips_EveryField()
    {
        var job = new TrackedJob(
            new JobIdentity
            {
                JobId = "ns/pod", Scheduler = "kubernetes", User = "alice", Uid = "1000", Account = "a", Partition = "p", ArrayJobId = "1", ArrayTaskId = "2",
                Sluid = "s5K", Namespace = "ns", Pod = "pod", PodUid = "uid", Containers = ["c1", "c2"], ScheduledStart = TestClock.Start, ScheduledEnd = TestClock.Start.AddSeconds(9),
            },
            TestClock.Start.AddMilliseconds(123))
        {
            StartSource = JobTimeSource.Scheduler, End = TestClock.Start.AddSeconds(9), EndSource = JobTimeSource.Checkpoint, Revision = 42, UnobservedSeconds = 1.5,
            CpuSeconds = 2.5, MemoryBytes = double.NaN, MemoryPeakBytes = 7, CpusAllocated = 12, MemoryLimitBytes = 17179869184.5,
        };
        job.Sources.Add("slurm_mapping");
        var usage = job.Gpu(3, Uuid);
        (usage.AllocatedSeconds, usage.BusySeconds, usage.EnergyJoules, usage.TensorActiveSeconds, usage.SmActiveSeconds) = (1, 2, 3, 4, 5);
        (usage.MemoryPeakBytes, usage.XidErrors, usage.EccErrors, usage.UnobservedSeconds, usage.LastTickUnix, usage.MemoryTotalBytes) = (6, 7, 8, 9, 10, H100Total);
        job.HeldGpus.Add(Uuid);
        var unknown = job.Gpu(4, "GPU-5131d000-0000-4000-8000-000000000004"); // no tick credited: total unknown

        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, LedgerFormat.Utf8, leaveOpen: true))
        {
            LedgerFormat.WriteJob(w, job, LedgerFormat.WriteGpuTable(w, [job]));
        }

        buffer.Position = 0;
        using var r = new BinaryReader(buffer, LedgerFormat.Utf8);
        var back = LedgerFormat.ReadJob(r, LedgerFormat.ReadGpuTable(r));

        Assert.Equal(job.Identity with { Containers = [] }, back.Identity with { Containers = [] });
        Assert.Equal(["c1", "c2"], back.Identity.Containers);
        Assert.Equal((job.Start, job.StartSource, job.End, job.EndSource, job.Revision, job.UnobservedSeconds), (back.Start, back.StartSource, back.End, back.EndSource, back.Revision, back.UnobservedSeconds));
        Assert.Equal((2.5, 7.0), (back.CpuSeconds, back.MemoryPeakBytes));
        Assert.True(double.IsNaN(back.MemoryBytes));
        Assert.Equal(["slurm_mapping"], back.Sources);
        Assert.Equal([Uuid], back.HeldGpus);
        Assert.Equal((12.0, 17179869184.5), (back.CpusAllocated, back.MemoryLimitBytes));
        Assert.Equal(buffer.Length, buffer.Position); // nothing left over
        var u = back.Gpus[Uuid];
        Assert.Equal((3, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7L, 8L, 9.0, 10.0), (u.Index, u.AllocatedSeconds, u.BusySeconds, u.EnergyJoules, u.TensorActiveSeconds, u.SmActiveSeconds, u.MemoryPeakBytes, u.XidErrors, u.EccErrors, u.UnobservedSeconds, u.LastTickUnix));
        Assert.Equal(H100Total, u.MemoryTotalBytes);
        Assert.True(double.IsNaN(back.Gpus[unknown.Uuid].MemoryTotalBytes));
    }

    [Theory]
    [InlineData(1, 16 + 16 + 8)]   // version 2's doubles (a job's CPUs and memory limit, a GPU's memory total and utilization peak), version 3's
    [InlineData(2, 8)]             // version 3's: the job's CPU energy
    public void Format_EachVersionAppendsItsFields_AnOlderReaderLeavesThemUnread(int version, int left)
    {
        var job = new TrackedJob(new JobIdentity { JobId = "1" }, TestClock.Start) { CpusAllocated = 4, CpuEnergyJoules = 12 };
        job.Gpu(0, Uuid).MemoryTotalBytes = H100Total;
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, LedgerFormat.Utf8, leaveOpen: true))
        {
            LedgerFormat.WriteJob(w, job, LedgerFormat.WriteGpuTable(w, [job]));
        }

        buffer.Position = 0;
        using var r = new BinaryReader(buffer, LedgerFormat.Utf8);
        var older = LedgerFormat.ReadJob(r, LedgerFormat.ReadGpuTable(r), version);

        Assert.Equal(left, buffer.Length - buffer.Position);
        Assert.True(double.IsNaN(older.CpuEnergyJoules));
        Assert.Equal(version >= 2, !double.IsNaN(older.CpusAllocated));
        Assert.Throws<InvalidDataException>(() => LedgerFormat.AtEnd(r));

        buffer.Position = 0;
        using var current = new BinaryReader(buffer, LedgerFormat.Utf8);
        Assert.Equal(12, LedgerFormat.ReadJob(current, LedgerFormat.ReadGpuTable(current)).CpuEnergyJoules);
    }

    private (AgentServices Services, CollectorHarness Harness) Agent(CollectingLoggerFactory? logs = null, string? pruneAcknowledged = null, bool cgroup = false)
    {
        var services = new AgentServices();
        var settings = new Dictionary<string, string?>
        {
            ["slurm-mapping-dir"] = _tree.Path("map"), ["gpustat-dir"] = _tree.Path("none"), ["slurm-jobinfo-dir"] = _tree.Path("jobs"),
            ["state-path"] = _tree.Path("state"), ["slurm-cgroup"] = cgroup ? "true" : "false", ["processes"] = "false", ["prune-acknowledged"] = pruneAcknowledged,
        };
        var harness = new CollectorHarness(
            JobsCollector.Descriptor, new HostPaths(_tree.Path("proc"), _tree.Path("sys"), _tree.Path("root")), settings, logs?.CreateLogger("jobs"), _time, services);
        return (services, harness);
    }

    /// <summary>The clock moves to second <paramref name="t"/> of the trace and every GPU ticks with the trace's values.</summary>
    private void Tick(AgentServices services, int t, int gpus = 1, double memoryUsed = double.NaN)
    {
        var now = TestClock.Start + TimeSpan.FromSeconds(t);
        if (now > _time.GetUtcNow())
        {
            _time.Advance(now - _time.GetUtcNow());
        }

        var devices = new List<GpuTickDevice>();
        for (var g = 0; g < gpus; g++)
        {
            var sample = new GpuSample { Timestamp = 1 };
            sample[GpuValue.Utilization] = Utilization(t);
            sample[GpuValue.Energy] = EnergyCounter(t);
            sample[GpuValue.TensorActiveSeconds] = 0.3 * t;
            sample[GpuValue.MemoryTotal] = H100Total;
            sample[GpuValue.MemoryUsed] = memoryUsed;
            devices.Add(new GpuTickDevice(g, $"GPU-5131d000-0000-4000-8000-{g:D12}", sample, Healthy: true));
        }

        services.Gpu.Publish(_time.GetTimestamp(), devices);
    }

    private int Now() => (int)(_time.GetUtcNow() - TestClock.Start).TotalSeconds;

    /// <summary>
    /// Job 7's cgroup v2 directory: 2.5 CPU seconds, 1 MiB now, 4 MiB peak, and <paramref name="cpus"/> as
    /// cpuset.cpus.effective (none when null) and <paramref name="limit"/> as memory.max.
    /// </summary>
    /// <summary>max_energy_range_uj of the fixture's RAPL zones.</summary>
    private const double RaplRange = 262_143_328_850;

    /// <summary>Writes the fixture's RAPL zones with these energy_uj values.</summary>
    private void Rapl(double package, double core, double dram, double psys)
    {
        foreach (var (zone, name, value) in new[] { ("intel-rapl:0", "package-0", package), ("intel-rapl:0:0", "core", core), ("intel-rapl:0:1", "dram", dram), ("intel-rapl:1", "psys", psys) })
        {
            _tree.Write($"sys/class/powercap/{zone}/name", name + "\n")
                .Write($"sys/class/powercap/{zone}/max_energy_range_uj", RaplRange.ToString(CultureInfo.InvariantCulture) + "\n")
                .Write($"sys/class/powercap/{zone}/energy_uj", value.ToString(CultureInfo.InvariantCulture) + "\n");
        }
    }

    private void JobCgroup(string? cpus, string limit)
    {
        _tree.Write(JobCgroupPath + "/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
            .Write(JobCgroupPath + "/memory.current", "1048576\n").Write(JobCgroupPath + "/memory.peak", "4194304\n").Write(JobCgroupPath + "/memory.max", limit);
        if (cpus is not null)
        {
            _tree.Write(JobCgroupPath + "/cpuset.cpus.effective", cpus);
        }
    }

    /// <summary>Copies tests/fixtures/ledger-v1 (a format 1 ledger) to <paramref name="directory"/> (a new one when null); returns it.</summary>
    private string CopyLedgerV1(string? directory = null)
    {
        directory ??= _tree.Path("v1-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        foreach (var name in (string[])["checkpoint.a", "ended.log"])
        {
            File.Copy(Fixtures.Path("ledger-v1", name), Path.Join(directory, name));
        }

        return directory;
    }

    /// <summary>Writes a job's info file (job 7's by default) by rename, as the prolog and epilog do (the directory's time moves).</summary>
    private void JobInfo(string content, string id = "7")
    {
        Directory.CreateDirectory(_tree.Path("jobs"));
        File.WriteAllText(_tree.Path($"jobs/.{id}.tmp"), content);
        File.Move(_tree.Path($"jobs/.{id}.tmp"), _tree.Path($"jobs/{id}"), overwrite: true);
    }

    /// <summary>The whole feed from revision 0, as the agent serves it.</summary>
    private byte[] Feed(AgentServices services)
    {
        using var buffer = new MemoryStream();
        Assert.Null(JobsApi.ParseQuery("0", null, services.Jobs, out var query));
        using (var json = new Utf8JsonWriter(buffer))
        {
            JobsApi.Write(json, services.Jobs, "node1", _time.GetUtcNow(), query);
        }

        return buffer.ToArray();
    }

    private JsonElement Job(AgentServices services, string id) =>
        Document(services, null).GetProperty("jobs").EnumerateArray().Single(j => j.GetProperty("job_id").GetString() == id);

    private JsonElement Feed(AgentServices services, string since)
    {
        Assert.Null(JobsApi.ParseQuery(since, null, services.Jobs, out var query));
        return Document(services, query);
    }

    private JsonElement Document(AgentServices services, FeedQuery? query)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            JobsApi.Write(json, services.Jobs, "node1", _time.GetUtcNow(), query);
        }

        return JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();
    }
}
