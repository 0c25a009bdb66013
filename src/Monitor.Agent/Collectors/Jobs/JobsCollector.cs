using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Gpu;
using Monitor.Agent.Jobs;
using Monitor.Agent.Jobs.Kubernetes;
using Monitor.Agent.Jobs.Ledger;
using Monitor.Agent.Jobs.Slurm;
using Monitor.Agent.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Jobs;

/// <summary>
/// Job attribution and per-job accounting on the node. Job sources are refreshed in the background every
/// <c>--collector.jobs.interval</c>; the per-job counters are integrated at every GPU tick (1 s) by
/// <see cref="JobIntegrator"/>, on the gpu collector's thread. The sources come from <see cref="JobSourceFactory"/>, what
/// they find becomes job lifetimes in <see cref="JobLifecycle"/>; this class refreshes them and writes the series. Exposes <c>job_*</c> series labelled <c>job_id</c>,
/// <c>job_info</c>, and <c>gpu_job_info</c> for joins with the <c>gpu_*</c> series; a finished job's series stay for
/// <c>--collector.jobs.grace-period</c>. Every job is kept in the durable <see cref="JobLedger"/>
/// (<c>--collector.jobs.state-path</c>), checkpointed at every refresh and at shutdown, for
/// <c>--collector.jobs.retention</c>; /api/v1/jobs serves it, incrementally with <c>?since=</c>.
/// </summary>
internal sealed partial class JobsCollector : ICollector
{
    private static readonly string[] PerGpu = ["job_id", "gpu", "uuid"];

    private readonly JobSources _sources;
    private readonly JobLifecycle _lifecycle;
    private readonly JobIntegrator _integrator;
    private readonly JobStore _store;
    private readonly JobLedger _ledger;
    private readonly TimeSpan _retention;
    private readonly bool _pruneAcknowledged;
    private readonly JobInfoWatch? _jobInfoWatch;
    private readonly List<TrackedJob> _ended = [];
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _grace;
    private readonly Dictionary<string, string?> _sourceProblems = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, List<string>> _allocated = new Dictionary<string, List<string>>(StringComparer.Ordinal);
    private GpuIndex _gpus = GpuIndex.Empty;

    private readonly MetricFamily _sourceUp;
    private readonly MetricFamily _info;
    private readonly MetricFamily _gpuJob;
    private readonly MetricFamily _running;
    private readonly MetricFamily _start;
    private readonly MetricFamily _end;
    private readonly MetricFamily _allocatedSeconds;
    private readonly MetricFamily _busySeconds;
    private readonly MetricFamily _energy;
    private readonly MetricFamily _tensor;
    private readonly MetricFamily _sm;
    private readonly MetricFamily _gpuMemoryPeak;
    private readonly MetricFamily _xids;
    private readonly MetricFamily _ecc;
    private readonly MetricFamily _cpu;
    private readonly MetricFamily _memory;
    private readonly MetricFamily _memoryPeak;
    private readonly MetricFamily _cpusAllocated;
    private readonly MetricFamily _memoryLimit;
    private readonly MetricFamily _cpuEnergy;
    private readonly CpuEnergyMeter _cpuEnergyMeter;
    private readonly string _sysfs;
    private string? _wholeNodeJob;
    private readonly MetricFamily _unobserved;
    private readonly MetricFamily _gpuUnobserved;
    private readonly MetricFamily _ledgerRecords;
    private readonly MetricFamily _ledgerCheckpoint;
    private readonly MetricFamily _ledgerErrors;
    private readonly MetricFamily _ledgerDurable;

