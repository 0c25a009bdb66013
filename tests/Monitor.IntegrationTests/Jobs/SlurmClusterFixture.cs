using System.Globalization;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Jobs;

/// <summary>
/// A real one-node Slurm (Debian's slurm-wlm 22.05) on this machine, started by <c>tests/slurm/start-slurm.sh</c>:
/// private munged, slurmctld and slurmd on loopback with free ports, 4 GPUs backed by fake <c>/dev/nvidia0..3</c>
/// nodes, and <c>packaging/slurm</c>'s prolog and epilog writing into <see cref="MappingDir"/> and
/// <see cref="GpustatDir"/>. Needs root (./test.sh runs as root); the script installs slurm-wlm and munge with apt when
/// they are missing. Stopped, with its temporary folder removed, by <see cref="DisposeAsync"/>. Jobs run without
/// cgroups and there is no accounting; <see cref="SlurmCgroupClusterFixture"/> runs them in cgroups, with accounting in
/// a real slurmdbd.
/// </summary>
public class SlurmClusterFixture : IAsyncLifetime
{
    private static readonly string ScriptDirectory = Path.Join(Fixtures.RepositoryRoot, "tests", "slurm");

    private readonly bool _cgroups;
    private readonly bool _accounting;

    public SlurmClusterFixture()
        : this(cgroups: false, accounting: false)
    {
    }

    /// <summary>
    /// With <paramref name="cgroups"/>, start-slurm.sh runs with <c>MONITOR_SLURM_CGROUPS=1</c>; with
    /// <paramref name="accounting"/>, with <c>MONITOR_SLURM_DBD=1</c>: a private MariaDB and slurmdbd keep the
    /// accounting (sacct, sacctmgr), with the account physics.
    /// </summary>
    protected SlurmClusterFixture(bool cgroups, bool accounting)
    {
        _cgroups = cgroups;
        _accounting = accounting;
    }

    /// <summary>The instance's temporary folder (<c>MONITOR_SLURM_DIR</c>).</summary>
    public string InstanceDir { get; private set; } = "";

    /// <summary>The generated slurm.conf; every Slurm command here runs with <c>SLURM_CONF</c> set to it.</summary>
    public string SlurmConf { get; private set; } = "";

    /// <summary>The dcgm-exporter mapping directory the prolog writes (for <c>--collector.jobs.slurm-mapping-dir</c>).</summary>
    public string MappingDir { get; private set; } = "";

    /// <summary>The jobstats gpustat directory the prolog writes (for <c>--collector.jobs.gpustat-dir</c>).</summary>
    public string GpustatDir { get; private set; } = "";

    /// <summary>Where the prolog writes each job's identity (user, uid, account, partition, array ids).</summary>
    public string JobInfoDir { get; private set; } = "";

    /// <summary>The node's name: this machine's short host name.</summary>
    public string Node { get; private set; } = "";

    /// <summary>
    /// With cgroups only: a sysfs root whose <c>fs/cgroup/&lt;controller&gt;</c> are this instance's own cgroups, under
    /// which its jobs' cgroups are (for <c>--path.sysfs</c>); "" without.
    /// </summary>
    public string Sysfs { get; private set; } = "";

    /// <summary>Whether a slurmdbd keeps this instance's accounting (start-slurm.sh said <c>MONITOR_SLURM_DBD=1</c>).</summary>
    public bool Accounting { get; private set; }

    public async Task InitializeAsync()
    {
        // Ten minutes: the first run on a bare machine apt-installs slurm-wlm and munge (about 20 s on a warm mirror), and
        // with accounting mariadb-server and slurmdbd (about 20 s more).
        var (code, stdout, stderr) = await ExternalTool.RunAsync(
            "/usr/bin/env",
            [$"MONITOR_SLURM_CGROUPS={(_cgroups ? 1 : 0)}", $"MONITOR_SLURM_DBD={(_accounting ? 1 : 0)}", Path.Join(ScriptDirectory, "start-slurm.sh")],
            timeout: TimeSpan.FromMinutes(10));
        if (code != 0)
        {
            throw new InvalidOperationException($"start-slurm.sh failed ({code}):\n{stdout}{stderr}");
        }

        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }

