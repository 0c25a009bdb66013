using System.Collections.Concurrent;
using Monitor.IntegrationTests.Gpu;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// Every scrape shows each collector as of one whole update. A GPU is lost and recovered, and a job starts and ends,
/// 1,000 times each while scrapes run back to back; no scrape may show a lost GPU with any of its values, a recovered
/// one without them, or a job without its counters.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class ConsistentScrapeTests(FakeNvmlFixture fake) : IClassFixture<FakeNvmlFixture>
{
    private const int Cycles = 1000;
    private const string Gpu1 = "gpu=\"1\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\"";

    /// <summary>What a lost GPU keeps: its identity, its state and its XID history.</summary>
    private static readonly string[] KeptWhenLost = ["gpu_info", "gpu_up", "gpu_sampling_stalled", "gpu_xid_errors_total", "gpu_last_xid_timestamp_seconds"];

    /// <summary>What a healthy GPU always has.</summary>
    private static readonly string[] Values = ["gpu_power_watts", "gpu_temperature_celsius", "gpu_utilization_ratio", "gpu_memory_used_bytes"];

    private static readonly string[] JobGpuFamilies =
    [
        "job_gpu_allocated_seconds_total", "job_gpu_busy_seconds_total", "job_gpu_energy_joules_total", "job_gpu_tensor_active_seconds_total",
        "job_gpu_sm_active_seconds_total", "job_gpu_memory_peak_bytes", "job_gpu_xid_errors_total", "job_gpu_ecc_errors_total",
    ];

    [Fact]
    public async Task Scrape_GpuLostAndRecovered1000Times_NeverHalfAnUpdate()
    {
        using var control = new ControlFile("lost=-1\n");
        await using var agent = await AgentProcess.StartAsync(
            control.Environment, $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.interval=5ms");
        using var client = new HttpClient();
        var checker = new Checker(agent, client, CheckGpu);

        await checker.RunAsync(async () =>
        {
            await checker.UntilAsync(s => s.GetValueOrDefault($"gpu_up{{{Gpu1}}}") == 1);
            for (var i = 0; i < Cycles; i++)
            {
                control.Write("lost=1\n");
                await checker.UntilAsync(s => s.GetValueOrDefault($"gpu_up{{{Gpu1}}}", 1) == 0);
                control.Write("lost=-1\n");
                await checker.UntilAsync(s => s.GetValueOrDefault($"gpu_up{{{Gpu1}}}") == 1);
            }
        });

        Assert.Equal(Cycles, agent.Log.Split('\n').Count(l => l.Contains("GPU 1 (GPU-00000000-0000-0000-0000-000000000001) is lost", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Scrape_JobStartedAndEnded1000Times_NeverWithoutItsCounters()
    {
        using var tree = new TempTree();
        var mapping = tree.Path("mapping");
        Directory.CreateDirectory(mapping);
        await using var agent = await AgentProcess.StartAsync(
            "--gpu.simulate=2", "--collector.disable-defaults", "--collector.gpu", "--collector.jobs", "--collector.gpu.interval=5ms",
            "--collector.jobs.interval=5ms", "--collector.jobs.grace-period=20ms", $"--collector.jobs.slurm-mapping-dir={mapping}",
            $"--collector.jobs.slurm-jobinfo-dir={tree.Path("jobinfo")}", "--collector.jobs.gpustat=false", "--collector.jobs.slurm-cgroup=false",
            "--collector.jobs.processes=false");
        using var client = new HttpClient();
        var checker = new Checker(agent, client, CheckJobs);

        await checker.RunAsync(async () =>
        {
            await checker.UntilAsync(s => s.Keys.Any(k => k.StartsWith("gpu_up{gpu=\"0\"", StringComparison.Ordinal)));
            for (var i = 0; i < Cycles; i++)
            {
                var job = (100000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await File.WriteAllTextAsync(Path.Join(mapping, "0.tmp"), job + "\n");
                File.Move(Path.Join(mapping, "0.tmp"), Path.Join(mapping, "0"), overwrite: true);
                await checker.UntilAsync(s => s.GetValueOrDefault($"job_running{{job_id=\"{job}\"}}") == 1);
                File.Delete(Path.Join(mapping, "0"));
                await checker.UntilAsync(s => s.GetValueOrDefault($"job_running{{job_id=\"{job}\"}}", 0) == 0);
            }
        });

        Assert.Equal(Cycles, agent.Log.Split('\n').Count(l => l.Contains("Job 10", StringComparison.Ordinal) && l.Contains("started on this node", StringComparison.Ordinal)));
    }

    private static string? CheckGpu(Dictionary<string, double> samples)
    {
        if (!samples.TryGetValue($"gpu_up{{{Gpu1}}}", out var up))
        {
            return null; // before the first update
        }

        var ofGpu1 = samples.Keys.Where(k => k.Contains("uuid=\"GPU-00000000-0000-0000-0000-000000000001\"", StringComparison.Ordinal)).ToList();
        if (up == 0)
        {
            var leaked = ofGpu1.FirstOrDefault(k => !KeptWhenLost.Contains(k[..k.IndexOf('{', StringComparison.Ordinal)]));
            return leaked is null ? null : $"GPU 1 is down but {leaked} is there";
        }

        var missing = Values.FirstOrDefault(v => !samples.ContainsKey($"{v}{{{Gpu1}}}"));
        return missing is null ? null : $"GPU 1 is up but {missing} is not there";
    }

    private static string? CheckJobs(Dictionary<string, double> samples)
    {
        var jobs = samples.Keys.Where(k => k.StartsWith("job_info{", StringComparison.Ordinal))
            .Select(k => System.Text.RegularExpressions.Regex.Match(k, "[{,]job_id=\"([^\"]*)\"").Groups[1].Value)
            .ToHashSet(StringComparer.Ordinal);
        foreach (var key in samples.Keys.Where(k => k.StartsWith("job_", StringComparison.Ordinal) || k.StartsWith("gpu_job_info{", StringComparison.Ordinal)))
        {
            var id = System.Text.RegularExpressions.Regex.Match(key, "[{,]job_id=\"([^\"]*)\"").Groups[1].Value;
            if (id.Length > 0 && !jobs.Contains(id))
            {
                return $"{key} is there without job_info";
            }
        }

        foreach (var job in jobs)
        {
            if (!samples.TryGetValue($"job_running{{job_id=\"{job}\"}}", out var running) || !samples.ContainsKey($"job_start_timestamp_seconds{{job_id=\"{job}\"}}"))
            {
                return $"job {job} has job_info without job_running or its start";
            }

            var holds = samples.Keys.Any(k => k.StartsWith("gpu_job_info{gpu=\"0\"", StringComparison.Ordinal) && k.Contains($"job_id=\"{job}\"", StringComparison.Ordinal));
            if (running == 1)
            {
                if (!holds)
                {
                    return $"running job {job} holds no GPU";
                }

                foreach (var family in JobGpuFamilies)
                {
                    if (!samples.Keys.Any(k => k.StartsWith(family + "{gpu=\"0\",job_id=\"" + job + "\"", StringComparison.Ordinal)))
                    {
                        return $"running job {job} has no {family}";
                    }
                }
            }
            else if (holds || !samples.ContainsKey($"job_end_timestamp_seconds{{job_id=\"{job}\"}}"))
            {
                return $"ended job {job} still holds its GPU or has no end";
            }
        }

        return null;
    }

    /// <summary>
    /// Scrapes back to back on its own and checks every scrape (its own and those of the driving code) with one
    /// invariant, then reports the first violations.
    /// </summary>
    private sealed class Checker(AgentProcess agent, HttpClient client, Func<Dictionary<string, double>, string?> invariant)
    {
        private readonly ConcurrentQueue<string> _violations = new();
        private long _scrapes;

        public async Task RunAsync(Func<Task> drive)
        {
            using var stop = new CancellationTokenSource();
            var background = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    await ScrapeAsync();
                }
            });

            try
            {
                await drive().WaitAsync(TimeSpan.FromMinutes(5));
            }
            finally
            {
                await stop.CancelAsync();
                await background;
            }

            Assert.True(_violations.IsEmpty, $"{_violations.Count} of {_scrapes} scrapes were inconsistent, e.g.:\n{string.Join("\n", _violations.Take(5))}");
            Assert.True(_scrapes > 2 * Cycles, $"only {_scrapes} scrapes");
        }

        /// <summary>Scrapes until <paramref name="condition"/> holds (30 s at most).</summary>
        public async Task UntilAsync(Func<Dictionary<string, double>, bool> condition)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                var samples = await ScrapeAsync();
                if (condition(samples))
                {
                    return;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"condition not met within 30 s after {_scrapes} scrapes; log:\n{agent.Log}");
                }
            }
        }

        private async Task<Dictionary<string, double>> ScrapeAsync()
        {
            var body = await agent.ScrapeAsync(client);
            var samples = PromSamples.Parse(body);
            Interlocked.Increment(ref _scrapes);
            if (invariant(samples) is { } violation && _violations.Count < 100)
            {
                _violations.Enqueue(_violations.Count < 3 ? violation + "\n" + body : violation);
            }

            return samples;
        }
    }
}