    public JobsCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _time = context.Time;
        _store = context.Services.Jobs;
        _store.Enabled = true;
        _grace = context.PositiveDuration("grace-period", DefaultGrace);
        _retention = context.PositiveDuration("retention", DefaultRetention);
        _pruneAcknowledged = Flag(context.Settings["prune-acknowledged"], false);
        var interval = context.PositiveDuration("interval", "5s");
        _integrator = new JobIntegrator(historyTicks: (int)Math.Min(3600, (2 * Math.Ceiling(interval.TotalSeconds)) + 30));
        var users = new PasswdUsers(Path.Join(context.Paths.Rootfs, "etc", "passwd"));
        _lifecycle = new JobLifecycle(_logger, users.Name, _grace);
        var settings = context.Settings;
        _sources = JobSourceFactory.Create(new JobSourceOptions(
            SlurmMapping: Flag(settings["slurm-mapping"], true),
            MappingDirectory: settings["slurm-mapping-dir"] is { Length: > 0 } d ? d : JobSourceFactory.DefaultMappingDirectory,
            JobInfoDirectory: settings["slurm-jobinfo-dir"] is { Length: > 0 } info ? info : JobSourceFactory.DefaultJobInfoDirectory,
            Gpustat: Flag(settings["gpustat"], true),
            GpustatDirectory: settings["gpustat-dir"] is { Length: > 0 } gpustat ? gpustat : JobSourceFactory.DefaultGpustatDirectory,
            SlurmCgroup: Flag(settings["slurm-cgroup"], true),
            CgroupRoot: Path.Join(context.Paths.Sysfs, "fs", "cgroup"),
            Procfs: context.Paths.Procfs,
            Kubernetes: Flag(settings["kubernetes"], false),
            KubeletSocket: settings["kubelet-socket"] is { Length: > 0 } socket ? socket : KubeletPodResourcesSource.DefaultSocketPath,
            KubeletTimeout: Flag(settings["kubernetes"], false) ? context.PositiveDuration("kubelet-timeout", "5s") : TimeSpan.FromSeconds(5),
            Processes: Flag(settings["processes"], true),
            Time: context.Time));

        var g = context.Group;
        _sourceUp = g.Gauge("job_source_up", "Whether the job source's last refresh worked (1) or not (0; see the log).", "source");
        _info = g.Gauge("job_info", "A job on this node; always 1. Labels carry its identity.", "job_id", "scheduler", "user", "account", "partition", "array_job_id", "array_task_id", "namespace", "pod");
        _gpuJob = g.Gauge("gpu_job_info", "Which job holds the GPU now; always 1. Join with gpu_* on gpu and uuid.", "gpu", "uuid", "job_id");
        _running = g.Gauge("job_running", "Whether the job runs (1) or ended within the grace period (0).", "job_id");
        _start = g.Gauge("job_start_timestamp_seconds", "When the agent first saw the job (Unix time).", "job_id");
        _end = g.Gauge("job_end_timestamp_seconds", "When the agent saw the job end (Unix time).", "job_id");
        _allocatedSeconds = g.Counter("job_gpu_allocated_seconds_total", "Seconds the job held the GPU, split equally between jobs sharing it.", PerGpu);
        _busySeconds = g.Counter("job_gpu_busy_seconds_total", "GPU utilization × seconds attributed to the job (shared GPUs split by the job's processes' utilization).", PerGpu);
        _energy = g.Counter("job_gpu_energy_joules_total", "GPU energy attributed to the job, from the energy counter's deltas.", PerGpu);
        _tensor = g.Counter("job_gpu_tensor_active_seconds_total", "Seconds of tensor-pipe activity attributed to the job (GPM, Hopper+).", PerGpu);
        _sm = g.Counter("job_gpu_sm_active_seconds_total", "Seconds of SM activity attributed to the job (GPM, Hopper+).", PerGpu);
        _gpuMemoryPeak = g.Gauge("job_gpu_memory_peak_bytes", "The most GPU memory the job's processes held on the GPU.", PerGpu);
        _xids = g.Counter("job_gpu_xid_errors_total", "XID errors on the GPU while the job held it.", PerGpu);
        _ecc = g.Counter("job_gpu_ecc_errors_total", "ECC errors (volatile) on the GPU while the job held it.", PerGpu);
        _cpu = g.Counter("job_cpu_seconds_total", "CPU time of the job's cgroup.", "job_id");
        _memory = g.Gauge("job_memory_used_bytes", "Memory of the job's cgroup now.", "job_id");
        _memoryPeak = g.Gauge("job_memory_peak_bytes", "Peak memory of the job's cgroup.", "job_id");
        _cpusAllocated = g.Gauge("job_cpus_allocated", "CPUs (hardware threads) in the effective cpuset of the job's cgroup.", "job_id");
        _memoryLimit = g.Gauge("job_memory_limit_bytes", "Memory limit of the job's cgroup; absent when it has none.", "job_id");
        _cpuEnergy = g.Counter("job_cpu_energy_joules_total", "CPU package and DRAM energy (RAPL) while the job was alone on the node and held every CPU; absent otherwise.", "job_id");
        _sysfs = context.Paths.Sysfs;
        _cpuEnergyMeter = new CpuEnergyMeter(context.Paths);