            var value = line[(equals + 1)..];
            switch (line[..equals])
            {
                case "MONITOR_SLURM_DIR": InstanceDir = value; break;
                case "SLURM_CONF": SlurmConf = value; break;
                case "MONITOR_JOB_MAPPING_DIR": MappingDir = value; break;
                case "MONITOR_GPUSTAT_DIR": GpustatDir = value; break;
                case "MONITOR_JOB_INFO_DIR": JobInfoDir = value; break;
                case "MONITOR_SLURM_NODE": Node = value; break;
                case "MONITOR_SLURM_SYSFS": Sysfs = value; break;
                case "MONITOR_SLURM_DBD": Accounting = value == "1"; break;
            }
        }

        if (InstanceDir.Length == 0 || SlurmConf.Length == 0 || MappingDir.Length == 0 || GpustatDir.Length == 0 || (_cgroups && Sysfs.Length == 0) || Accounting != _accounting)
        {
            throw new InvalidOperationException($"start-slurm.sh printed no environment:\n{stdout}{stderr}");
        }
    }

    public async Task DisposeAsync()
    {
        if (InstanceDir.Length > 0)
        {
            await ExternalTool.RunAsync(Path.Join(ScriptDirectory, "stop-slurm.sh"), [InstanceDir], timeout: TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>
    /// <c>sbatch --parsable</c> with <paramref name="sbatchArgs"/> as a shell would split them (e.g.
    /// <c>--gres=gpu:2 --wrap 'sleep 30'</c>), run as the test's user, in <c>/tmp</c>, output to <c>/dev/null</c>
    /// unless the arguments say otherwise. Returns the job id.
    /// </summary>
    public async Task<string> SubmitAsync(string sbatchArgs)
    {
        var stdout = await SlurmAsync("sh", "-c", "exec sbatch --parsable --chdir=/tmp --output=/dev/null " + sbatchArgs);
        var id = stdout.Trim().Split(';')[0];
        if (id.Length == 0 || !id.All(char.IsAsciiDigit))
        {
            throw new InvalidOperationException($"sbatch {sbatchArgs} printed '{stdout}', not a job id");
        }

        return id;
    }

    /// <summary>The job's state as squeue reports it (<c>PENDING</c>, <c>RUNNING</c>, <c>COMPLETED</c>, <c>CANCELLED</c>...), or "" once Slurm forgot it.</summary>
    public async Task<string> StateAsync(string jobId) =>
        (await SlurmAsync("squeue", "-h", "--states=all", "-j", jobId, "-o", "%T")).Trim();

    /// <summary>Polls the job's state every 250 ms until it is <paramref name="state"/>; throws with the last state seen after <paramref name="timeout"/>.</summary>
    public async Task WaitForStateAsync(string jobId, string state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            last = await StateAsync(jobId);
            if (string.Equals(last, state, StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"job {jobId} not {state} within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s (last state '{last}')");
    }

    /// <summary><c>scancel</c> the job (its epilog then removes its mapping and gpustat lines).</summary>
    public Task CancelAsync(string jobId) => SlurmAsync("scancel", jobId);

    /// <summary>
    /// Cancels every job of this instance that is still queued or running and waits (up to 60 s) until squeue lists
    /// none, epilogs done: the test classes call it after each test, so one that fails midway leaves no job holding
    /// GPUs or mapping lines to the next.
    /// </summary>
    public async Task CancelAllAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var ids = (await SlurmAsync("squeue", "-h", "-o", "%i")).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (ids.Length == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"jobs {string.Join(", ", ids)} still queued 60 s after scancel");
            }

            // A job that ends between squeue and scancel makes scancel complain; the next round sees it gone.
            await ExternalTool.RunAsync("/usr/bin/env", ["SLURM_CONF=" + SlurmConf, "scancel", .. ids], timeout: TimeSpan.FromSeconds(30));
            await Task.Delay(250);
        }
    }

    /// <summary>The GPU indices Slurm allocated to the job, from <c>scontrol show job -d</c>'s <c>GRES=gpu:2(IDX:0-1)</c>.</summary>
    public async Task<IReadOnlyList<int>> GpusAsync(string jobId)
    {
        var text = await SlurmAsync("scontrol", "show", "job", "-d", jobId);
        var at = text.IndexOf("IDX:", StringComparison.Ordinal);
        if (at < 0)
        {
            return [];
        }

        var list = new string(text[(at + 4)..].TakeWhile(c => char.IsAsciiDigit(c) || c is ',' or '-').ToArray());
        var gpus = new List<int>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var bounds = part.Split('-');
            var low = int.Parse(bounds[0], CultureInfo.InvariantCulture);
            var high = int.Parse(bounds[^1], CultureInfo.InvariantCulture);
            for (var gpu = low; gpu <= high; gpu++)
            {
                gpus.Add(gpu);
            }
        }

        return gpus;
    }

    /// <summary>Runs a Slurm client command with this instance's <c>SLURM_CONF</c>; returns its stdout, throws on failure.</summary>
    public async Task<string> SlurmAsync(string command, params string[] args)
    {
        var (code, stdout, stderr) = await ExternalTool.RunAsync("/usr/bin/env", ["SLURM_CONF=" + SlurmConf, command, .. args], timeout: TimeSpan.FromSeconds(30));
        if (code != 0)
        {
            throw new InvalidOperationException($"{command} {string.Join(' ', args)} failed ({code}):\n{stdout}{stderr}");
        }

        return stdout;
    }
}

