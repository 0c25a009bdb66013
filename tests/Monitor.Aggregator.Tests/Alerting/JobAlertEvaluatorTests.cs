using Monitor.Aggregator.Alerting;
using Monitor.Aggregator.Collection;
using Monitor.Contracts;

namespace Monitor.Aggregator.Tests.Alerting;

/// <summary>
/// The job alert rules over polls of stand-in records at known times, with the default thresholds: each fires exactly
/// when its condition has held for its window, carries the job's labels, and clears.
/// </summary>
public sealed class JobAlertEvaluatorTests
{
    private const double GiB = 1L << 30;
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 8, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<string, IReadOnlySet<string>> NoStates = new(StringComparer.Ordinal);
    private readonly JobAlertRules _rules = new();
    private readonly RunningJobs _jobs;
    private readonly JobAlertEvaluator _evaluator;

    public JobAlertEvaluatorTests()
    {
        _jobs = new RunningJobs(_rules.SampleEvery, _rules.LongestWindow, _rules.MemoryFull.Threshold);
        _evaluator = new JobAlertEvaluator(_rules, "hpc1");
    }

    [Fact]
    public void Idle_GpuUnderFivePercentForThirtyMinutes_FiresWithTheJobsLabelsAndClearsWhenBusy()
    {
        // Job 10 on node a: GPU 0 2 % busy, GPU 1 60 % busy, polled every 30 s. Its GPU 0 fires once the history
        // covers 30 minutes (the whole-job form waits 15 minutes but the job's first minutes were busy: 50 %).
        var busy0 = 300.0;   // 5 busy minutes at the start
        for (var s = 0; s <= 40 * 60; s += 30)
        {
            Poll("a", Record("10", T0.AddMinutes(-10), Gpu(0, 600 + s, busy0 + (0.02 * s)), Gpu(1, 600 + s, 360 + (0.6 * s))), T0.AddSeconds(s));
            var firing = Evaluate(T0.AddSeconds(s));
            if (s < 30 * 60)
            {
                Assert.DoesNotContain(firing, a => a.Name == "JobGpuIdle");
            }
            else
            {
                var alert = Assert.Single(firing, a => a.Name == "JobGpuIdle");
                Assert.Equal(
                    [("alertname", "JobGpuIdle"), ("account", "physics"), ("cluster", "hpc1"), ("gpu", "0"), ("job_id", "10"), ("node", "a"), ("partition", "h100"),
                     ("severity", "warning"), ("team", "tenant"), ("user", "alice")],
                    alert.Labels.Select(l => (l.Key, l.Value)));
                Assert.Equal("https://github.com/monitor/monitor/blob/main/docs/runbooks.md#jobgpuidle", alert.RunbookUrl);
                Assert.Contains("was 2 % busy over the last 30 min (threshold 5 %)", alert.Description, StringComparison.Ordinal);
            }
        }

        // Busy again: over the last 30 minutes the GPU is above 5 %, so the alert clears.
        var at = 40 * 60;
        for (var s = 1; s <= 40; s++)
        {
            Poll("a", Record("10", T0.AddMinutes(-10), Gpu(0, 600 + at + (s * 30), busy0 + (0.02 * at) + (s * 30 * 0.5)), Gpu(1, 600 + at + (s * 30), 360 + (0.6 * (at + (s * 30))))), T0.AddSeconds(at + (s * 30)));
        }

        Assert.DoesNotContain(Evaluate(T0.AddSeconds(at + 1200)), a => a.Name == "JobGpuIdle");
    }

    [Fact]
    public void Idle_WholeJobIdleFifteenMinutes_FiresBeforeTheWindowIsCovered()
    {
        // Job 11 started 16 minutes before the aggregator's first poll of it and never used its GPU (1 % busy).
        Poll("b", Record("11", T0.AddMinutes(-16), Gpu(0, 960, 9.6)), T0);
        var alert = Assert.Single(Evaluate(T0), a => a.Name == "JobGpuIdle");
        Assert.Contains("was 1 % busy over the whole job (16 min)", alert.Description, StringComparison.Ordinal);

        // Job 12, 14 minutes old: not yet.
        Poll("b", Record("12", T0.AddMinutes(-14), Gpu(1, 840, 0)), T0);
        Assert.DoesNotContain(Evaluate(T0), a => a.Name == "JobGpuIdle" && a.Labels.Contains(new("job_id", "12")));
    }