        _unobserved = g.Gauge("job_unobserved_seconds", "Seconds of the job's life the agent did not measure (it was down); not in the job's counters.", "job_id");
        _gpuUnobserved = g.Gauge("job_gpu_unobserved_seconds", "Seconds the job held the GPU while the agent could not measure it (it was down).", PerGpu);
        _ledgerRecords = g.Gauge("monitor_jobs_ledger_records", "Jobs in the ledger: running, and ended within --collector.jobs.retention.");
        _ledgerCheckpoint = g.Gauge("monitor_jobs_ledger_checkpoint_seconds", "How long the last checkpoint of the ledger took (serialize, write, fsync, rename).");
        _ledgerErrors = g.Counter("monitor_jobs_ledger_errors_total", "Ledger problems: corrupt (an unreadable file skipped), write (a failed checkpoint), newer_version (a newer agent's ledger left alone), unusable_path.", "kind");
        _ledgerDurable = g.Gauge("monitor_jobs_ledger_durable", "Whether the ledger checkpoints to disk (1) or runs in memory only (0; see the log).");

        var statePath = settings["state-path"] is { Length: > 0 } state ? state : DefaultStatePath;
        _ledger = new JobLedger(statePath == "-" ? null : statePath, _logger);
        var restored = _ledger.Load();
        var now = _time.GetUtcNow();
        _lifecycle.CheckpointTime = _ledger.LoadedCheckpointTime;
        _lifecycle.RecordEndsSince = _ledger.LoadedCheckpointTime ?? now;
        foreach (var job in _ledger.Ended)
        {
            _lifecycle.Recorded(job);
        }

        _store.Ledger = _ledger;
        _store.Write(jobs =>
        {
            foreach (var job in restored)
            {
                jobs[job.Identity.JobId] = job;
            }
        });
        if (_ledger.Mode == LedgerMode.Durable)
        {
            LogLedgerLoaded(_logger, statePath, restored.Count, _ledger.Ended.Count, _ledger.Revision, _ledger.LoadedCheckpointTime is { } at ? Math.Round((now - at).TotalSeconds, 3) : 0);
        }

        if (Flag(settings["slurm-mapping"], true))
        {
            _jobInfoWatch = new JobInfoWatch(settings["slurm-jobinfo-dir"] is { Length: > 0 } dir ? dir : JobSourceFactory.DefaultJobInfoDirectory);
        }

