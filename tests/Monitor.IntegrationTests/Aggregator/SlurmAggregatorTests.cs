using System.Globalization;
using System.Text.Json;
using Monitor.IntegrationTests.Jobs;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Aggregator;

/// <summary>
/// End to end under a real Slurm: the agent (simulated GPUs, the prolog and epilog's records, the jobs' cgroups) keeps
/// its ledger, the real aggregator polls it, and the real <c>monitor</c> CLI reads the aggregator. What the aggregator
/// and the CLI say of a GPU job and a CPU-only job is the ledger's record, exactly.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class SlurmAggregatorTests(SlurmCgroupClusterFixture slurm) : IClassFixture<SlurmCgroupClusterFixture>, IAsyncLifetime
{
    private const string Account = "physics";
    private static readonly string MonitorCli = Path.Join(AppContext.BaseDirectory, "monitor");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => slurm.CancelAllAsync();

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task GpuAndCpuJobs_AggregatorPollsTheAgent_JobsAndUsageAreTheLedgersExactly()
    {
        await using var agent = await AgentProcess.StartAsync(
            "--gpu.simulate=4", "--collector.disable-defaults", "--collector.gpu", "--collector.jobs", "--collector.jobs.interval=1s",
            $"--collector.jobs.slurm-mapping-dir={slurm.MappingDir}", $"--collector.jobs.gpustat-dir={slurm.GpustatDir}",
            $"--collector.jobs.slurm-jobinfo-dir={slurm.JobInfoDir}", $"--path.sysfs={slurm.Sysfs}");
        // The aggregator writes each finished job's jobstats summary into its AdminComment with the real sacctmgr, as
        // jobstats does, into this Slurm's slurmdbd (SLURM_CONF names it), and reads it back with the real sacct.
        using var store = new TempTree();
        await using var aggregator = await AgentProcess.StartExecutableAsync(
            AgentProcess.AggregatorPath, null, new Dictionary<string, string> { ["SLURM_CONF"] = slurm.SlurmConf },
            $"--storage.path={store.Path("aggregator.db")}", $"--targets={agent.BaseAddress}", "--poll.interval=1s", "--slurm.admin-comment");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await agent.ScrapeUntilAsync(client, s => s.GetValueOrDefault("gpu_up{gpu=\"3\",uuid=\"GPU-5131d000-0000-4000-8000-000000000003\"}") == 1);

        // Two jobs at once (a core each): one with two GPUs that sleeps, one without GPUs that keeps its core busy.
        var gpuJob = await slurm.SubmitAsync($"--account={Account} --gres=gpu:2 --wrap 'sleep 10'");
        var cpuJob = await slurm.SubmitAsync($"--account={Account} --wrap 'timeout 5 sh -c \"while :; do :; done\"; exit 0'");
        await slurm.WaitForStateAsync(gpuJob, "RUNNING", TimeSpan.FromSeconds(60));
        var slurmGpus = (await slurm.GpusAsync(gpuJob)).Order().ToList();
        Assert.Equal(2, slurmGpus.Count);
        await slurm.WaitForStateAsync(gpuJob, "COMPLETED", TimeSpan.FromSeconds(90));
        await slurm.WaitForStateAsync(cpuJob, "COMPLETED", TimeSpan.FromSeconds(90));
        var gpuTimes = await TimesAsync(gpuJob);
        var cpuTimes = await TimesAsync(cpuJob);

        // The ledger ends both at the epilog's record; then the aggregator holds the same revision of each.
        var gpuLedger = await UntilAsync(() => LedgerAsync(client, agent, gpuJob), j => j.GetProperty("state").GetString() == "ended", agent);
        var cpuLedger = await UntilAsync(() => LedgerAsync(client, agent, cpuJob), j => j.GetProperty("state").GetString() == "ended", agent);
        var gpuReport = await UntilAsync(() => ReportAsync(client, aggregator, gpuJob), r => SameRevision(r, gpuLedger), aggregator);
        var cpuReport = await UntilAsync(() => ReportAsync(client, aggregator, cpuJob), r => SameRevision(r, cpuLedger), aggregator);

        // The ledger itself agrees with Slurm. Its times are the prolog's and the epilog's clocks (whole seconds), read
        // just after Slurm's start and end (measured: 0 or 1 s after; 5 s allows for a loaded machine). Its two GPUs
        // are Slurm's, each held for the job's time (to the GPU tick). The CPU-only job's CPU time is its cgroup's:
        // more than a sleeping job's (about 4 ms), at most its time on its one core (measured: 2.5 to 3.7 s of the 5 s
        // it spins, on two cores shared with the agent, the aggregator and the test).
        foreach (var (ledger, (slurmStart, slurmEnd)) in new[] { (gpuLedger, gpuTimes), (cpuLedger, cpuTimes) })
        {
            Assert.Equal("scheduler", ledger.GetProperty("start_source").GetString());
            Assert.Equal("scheduler", ledger.GetProperty("end_source").GetString());
            Assert.Equal("root", ledger.GetProperty("user").GetString());
            Assert.Equal(Account, ledger.GetProperty("account").GetString());
            Assert.InRange((ledger.GetProperty("start").GetDateTimeOffset() - slurmStart).TotalSeconds, 0, 5);
            Assert.InRange((ledger.GetProperty("end").GetDateTimeOffset() - slurmEnd).TotalSeconds, 0, 5);
        }

        var gpuSeconds = (gpuLedger.GetProperty("end").GetDateTimeOffset() - gpuLedger.GetProperty("start").GetDateTimeOffset()).TotalSeconds;
        var ledgerGpus = gpuLedger.GetProperty("gpus").EnumerateArray().ToList();
        Assert.Equal(slurmGpus, ledgerGpus.Select(g => g.GetProperty("index").GetInt32()));
        Assert.All(ledgerGpus, g => Assert.InRange(g.GetProperty("allocated_seconds").GetDouble(), gpuSeconds - 1, gpuSeconds + 1));
        Assert.All(ledgerGpus, g => Assert.True(g.GetProperty("energy_joules").GetDouble() > 0, "no energy over the job"));
        Assert.Equal(0, cpuLedger.GetProperty("gpus").GetArrayLength());
        var cpuSeconds = cpuLedger.GetProperty("cpu_seconds").GetDouble();
        Assert.InRange(cpuSeconds, 0.1, (cpuLedger.GetProperty("end").GetDateTimeOffset() - cpuLedger.GetProperty("start").GetDateTimeOffset()).TotalSeconds + 1);

        // /api/v1/jobs/<id>: the one node's record is the ledger's, field for field and bit for bit.
        foreach (var (ledger, report) in new[] { (gpuLedger, gpuReport), (cpuLedger, cpuReport) })
        {
            Assert.Equal("ended", report.GetProperty("state").GetString());
            Assert.Equal("root", report.GetProperty("user").GetString());
            Assert.Equal(Account, report.GetProperty("account").GetString());
            Assert.Equal("debug", report.GetProperty("partition").GetString());
            var record = Assert.Single(report.GetProperty("node_records").EnumerateArray());
            Assert.Equal(Environment.MachineName, record.GetProperty("node").GetString());
            Assert.Equal(ledger.GetProperty("revision").GetInt64(), record.GetProperty("revision").GetInt64());
            Assert.Equal("ended", record.GetProperty("state").GetString());
            foreach (var field in new[] { "start", "end" })
            {
                Assert.Equal(ledger.GetProperty(field).GetDateTimeOffset(), record.GetProperty(field).GetDateTimeOffset());
            }

            foreach (var field in new[] { "start_source", "end_source" })
            {
                Assert.Equal(ledger.GetProperty(field).GetString(), record.GetProperty(field).GetString());
            }

            Assert.Equal(ledger.GetProperty("unobserved_seconds").GetDouble(), record.GetProperty("unobserved_seconds").GetDouble());
            var mine = ledger.GetProperty("gpus").EnumerateArray().ToList();
            var stored = record.GetProperty("gpus").EnumerateArray().ToList();
            Assert.Equal(mine.Count, stored.Count);
            for (var i = 0; i < mine.Count; i++)
            {
                Assert.Equal(mine[i].GetProperty("index").GetInt32(), stored[i].GetProperty("index").GetInt32());
                Assert.Equal(mine[i].GetProperty("uuid").GetString(), stored[i].GetProperty("uuid").GetString());
                foreach (var field in new[] { "allocated_seconds", "busy_seconds", "energy_joules", "tensor_active_seconds", "sm_active_seconds", "memory_peak_bytes", "memory_total_bytes", "utilization_peak" })
                {
                    Assert.Equal(mine[i].GetProperty(field).GetDouble(), stored[i].GetProperty(field).GetDouble());
                }

                foreach (var field in new[] { "xid_errors", "ecc_errors" })
                {
                    Assert.Equal(mine[i].GetProperty(field).GetInt64(), stored[i].GetProperty(field).GetInt64());
                }
            }

            // The job's totals over its one node.
            Assert.Equal(mine.Count, report.GetProperty("gpus").GetInt32());
            Assert.Equal(Sum(ledger, "allocated_seconds"), report.GetProperty("gpu_allocated_seconds").GetDouble());
            Assert.Equal(Sum(ledger, "busy_seconds"), report.GetProperty("gpu_busy_seconds").GetDouble());
            Assert.Equal(Sum(ledger, "energy_joules"), report.GetProperty("gpu_energy_joules").GetDouble());
            Assert.Equal(ledger.GetProperty("cpu_seconds").GetDouble(), report.GetProperty("cpu_seconds").GetDouble());
        }

        // monitor jobstats prints the figures of the ledger's record.
        var gpuText = await CliAsync("jobstats", gpuJob, $"--aggregator={aggregator.BaseAddress}");
        Assert.Equal(JobStatsHead(gpuJob, gpuLedger), gpuText.Split('\n')[..3]);
        foreach (var gpu in ledgerGpus)
        {
            Assert.Contains(GpuLine(gpu), gpuText.Split('\n'));
        }

        var cpuText = await CliAsync("jobstats", cpuJob, $"--aggregator={aggregator.BaseAddress}");
        Assert.Equal(JobStatsHead(cpuJob, cpuLedger), cpuText.Split('\n')[..3]);

        // monitor usage --by user sums the two jobs for their user, over the days they ended on (UTC).
        var firstDay = new[] { gpuLedger, cpuLedger }.Min(l => l.GetProperty("end").GetDateTimeOffset().UtcDateTime.Date);
        var lastDay = new[] { gpuLedger, cpuLedger }.Max(l => l.GetProperty("end").GetDateTimeOffset().UtcDateTime.Date);
        var csv = await CliAsync("usage", "--by=user", $"--from={firstDay:yyyy-MM-dd}", $"--to={lastDay.AddDays(1):yyyy-MM-dd}", "--csv", $"--aggregator={aggregator.BaseAddress}");
        var lines = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["user,gpu_hours_allocated,gpu_hours_busy,energy_kwh,cpu_hours,jobs"], lines[..1]);
        var row = Assert.Single(lines[1..]).Split(',');
        Assert.Equal("root", row[0]);
        AssertPrinted(Sum(gpuLedger, "allocated_seconds") / 3600, row[1]);
        AssertPrinted(Sum(gpuLedger, "busy_seconds") / 3600, row[2]);
        AssertPrinted(Sum(gpuLedger, "energy_joules") / 3.6e6, row[3]);
        AssertPrinted((gpuLedger.GetProperty("cpu_seconds").GetDouble() + cpuSeconds) / 3600, row[4]);
        Assert.Equal("2", row[5]);

        // The aggregator's usage counters (the dashboard's source) hold the same sums under the job's account and user.
        var metrics = PromSamples.Parse(await client.GetStringAsync(new Uri(aggregator.BaseAddress, "metrics")));
        var labels = $"{{account=\"{Account}\",user=\"root\"}}";
        Assert.Equal(Sum(gpuLedger, "allocated_seconds"), metrics[$"monitor_usage_gpu_allocated_seconds_total{labels}"], 9);
        Assert.Equal(Sum(gpuLedger, "busy_seconds"), metrics[$"monitor_usage_gpu_busy_seconds_total{labels}"], 9);
        Assert.Equal(Sum(gpuLedger, "energy_joules"), metrics[$"monitor_usage_gpu_energy_joules_total{labels}"], 6);
        Assert.Equal(2, metrics[$"monitor_usage_jobs_finished_total{labels}"]);
        Assert.Equal(1, metrics[$"monitor_aggregator_target_up{{target=\"{agent.BaseAddress.ToString().TrimEnd('/')}\"}}"]);

        // The AdminComments in slurmdbd: jobstats' summary of each job's record (sacct -o AdminComment). sacctmgr before
        // Slurm 23.02 lowercases the value (SchedMD bug 14338), which Debian 12's 22.05 does: then the aggregator reads
        // the first one back lowercased, fails that job, logs the comment it meant and writes no more.
        Assert.True(slurm.Accounting, "the fixture's Slurm has no slurmdbd");
        var reports = new Dictionary<string, JsonElement> { [gpuJob] = gpuReport, [cpuJob] = cpuReport };
        var version = (await slurm.SlurmAsync("sacctmgr", "--version")).Trim();
        if (LowercasesAdminComment(version))
        {
            var lowercased = await UntilAsync(
                () => Task.FromResult<JsonElement?>(Lowercased(aggregator.Log) is { } found ? JsonSerializer.SerializeToElement(new[] { found.JobId, found.Stored, found.Comment }) : null), _ => true, aggregator);
            var (job, stored, meant) = (lowercased[0].GetString()!, lowercased[1].GetString()!, lowercased[2].GetString()!);
            Assert.Contains(job, reports.Keys);
            Assert.Equal(stored, await AdminCommentAsync(job));
            Assert.Equal(meant.ToLowerInvariant(), stored);
            AssertSummary(meant, reports[job]);

            // No more written: the other job's AdminComment stays empty over five more cycles.
            await Task.Delay(TimeSpan.FromSeconds(5));
            Assert.Equal("", await AdminCommentAsync(reports.Keys.Single(k => k != job)));
            var counters = PromSamples.Parse(await client.GetStringAsync(new Uri(aggregator.BaseAddress, "metrics")));
            Assert.Equal(1, counters["monitor_aggregator_admin_comments_total{outcome=\"failed\"}"]);
            Assert.False(counters.ContainsKey("monitor_aggregator_admin_comments_total{outcome=\"written\"}"), aggregator.Log);
            Assert.Single(aggregator.Log.Split('\n'), l => l.Contains("sacctmgr stored the AdminComment lowercased", StringComparison.Ordinal));
        }
        else
        {
            foreach (var (job, report) in reports)
            {
                var stored = (await UntilAsync(async () => await AdminCommentAsync(job) is { Length: > 0 } text ? (JsonElement?)JsonSerializer.SerializeToElement(text) : null, _ => true, aggregator)).GetString()!;
                AssertSummary(stored, report);
            }

            var counters = PromSamples.Parse(await client.GetStringAsync(new Uri(aggregator.BaseAddress, "metrics")));
            Assert.Equal(2, counters["monitor_aggregator_admin_comments_total{outcome=\"written\"}"]);
        }

        // Each job was written at its first try or tried again (sacctmgr's "Nothing modified": slurmdbd did not have it
        // yet); none failed for want of its record.
        Assert.DoesNotContain(aggregator.Log.Split('\n'), l => l.Contains("the AdminComment was not written (failed)", StringComparison.Ordinal));
    }

    /// <summary>Whether <c>sacctmgr --version</c> (<c>slurm 22.05.8</c>, Debian's <c>slurm-wlm 22.05.8</c>) is a Slurm before 23.02.</summary>
    private static bool LowercasesAdminComment(string version)
    {
        var parts = version.Split(' ')[^1].Split('.');
        Assert.True(parts.Length >= 2, $"sacctmgr --version said '{version}'");
        var (major, minor) = (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
        return major < 23 || (major == 23 && minor < 2);
    }

    /// <summary>The aggregator's event 5301: the job, the comment as stored, and the comment it meant.</summary>
    private static (string JobId, string Stored, string Comment)? Lowercased(string log)
    {
        var match = System.Text.RegularExpressions.Regex.Match(log, @"Slurm job (\d+): sacctmgr stored the AdminComment lowercased, (\S+), not (\S+): sacctmgr before Slurm 23\.02");
        return match.Success ? (match.Groups[1].Value, match.Groups[2].Value, match.Groups[3].Value) : null;
    }

    /// <summary>The job's AdminComment in slurmdbd: <c>sacct -j ID -X -n -P -o AdminComment</c>.</summary>
    private async Task<string> AdminCommentAsync(string jobId) =>
        (await slurm.SlurmAsync("sacct", "-j", jobId, "-X", "-n", "-P", "-o", "AdminComment")).Trim();

    /// <summary>
    /// <paramref name="comment"/> is jobstats' summary of <paramref name="report"/>'s one node record: its run time, CPUs,
    /// CPU seconds, memory limit and peak, and each GPU's utilization (busy over held, in percent), memory peak and total.
    /// </summary>
    private static void AssertSummary(string comment, JsonElement report)
    {
        Assert.StartsWith("JS1:", comment, StringComparison.Ordinal);
        using var summary = DecodeJs1(comment);
        var record = Assert.Single(report.GetProperty("node_records").EnumerateArray());
        var gpus = record.GetProperty("gpus").EnumerateArray().ToList();
        Assert.Equal(gpus.Count, summary.RootElement.GetProperty("gpus").GetInt32());
        var runtime = (record.GetProperty("end").GetDateTimeOffset() - record.GetProperty("start").GetDateTimeOffset()).TotalSeconds;
        Assert.Equal(Math.Round(runtime), summary.RootElement.GetProperty("total_time").GetDouble());
        var node = Assert.Single(summary.RootElement.GetProperty("nodes").EnumerateObject());
        Assert.Equal(record.GetProperty("node").GetString(), node.Name);

        // Each figure the record has, under jobstats' name; none that it lacks.
        var expected = new List<string>();
        foreach (var (field, key) in new[] { ("cpus_allocated", "cpus"), ("cpu_seconds", "total_time"), ("memory_limit_bytes", "total_memory"), ("memory_peak_bytes", "used_memory") })
        {
            if (record.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.Number)
            {
                expected.Add(key);
                Assert.Equal(key == "total_time" ? Math.Round(value.GetDouble(), 1) : value.GetDouble(), node.Value.GetProperty(key).GetDouble());
            }
        }

        if (gpus.Count > 0)
        {
            expected.AddRange(["gpu_total_memory", "gpu_used_memory", "gpu_utilization"]);
            foreach (var gpu in gpus)
            {
                var index = gpu.GetProperty("index").GetInt32().ToString(CultureInfo.InvariantCulture);
                Assert.Equal(Math.Round(gpu.GetProperty("busy_seconds").GetDouble() / gpu.GetProperty("allocated_seconds").GetDouble() * 100, 1), node.Value.GetProperty("gpu_utilization").GetProperty(index).GetDouble());
                Assert.Equal(gpu.GetProperty("memory_peak_bytes").GetDouble(), node.Value.GetProperty("gpu_used_memory").GetProperty(index).GetDouble());
                Assert.Equal(gpu.GetProperty("memory_total_bytes").GetDouble(), node.Value.GetProperty("gpu_total_memory").GetProperty(index).GetDouble());
            }

            Assert.Equal(gpus.Count, node.Value.GetProperty("gpu_utilization").EnumerateObject().Count());
        }

        Assert.Equal(expected.Order(StringComparer.Ordinal), node.Value.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    /// <summary>JS1: and base64 of gzipped JSON, decoded here independently of the aggregator's code.</summary>
    private static JsonDocument DecodeJs1(string comment)
    {
        using var gzip = new System.IO.Compression.GZipStream(new MemoryStream(Convert.FromBase64String(comment["JS1:".Length..])), System.IO.Compression.CompressionMode.Decompress);
        return JsonDocument.Parse(gzip);
    }

    /// <summary>jobstats' first three lines for <paramref name="ledger"/>'s record, formatted here from its own values.</summary>
    private static string[] JobStatsHead(string jobId, JsonElement ledger)
    {
        var start = ledger.GetProperty("start").GetDateTimeOffset().UtcDateTime;
        var end = ledger.GetProperty("end").GetDateTimeOffset().UtcDateTime;
        var run = TimeSpan.FromSeconds(Math.Round((end - start).TotalSeconds));
        var gpus = ledger.GetProperty("gpus").GetArrayLength();
        var (hours, busyHours, kwh) = (Sum(ledger, "allocated_seconds") / 3600, Sum(ledger, "busy_seconds") / 3600, Sum(ledger, "energy_joules") / 3.6e6);
        var figures = gpus == 0
            ? "0 GPUs on 1 node: 0.00 GPU-hours allocated, 0.00 busy (-), 0.000 kWh"
            : Invariant($"{gpus} GPUs on 1 node: {hours:0.00} GPU-hours allocated, {busyHours:0.00} busy ({busyHours / hours * 100:0} %), {kwh:0.000} kWh ({kwh / hours:0.000} kWh per GPU-hour)");
        return
        [
            $"Job {jobId} (user root, account {Account}, partition debug): ended",
            Invariant($"  Start {start:yyyy-MM-dd HH:mm:ss} UTC, end {end:yyyy-MM-dd HH:mm:ss} UTC, run time {(int)run.TotalHours}:{run.Minutes:00}:{run.Seconds:00}"),
            "  " + figures,
        ];
    }

    /// <summary>jobstats' line for one GPU of the ledger's record.</summary>
    private static string GpuLine(JsonElement gpu)
    {
        var held = gpu.GetProperty("allocated_seconds").GetDouble();
        return Invariant(
            $"  {Environment.MachineName,-12} {gpu.GetProperty("index").GetInt32(),3}  {held / 3600,9:0.00}  {gpu.GetProperty("busy_seconds").GetDouble() / held * 100,3:0} %  {gpu.GetProperty("utilization_peak").GetDouble() * 100,3:0} %  {gpu.GetProperty("tensor_active_seconds").GetDouble() / held * 100,4:0} %  {gpu.GetProperty("memory_peak_bytes").GetDouble() / 1e9,6:0.0} GB  {gpu.GetProperty("memory_total_bytes").GetDouble() / 1e9,5:0.0} GB  {gpu.GetProperty("energy_joules").GetDouble() / 3.6e6,5:0.000} kWh  {gpu.GetProperty("xid_errors").GetInt64(),3}  {gpu.GetProperty("ecc_errors").GetInt64(),3}");
    }

    /// <summary>A figure the CSV printed with at most six decimals: it is <paramref name="expected"/> rounded there.</summary>
    private static void AssertPrinted(double expected, string printed) =>
        Assert.True(Math.Abs(double.Parse(printed, CultureInfo.InvariantCulture) - expected) <= 5e-7 + 1e-12, $"printed {printed}, expected {expected.ToString("R", CultureInfo.InvariantCulture)}");

    private static double Sum(JsonElement ledger, string field) =>
        ledger.GetProperty("gpus").EnumerateArray().Sum(g => g.GetProperty(field).GetDouble());

    private static bool SameRevision(JsonElement report, JsonElement ledger) =>
        report.GetProperty("node_records").EnumerateArray().Any(r => r.GetProperty("revision").GetInt64() == ledger.GetProperty("revision").GetInt64());

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static async Task<string> CliAsync(params string[] args)
    {
        var (code, stdout, stderr) = await ExternalTool.RunAsync(MonitorCli, args, timeout: TimeSpan.FromSeconds(30));
        Assert.True(code == 0, $"monitor {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    /// <summary>The job's start and end as Slurm has them (<c>scontrol show job</c>'s StartTime and EndTime).</summary>
    private async Task<(DateTimeOffset Start, DateTimeOffset End)> TimesAsync(string jobId)
    {
        var show = await slurm.SlurmAsync("scontrol", "show", "job", jobId);
        return (Time(show, "StartTime"), Time(show, "EndTime"));
    }

    /// <summary>A time field of <c>scontrol show job</c> (local time, whole seconds).</summary>
    private static DateTimeOffset Time(string show, string field)
    {
        var at = show.IndexOf(field + "=", StringComparison.Ordinal);
        Assert.True(at >= 0, $"no {field} in:\n{show}");
        var text = new string(show[(at + field.Length + 1)..].TakeWhile(c => !char.IsWhiteSpace(c)).ToArray());
        return new DateTimeOffset(DateTime.ParseExact(text, "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal));
    }

    /// <summary>The agent's ledger record of the job, from its whole feed (<c>/api/v1/jobs</c>); null before it has one.</summary>
    private static async Task<JsonElement?> LedgerAsync(HttpClient client, AgentProcess agent, string jobId)
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri(agent.BaseAddress, "api/v1/jobs")));
        var job = document.RootElement.GetProperty("jobs").EnumerateArray().FirstOrDefault(j => j.GetProperty("job_id").GetString() == jobId);
        return job.ValueKind == JsonValueKind.Object ? job.Clone() : null;
    }

    /// <summary>The aggregator's report of the job (<c>/api/v1/jobs/{id}</c>); null while it answers 404.</summary>
    private static async Task<JsonElement?> ReportAsync(HttpClient client, AgentProcess aggregator, string jobId)
    {
        using var response = await client.GetAsync(new Uri(aggregator.BaseAddress, $"api/v1/jobs/{jobId}"));
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    /// <summary>Reads until <paramref name="done"/> holds, every 200 ms for at most 60 s; the failure carries the process's log.</summary>
    private static async Task<JsonElement> UntilAsync(Func<Task<JsonElement?>> read, Func<JsonElement, bool> done, AgentProcess process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JsonElement? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await read();
            if (last is { } value && done(value))
            {
                return value;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"not reached within 60 s; last read:\n{last}\nlog:\n{process.Log}");
        return default;
    }
}