    [Fact]
    public void Underused_FourGpusTenPercentForAnHour_FiresSayingOneWouldDo()
    {
        for (var s = 0; s <= 3600; s += 60)
        {
            Poll("c", Record("13", T0, [.. Enumerable.Range(0, 4).Select(g => Gpu(g, s, 0.1 * s))]), T0.AddSeconds(s));
            Assert.Equal(s >= 3600, Evaluate(T0.AddSeconds(s)).Any(a => a.Name == "JobGpusUnderused"));
        }

        var alert = Assert.Single(Evaluate(T0.AddSeconds(3600)), a => a.Name == "JobGpusUnderused");
        Assert.Contains(new("severity", "info"), alert.Labels);
        Assert.DoesNotContain(alert.Labels, l => l.Key is "node" or "gpu");
        Assert.Contains("4 GPUs were 10 % busy together over the last 60 min (threshold 20 %): 1 GPU would do", alert.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void MemoryFull_OverNinetyFivePercentForTenMinutes_Fires()
    {
        // 77 of 80 GiB (96 %) from minute 0; a drop to 70 GiB at minute 5 starts the ten minutes again.
        for (var s = 0; s <= 20 * 60; s += 30)
        {
            var used = s == 300 ? 70 * GiB : 77 * GiB;
            Poll("d", Record("14", T0, Gpu(0, s, s, used)), T0.AddSeconds(s));
            Assert.Equal(s >= 300 + 30 + 600, Evaluate(T0.AddSeconds(s)).Any(a => a.Name == "JobGpuMemoryFull"));
        }

        Assert.Contains("77.0 of 80.0 GiB (96 %)", Assert.Single(Evaluate(T0.AddSeconds(1200)), a => a.Name == "JobGpuMemoryFull").Description, StringComparison.Ordinal);
    }

    [Fact]
    public void ErrorsUnavailableNodeAndMissingData_FireForTheirTeam()
    {
        Poll("e", Record("15", T0, Gpu(0, 60, 60) with { XidErrors = 2 }), T0);
        Poll("f", Record("16", T0, Gpu(0, 60, 60)), T0);
        Poll("g", Record("17", T0, Gpu(0, 60, 60)), T0);
        Poll("h", Record("18", T0, Gpu(0, 60, 60)), T0);
        var states = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal)
        {
            ["f"] = new HashSet<string> { "drained" },
            ["g"] = new HashSet<string> { "draining" },   // a drain waiting for its jobs: normal
        };

        // Node h's agent answers; the others stop answering at T0.
        _jobs.Polled("http://h:9420", T0.AddMinutes(5));
        var firing = _evaluator.Evaluate(_jobs, states, T0.AddMinutes(5), new HashSet<string>()).Firing;

        var errors = Assert.Single(firing, a => a.Name == "JobGpuErrors");
        Assert.Equal(("15", "tenant"), (Label(errors, "job_id"), Label(errors, "team")));
        Assert.Contains("2 XID and 0 ECC errors", errors.Description, StringComparison.Ordinal);
        var unavailable = Assert.Single(firing, a => a.Name == "JobOnUnavailableNode");
        Assert.Equal(("16", "f", "oncall", "critical"), (Label(unavailable, "job_id"), Label(unavailable, "node"), Label(unavailable, "team"), Label(unavailable, "severity")));
        Assert.Equal(["15", "16", "17"], firing.Where(a => a.Name == "JobNodeDataMissing").Select(a => Label(a, "job_id")).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(79L, "RESTART_BM", true)]
    [InlineData(48L, "WORKFLOW_XID", true)]
    [InlineData(13L, "RESTART_APP", false)]
    [InlineData(null, null, false)]
    public void Errors_LastXidsResolution_TenantAlwaysOnCallWhenTheNodeNeedsIt(long? xid, string? resolution, bool oncall)
    {
        Poll("x", Record("20", T0, Gpu(0, 60, 60) with { XidErrors = 3, LastXid = xid }), T0);
        var firing = Evaluate(T0);

        var tenant = Assert.Single(firing, a => a.Name == "JobGpuErrors");
        Assert.Equal("tenant", Label(tenant, "team"));
        if (xid is null)
        {
            Assert.DoesNotContain("The last was XID", tenant.Description, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains($"The last was XID {xid}, ", tenant.Description, StringComparison.Ordinal);
            Assert.Contains($"NVIDIA's resolution is {resolution}", tenant.Description, StringComparison.Ordinal);
        }

        var node = firing.Where(a => a.Name == "JobGpuErrorsNodeAction").ToList();
        Assert.Equal(oncall ? 1 : 0, node.Count);
        if (oncall)
        {
            Assert.Equal(("oncall", "critical", "x", "0"), (Label(node[0], "team"), Label(node[0], "severity"), Label(node[0], "node"), Label(node[0], "gpu")));
            Assert.Contains($"XID {xid} during job 20", node[0].Summary, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Restart_WindowNotCoveredYet_AFiringIdleAlertIsUndecidedNotResolved()
    {
        // After a restart the view starts from the store: job 19 is 10 minutes old, its GPU's history empty.
        _jobs.Seed([("http://a:9420", "a", Record("19", T0.AddMinutes(-10), Gpu(0, 600, 300)))], [("http://a:9420", T0)], T0);
        var key = JobAlertEvaluator.Key("JobGpuIdle", "19", "a", 0);
        var evaluation = _evaluator.Evaluate(_jobs, NoStates, T0, new HashSet<string> { key });

        Assert.Empty(evaluation.Firing);
        Assert.Equal([key], evaluation.Undecided);
    }

    [Fact]
    public void States_ScontrolShowNodes_WordsByNameAndHostName()
    {
        var states = SlurmNodes.ParseStates(
            """
            NodeName=gpu1 Arch=x86_64 NodeHostName=gpu1.cluster State=IDLE+DRAIN ThreadsPerCore=2
            NodeName=gpu2 NodeHostName=gpu2 State=MIXED+DRAIN Weight=1
            NodeName=gpu3 NodeHostName=gpu3 State=DOWN* Weight=1
            NodeName=gpu4 NodeHostName=gpu4 State=ALLOCATED Weight=1
            NodeName=gpu5 NodeHostName=(null) State=IDLE+FAIL+MAINT Weight=1
            """);

        Assert.Equal(["drained"], states["gpu1"].Order());
        Assert.Equal(["drained"], states["gpu1.cluster"].Order());
        Assert.Equal(["draining"], states["gpu2"].Order());
        Assert.Equal(["down", "not_responding"], states["gpu3"].Order());
        Assert.Empty(states["gpu4"]);
        Assert.Equal(["fail", "maint"], states["gpu5"].Order());
        Assert.False(states.ContainsKey("(null)"));
    }

    [Fact]
    public void Rules_File_OverridesDefaultsAndNamesWhatIsWrong()
    {
        var rules = JobAlertRules.Parse(
            """
            runbook_url: https://wiki.example.org/runbooks
            job_gpu_idle: { utilization_below: 0.1, for: 1h, whole_job_after: 20m, severity: info }
            job_gpus_underused: { enabled: false }
            job_on_unavailable_node: { states: [down] }
            """,
            "rules.yml");
        Assert.Equal(("https://wiki.example.org/runbooks", 0.1, TimeSpan.FromHours(1), TimeSpan.FromMinutes(20), "info"), (rules.RunbookUrl, rules.Idle.Threshold, rules.Idle.For, rules.IdleWholeJobAfter, rules.Idle.Severity));
        Assert.False(rules.Underused.Enabled);
        Assert.Equal(["down"], rules.UnavailableStates);
        Assert.Equal((0.95, TimeSpan.FromMinutes(10)), (rules.MemoryFull.Threshold, rules.MemoryFull.For));

        foreach (var (text, message) in new[]
        {
            ("job_gpu_idel: {}", "unknown rule 'job_gpu_idel'"),
            ("job_gpu_idle: { utilization_below: 5 }", "job_gpu_idle.utilization_below must be a fraction between 0 and 1"),
            ("job_gpu_memory_full: { for: soon }", "job_gpu_memory_full.for must be a duration"),
            ("job_gpu_errors: { severity: page }", "job_gpu_errors.severity must be critical, warning or info"),
            ("job_on_unavailable_node: { states: [broken] }", "unknown state 'broken'"),
            ("job_gpu_errors: { for: 5m }", "unknown field job_gpu_errors.for"),
            ("runbook_url: wiki", "runbook_url must be an http(s) URL"),
        })
        {
            var error = Assert.Throws<FormatException>(() => JobAlertRules.Parse(text, "rules.yml"));
            Assert.Contains(message, error.Message, StringComparison.Ordinal);
            Assert.StartsWith("rules.yml: ", error.Message, StringComparison.Ordinal);
        }
    }

    private static string Label(JobAlert alert, string name) => alert.Labels.Single(l => l.Key == name).Value;

    private List<JobAlert> Evaluate(DateTimeOffset now) => [.. _evaluator.Evaluate(_jobs, NoStates, now, new HashSet<string>()).Firing];

    private void Poll(string node, NodeJobRecord record, DateTimeOffset at) =>
        _jobs.Apply($"http://{node}:9420", new JobsFeedPage(node, null, false, false, false, [record]), at);

    private static NodeJobRecord Record(string id, DateTimeOffset start, params NodeJobGpu[] gpus) => new()
    {
        JobId = id, Revision = Interlocked.Increment(ref _revision), Scheduler = "slurm", State = "running", User = "alice", Account = "physics", Partition = "h100", Start = start, Gpus = gpus,
    };

    private static long _revision;

    private static NodeJobGpu Gpu(int index, double allocated, double busy, double? used = null) => new()
    {
        Index = index, Uuid = $"GPU-{index}", Held = true, AllocatedSeconds = allocated, BusySeconds = busy, MemoryUsedBytes = used, MemoryTotalBytes = 80 * GiB,
    };
}