        context.Services.Gpu.Subscribe(OnGpuTick);
        context.Services.Stopping += Checkpoint;
    }

    /// <summary>Default of <c>--collector.jobs.grace-period</c>.</summary>
    internal const string DefaultGrace = "2m";

    /// <summary>Default of <c>--collector.jobs.retention</c>.</summary>
    internal const string DefaultRetention = "168h";

    /// <summary>Default of <c>--collector.jobs.state-path</c>.</summary>
    internal const string DefaultStatePath = "/var/lib/monitor-agent/jobs";

    /// <summary>Registration: on by default (it costs nothing without jobs), background at 5 s.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "jobs", "Job attribution (Slurm mapping files, cgroups, GPU processes) and per-job GPU, energy, CPU and memory accounting.", true,
        Cadence.Background, TimeSpan.FromSeconds(5),
        c => new JobsCollector(c),
        [
            new CollectorFlag("slurm-mapping", "true", "Read dcgm-exporter's job mapping directory (written by packaging/slurm's prolog).", FlagKind.Bool),
            new CollectorFlag("slurm-mapping-dir", JobSourceFactory.DefaultMappingDirectory, "The job mapping directory: a file per GPU index (or index.gpu_instance), one job id per line."),
            new CollectorFlag("slurm-jobinfo-dir", JobSourceFactory.DefaultJobInfoDirectory, "Job identity files (user, uid, account, partition, array ids) written by packaging/slurm's prolog; read with --collector.jobs.slurm-mapping."),
            new CollectorFlag("gpustat", "true", "Read Princeton jobstats' /run/gpustat files (\"jobid uid\" per GPU index or UUID).", FlagKind.Bool),
            new CollectorFlag("gpustat-dir", JobSourceFactory.DefaultGpustatDirectory, "The gpustat directory."),
            new CollectorFlag("slurm-cgroup", "true", "Discover Slurm jobs and their CPU time, memory, CPUs and memory limit from cgroups (v1 and v2, SLUID, multiple slurmd).", FlagKind.Bool),
            new CollectorFlag("kubernetes", "false", "Read GPU (and MIG, time-sliced) assignments of pods from the kubelet's pod-resources socket.", FlagKind.Bool),
            new CollectorFlag("kubelet-socket", KubeletPodResourcesSource.DefaultSocketPath, "The kubelet pod-resources socket."),
            new CollectorFlag("kubelet-timeout", "5s", "How long one List call to the kubelet may take.", FlagKind.Duration),
            new CollectorFlag("processes", "true", "Attribute GPU processes to jobs through /proc/<pid>/cgroup (shared GPUs: MPS, sharding, time-slicing).", FlagKind.Bool),
            new CollectorFlag("grace-period", DefaultGrace, "How long a finished job's series stay before they disappear.", FlagKind.Duration),
            new CollectorFlag("state-path", DefaultStatePath, "Directory of the durable job ledger, checkpointed at every refresh; \"-\" keeps it in memory only. A path given explicitly must be writable (exit 2 otherwise); with the default, the agent logs why and keeps accounting in memory."),
            new CollectorFlag("retention", DefaultRetention, "How long the ledger keeps ended jobs (for /api/v1/jobs and its ?since= feed); 168h is 7 days.", FlagKind.Duration),
            new CollectorFlag("prune-acknowledged", "false", "Drop an ended job from the ledger before --collector.jobs.retention once a reader has acknowledged it (polled /api/v1/jobs?since= with a cursor past it). Use with a single reader.", FlagKind.Bool),
        ])
    {
        NodeExporter = false,
    };

    public void Update(CancellationToken cancellationToken)
    {
        // 1. Every source, each with its own health; a broken one only loses its own jobs.
        var findings = new JobFindings();
        foreach (var source in _sources.All)
        {
            JobSourceResult result;
            try
            {
                result = source.RefreshAsync(cancellationToken).AsTask().GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
            {
                result = JobSourceResult.Failed(e.Message);
            }

            ReportSource(source.Name, result.Problem);
            findings.Add(source.Name, result);
        }

        _store.Read(jobs =>
        {
            findings.KeepJobsOfFailedSources(jobs);
            return 0;
        });
        findings.SeparateScheduledEnds();

        // 2. GPU references to UUIDs, with the latest tick's index and MIG tables.
        var gpus = Volatile.Read(ref _gpus);
        var allocated = findings.Allocate(gpus);
        Volatile.Write(ref _allocated, allocated);
        var now = _time.GetUtcNow();
        var usage = _sources.Cgroups?.Usage;
        _store.Write(jobs =>
        {
            _lifecycle.RecordEndsSince = Max(_lifecycle.RecordEndsSince, now - _retention);
            _ended.Clear();
            _lifecycle.Apply(jobs, findings, allocated, gpus, usage, now, _integrator, _ended);
            AttributeCpuEnergy(jobs);
            Record(jobs, now);
            Expose(jobs, now);
        });
    }

    /// <summary>
    /// Credits the RAPL energy since the last refresh to the job that owned the whole node over it: the only running
    /// job, at this refresh and the one before, with every online CPU in its cpuset. Otherwise the interval's CPU
    /// energy is attributed to no job (docs/jobs.md, "CPU energy", says when this is exact).
    /// </summary>
    private void AttributeCpuEnergy(Dictionary<string, TrackedJob> jobs)
    {
        var joules = _cpuEnergyMeter.Advance();
        TrackedJob? owner = null;
        if (CpuEnergyMeter.OnlineCpus(_sysfs) is { } online)
        {
            var running = jobs.Values.Where(j => j.End is null).Take(2).ToList();
            owner = running is [{ CpusAllocated: var cpus } only] && cpus >= online ? only : null;
        }

        if (joules is { } delta && owner is not null && owner.Identity.JobId == _wholeNodeJob)
        {
            owner.CpuEnergyJoules = (double.IsNaN(owner.CpuEnergyJoules) ? 0 : owner.CpuEnergyJoules) + delta;
            owner.Dirty = true;
        }

        _wholeNodeJob = owner?.Identity.JobId;
    }

    /// <summary>The ledger's part of a refresh: revisions for what changed, retention, the checkpoint, its metrics.</summary>
    private void Record(Dictionary<string, TrackedJob> jobs, DateTimeOffset now)
    {
        foreach (var job in _ended)
        {
            _ledger.Close(job);
        }

        foreach (var job in jobs.Values)
        {
            if (job.End is null && job.Dirty)
            {
                _ledger.Stamp(job);
            }
        }

        _jobInfoWatch?.Watch(jobs.Values.Where(j => j.End is null).Select(j => j.Identity.JobId));
        _ledger.Prune(now - _retention, _pruneAcknowledged ? _store.Acknowledged : null);
        _ledger.Checkpoint(jobs.Values.Where(j => j.End is null), now);

        // What is durable becomes visible: the series and the API show records a crash cannot take back.
        foreach (var job in jobs.Values.Concat(_ledger.Ended))
        {
            if (job.Revision <= _ledger.DurableRevision && (job.Published?.Revision ?? 0) < job.Revision)
            {
                job.Publish();
            }
        }

        _ledgerRecords.Get().Set(jobs.Values.Count(j => j.End is null) + _ledger.Ended.Count);
        _ledgerCheckpoint.Get().Set(_ledger.LastCheckpointSeconds);
        _ledgerDurable.Get().Set(_ledger.Mode == LedgerMode.Durable ? 1 : 0);
        foreach (var (kind, count) in _ledger.Errors)
        {
            _ledgerErrors.Get(kind).Set(count);
        }
    }

    /// <summary>The final checkpoint, at shutdown.</summary>
    private void Checkpoint() => _store.Write(jobs =>
    {
        foreach (var job in jobs.Values.Where(j => j.End is null && j.Dirty))
        {
            _ledger.Stamp(job);
        }

        _ledger.Checkpoint(jobs.Values.Where(j => j.End is null), _time.GetUtcNow());
    });

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static bool Flag(string? value, bool fallback) => bool.TryParse(value, out var flag) ? flag : fallback;

    private void Expose(Dictionary<string, TrackedJob> jobs, DateTimeOffset now)
    {
        foreach (var job in jobs.Values.Select(j => j.Published).OfType<TrackedJob>())
        {
            if (job.End is { } end && now - end > _grace)
            {
                continue;
            }

            var i = job.Identity;
            var id = i.JobId;
            _info.Get([id, i.Scheduler, i.User ?? string.Empty, i.Account ?? string.Empty, i.Partition ?? string.Empty, i.ArrayJobId ?? string.Empty,
                i.ArrayTaskId ?? string.Empty, i.Namespace ?? string.Empty, i.Pod ?? string.Empty]).Set(1);
            _running.Get(id).Set(job.End is null ? 1 : 0);
            _start.Get(id).Set(job.Start.ToUnixTimeMilliseconds() / 1000.0);
            if (job.End is { } ended)
            {
                _end.Get(id).Set(ended.ToUnixTimeMilliseconds() / 1000.0);
            }

            foreach (var usage in job.Gpus.Values)
            {
                var gpu = usage.Index.ToString(CultureInfo.InvariantCulture);
                _allocatedSeconds.Get(id, gpu, usage.Uuid).Set(usage.AllocatedSeconds);
                _busySeconds.Get(id, gpu, usage.Uuid).Set(usage.BusySeconds);
                _energy.Get(id, gpu, usage.Uuid).Set(usage.EnergyJoules);
                _tensor.Get(id, gpu, usage.Uuid).Set(usage.TensorActiveSeconds);
                _sm.Get(id, gpu, usage.Uuid).Set(usage.SmActiveSeconds);
                _gpuMemoryPeak.Get(id, gpu, usage.Uuid).Set(usage.MemoryPeakBytes);
                _xids.Get(id, gpu, usage.Uuid).Set(usage.XidErrors);
                _ecc.Get(id, gpu, usage.Uuid).Set(usage.EccErrors);
            }

            if (job.End is null)
            {
                foreach (var uuid in job.HeldGpus)
                {
                    var index = Volatile.Read(ref _gpus).IndexOf(uuid);
                    _gpuJob.Get(index?.ToString(CultureInfo.InvariantCulture) ?? string.Empty, uuid, id).Set(1);
                }
            }

            _unobserved.Get(id).Set(job.UnobservedSeconds);
            foreach (var usage in job.Gpus.Values)
            {
                _gpuUnobserved.Get(id, usage.Index.ToString(CultureInfo.InvariantCulture), usage.Uuid).Set(usage.UnobservedSeconds);
            }

            SetIf(_cpu, id, job.CpuSeconds);
            SetIf(_memory, id, job.MemoryBytes);
            SetIf(_memoryPeak, id, job.MemoryPeakBytes);
            SetIf(_cpusAllocated, id, job.CpusAllocated);
            SetIf(_memoryLimit, id, job.MemoryLimitBytes);
            SetIf(_cpuEnergy, id, job.CpuEnergyJoules);
        }

        _store.Holders = jobs.Values
            .Select(j => j.Published).OfType<TrackedJob>()
            .Where(j => j.End is null)
            .SelectMany(j => j.HeldGpus.Select(uuid => (uuid, j.Identity)))
            .GroupBy(h => h.uuid, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(h => h.Identity).ToArray(), StringComparer.Ordinal);

        foreach (var (source, problem) in _sourceProblems)
        {
            _sourceUp.Get(source).Set(problem is null ? 1 : 0);
        }
    }

    private static void SetIf(MetricFamily family, string id, double value)
    {
        if (!double.IsNaN(value))
        {
            family.Get(id).Set(value);
        }
    }

    /// <summary>Every GPU tick: integrate it into the running jobs' counters (gpu collector thread).</summary>
    private void OnGpuTick(long timestamp, IReadOnlyList<GpuTickDevice> devices)
    {
        Volatile.Write(ref _gpus, GpuIndex.From(devices));
        var allocated = Volatile.Read(ref _allocated);
        var seconds = timestamp / (double)_time.TimestampFrequency;
        var unix = _time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        var processes = _sources.Processes;

        // The scheduler's end records the moment they appear (one stat a tick), so a job is not credited past its end.
        var ends = _jobInfoWatch?.EndsIfChanged();
        _store.Write(jobs =>
        {
            if (ends is not null)
            {
                foreach (var (id, end) in ends)
                {
                    if (jobs.TryGetValue(id, out var job) && job.End is null && job.Identity.ScheduledEnd is null)
                    {
                        job.Identity = job.Identity with { ScheduledEnd = end };
                    }
                }
            }

            processes?.BeginRound();
            _integrator.Tick(seconds, unix, devices, allocated, pid => processes?.JobOf(pid), (id, hasProcesses) => _lifecycle.ForTick(jobs, id, hasProcesses, _time.GetUtcNow()));
        });
    }

    private void ReportSource(string name, string? problem)
    {
        var had = _sourceProblems.TryGetValue(name, out var previous);
        _sourceProblems[name] = problem;
        if (problem is not null && (!had || previous != problem))
        {
            LogSourceFailed(_logger, name, problem);
        }
        else if (problem is null && had && previous is not null)
        {
            LogSourceRecovered(_logger, name);
        }
    }

    [LoggerMessage(EventId = EventIds.LedgerLoaded, EventName = "job_ledger_loaded", Level = LogLevel.Information,
        Message = "Job ledger {Directory}: {Running} running and {Ended} ended jobs restored, revision {Revision}, checkpoint {CheckpointAge} s old")]
    private static partial void LogLedgerLoaded(ILogger logger, string directory, int running, int ended, long revision, double checkpointAge);

    [LoggerMessage(EventId = EventIds.JobSourceFailed, EventName = "job_source_failed", Level = LogLevel.Warning, Message = "Job source {Source} failed (job_source_up 0): {Problem}")]
    private static partial void LogSourceFailed(ILogger logger, string source, string problem);

    [LoggerMessage(EventId = EventIds.JobSourceRecovered, EventName = "job_source_recovered", Level = LogLevel.Information, Message = "Job source {Source} works again")]
    private static partial void LogSourceRecovered(ILogger logger, string source);
}