/// <summary>
/// The fixture's own smoke test, through the real Slurm: a <c>--gres=gpu:2</c> job's prolog writes exactly its two
/// GPUs into both directories while it runs, and its epilog removes them when it is cancelled.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class SlurmClusterTests(SlurmClusterFixture slurm) : IClassFixture<SlurmClusterFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => slurm.CancelAllAsync();

    [Fact]
    public async Task GpuJob_PrologWritesItsTwoGpus_EpilogRemovesThem()
    {
        var job = await slurm.SubmitAsync("--gres=gpu:2 --wrap 'sleep 60'");
        await slurm.WaitForStateAsync(job, "RUNNING", TimeSpan.FromSeconds(60));
        var gpus = await slurm.GpusAsync(job);
        Assert.Equal(2, gpus.Count);

        var expected = gpus.Select(g => g.ToString(CultureInfo.InvariantCulture)).Order(StringComparer.Ordinal).ToArray();
        // The prolog writes the mapping files, then the gpustat files: both are there once the second is.
        await WaitUntilAsync(() => Files(slurm.MappingDir).Count == 2 && Files(slurm.GpustatDir).Count == 2, TimeSpan.FromSeconds(10), "the prolog did not write both kinds of files");
        var mapping = Files(slurm.MappingDir);
        var gpustat = Files(slurm.GpustatDir);
        Assert.Equal(expected, mapping.Keys);
        Assert.All(mapping.Values, content => Assert.Equal(job + "\n", content));
        Assert.Equal(expected, gpustat.Keys);
        var uid = (await ExternalTool.RunAsync("id", ["-u"])).Stdout.Trim();
        Assert.All(gpustat.Values, content => Assert.Equal($"{job} {uid}\n", content));

        await slurm.CancelAsync(job);
        await slurm.WaitForStateAsync(job, "CANCELLED", TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => Files(slurm.MappingDir).Count == 0 && Files(slurm.GpustatDir).Count == 0, TimeSpan.FromSeconds(30), "the epilog left files behind");
    }

    [Fact]
    public async Task Agent_RealSlurmJob_MapsItsTwoGpusReportsItThenForgetsIt()
    {
        await using var agent = await AgentProcess.StartAsync(
            "--gpu.simulate=4", "--collector.disable-defaults", "--collector.gpu", "--collector.jobs", "--collector.jobs.interval=1s",
            "--collector.jobs.grace-period=3s", $"--collector.jobs.slurm-mapping-dir={slurm.MappingDir}", $"--collector.jobs.gpustat-dir={slurm.GpustatDir}",
            $"--collector.jobs.slurm-jobinfo-dir={slurm.JobInfoDir}");
        using var client = new HttpClient();

        var job = await slurm.SubmitAsync("--gres=gpu:2 --wrap 'sleep 60'");
        await slurm.WaitForStateAsync(job, "RUNNING", TimeSpan.FromSeconds(60));
        var gpus = (await slurm.GpusAsync(job)).Order().ToList();
        Assert.Equal(2, gpus.Count);

        // gpu_job_info maps exactly the job's two GPUs (simulated GPU i has UUID GPU-5131d000-0000-4000-8000-<i>).
        var running = await agent.ScrapeUntilAsync(client, s => s.Keys.Count(k => k.StartsWith("gpu_job_info{", StringComparison.Ordinal) && k.Contains($"job_id=\"{job}\"", StringComparison.Ordinal)) == 2);
        var mapped = running.Keys.Where(k => k.StartsWith("gpu_job_info{", StringComparison.Ordinal)).ToList();
        Assert.Equal(
            gpus.Select(g => $"gpu_job_info{{gpu=\"{g}\",job_id=\"{job}\",uuid=\"GPU-5131d000-0000-4000-8000-{g:D12}\"}}").Order(StringComparer.Ordinal),
            mapped.Order(StringComparer.Ordinal));
        Assert.Contains(running.Keys, k => k.StartsWith("job_info{", StringComparison.Ordinal) && k.Contains($"job_id=\"{job}\"", StringComparison.Ordinal) && k.Contains("user=\"root\"", StringComparison.Ordinal)
            && k.Contains("partition=\"debug\"", StringComparison.Ordinal));

        // /api/v1/jobs reports it, running, with both GPUs and counters that already moved.
        await agent.ScrapeUntilAsync(client, s => s.Keys.Any(k => k.StartsWith("job_gpu_allocated_seconds_total{", StringComparison.Ordinal) && k.Contains($"job_id=\"{job}\"", StringComparison.Ordinal)));
        using (var document = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync(new Uri(agent.BaseAddress, "/api/v1/jobs"))))
        {
            var entry = Assert.Single(document.RootElement.GetProperty("jobs").EnumerateArray(), j => j.GetProperty("job_id").GetString() == job);
            Assert.Equal("running", entry.GetProperty("state").GetString());
            Assert.Equal("0", entry.GetProperty("uid").GetString());
            Assert.Equal(gpus, entry.GetProperty("gpus").EnumerateArray().Select(g => g.GetProperty("index").GetInt32()).Order());
            Assert.All(entry.GetProperty("gpus").EnumerateArray(), g => Assert.True(g.GetProperty("held").GetBoolean()));
        }

        // The end: one end event with the usage summary, the series flagged ended, then gone after the 3 s grace period.
        await slurm.CancelAsync(job);
        await slurm.WaitForStateAsync(job, "CANCELLED", TimeSpan.FromSeconds(30));
        var ended = await agent.ScrapeUntilAsync(client, s => s.GetValueOrDefault($"job_running{{job_id=\"{job}\"}}", 1) == 0);
        Assert.DoesNotContain(ended.Keys, k => k.StartsWith("gpu_job_info{", StringComparison.Ordinal) && k.Contains($"job_id=\"{job}\"", StringComparison.Ordinal));
        await agent.ScrapeUntilAsync(client, s => !s.Keys.Any(k => k.Contains($"job_id=\"{job}\"", StringComparison.Ordinal)));
        Assert.Single(agent.Log.Split('\n'), l => l.Contains($"Job {job} ended on this node", StringComparison.Ordinal) && l.Contains("2 GPUs", StringComparison.Ordinal));
        Assert.Single(agent.Log.Split('\n'), l => l.Contains($"Job {job} started on this node", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_ThirtySecondRefresh_AllocatedSecondsAreSlurmsElapsedTimeOnEachGpu()
    {
        // Refreshes 30 s apart: a 20 s job may never be seen running. The prolog's start and the epilog's end records,
        // and each GPU's tick history, still give it exactly the time Slurm ran it.
        await using var agent = await AgentProcess.StartAsync(
            "--gpu.simulate=4", "--collector.disable-defaults", "--collector.gpu", "--collector.jobs", "--collector.jobs.interval=30s",
            $"--collector.jobs.slurm-mapping-dir={slurm.MappingDir}", $"--collector.jobs.gpustat-dir={slurm.GpustatDir}",
            $"--collector.jobs.slurm-jobinfo-dir={slurm.JobInfoDir}");
        using var client = new HttpClient();
        await agent.ScrapeUntilAsync(client, s => s.GetValueOrDefault("gpu_up{gpu=\"3\",uuid=\"GPU-5131d000-0000-4000-8000-000000000003\"}") == 1);

        var job = await slurm.SubmitAsync("--gres=gpu:2 --wrap 'sleep 20'");
        await slurm.WaitForStateAsync(job, "COMPLETED", TimeSpan.FromSeconds(90));
        var show = await slurm.SlurmAsync("scontrol", "show", "job", job);
        var elapsed = (Time(show, "EndTime") - Time(show, "StartTime")).TotalSeconds;

        // The refresh after the end records the job (at most 30 s later).
        var deadline = DateTime.UtcNow.AddSeconds(60);
        System.Text.Json.JsonElement entry;
        while (true)
        {
            using var document = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync(new Uri(agent.BaseAddress, "/api/v1/jobs")));
            entry = document.RootElement.GetProperty("jobs").EnumerateArray().FirstOrDefault(j => j.GetProperty("job_id").GetString() == job && j.GetProperty("state").GetString() == "ended");
            if (entry.ValueKind != System.Text.Json.JsonValueKind.Undefined)
            {
                entry = entry.Clone();
                break;
            }

            if (DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(500);
        }

        Assert.True(entry.ValueKind == System.Text.Json.JsonValueKind.Object, $"job {job} was not recorded as ended within 60 s:\n{agent.Log}");
        Assert.Equal("scheduler", entry.GetProperty("start_source").GetString());
        Assert.Equal("scheduler", entry.GetProperty("end_source").GetString());
        // The ledger's times are the prolog's and the epilog's clocks (whole seconds), read just after Slurm's start and
        // end (0 or 1 s after on a quiet machine; 5 s allows for a loaded one, where a prolog was seen to start 2 s
        // late). Each GPU is held for exactly the ledger's time, to the GPU tick, whatever the refresh interval.
        var start = entry.GetProperty("start").GetDateTimeOffset();
        var end = entry.GetProperty("end").GetDateTimeOffset();
        Assert.InRange((start - Time(show, "StartTime")).TotalSeconds, -1, 5);
        Assert.InRange((end - Time(show, "EndTime")).TotalSeconds, -1, 5);
        Assert.InRange((end - start).TotalSeconds, elapsed - 5, elapsed + 5);
        var gpus = entry.GetProperty("gpus").EnumerateArray().ToList();
        Assert.Equal(2, gpus.Count);
        Assert.All(gpus, g => Assert.InRange(g.GetProperty("allocated_seconds").GetDouble(), (end - start).TotalSeconds - 1, (end - start).TotalSeconds + 1));
        Assert.All(gpus, g => Assert.True(g.GetProperty("energy_joules").GetDouble() > 0, "no energy over the job"));
    }

    /// <summary>A time field of <c>scontrol show job</c> (local time, whole seconds).</summary>
    private static DateTimeOffset Time(string show, string field)
    {
        var at = show.IndexOf(field + "=", StringComparison.Ordinal);
        Assert.True(at >= 0, $"no {field} in:\n{show}");
        var text = new string(show[(at + field.Length + 1)..].TakeWhile(c => !char.IsWhiteSpace(c)).ToArray());
        return new DateTimeOffset(DateTime.ParseExact(text, "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal));
    }

    /// <summary>The directory's non-hidden files and their contents, ordered by name.</summary>
    private static SortedDictionary<string, string> Files(string directory)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(directory))
        {
            var name = Path.GetFileName(path);
            if (!name.StartsWith('.'))
            {
                files[name] = File.ReadAllText(path);
            }
        }

        return files;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string message)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{message} within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
            }

            await Task.Delay(100);
        }
    }
}
