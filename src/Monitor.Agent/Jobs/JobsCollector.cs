using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors;
using Monitor.Agent.Jobs.Slurm;
using Monitor.Core.Exposition;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Jobs;

/// <summary>
/// Job attribution and per-job accounting on the node. Job sources are refreshed in the background every
/// <c>--collector.jobs.interval</c>; the per-job counters are integrated at every GPU tick (1 s) by
/// <see cref="JobIntegrator"/>, on the gpu collector's thread. Exposes <c>job_*</c> series labelled <c>job_id</c>,
/// <c>job_info</c>, and <c>gpu_job_info</c> for joins with the <c>gpu_*</c> series; a finished job's series stay for
/// <c>--collector.jobs.grace-period</c>, and /api/v1/jobs keeps it for an hour.
/// </summary>
internal sealed partial class JobsCollector : ICollector
{
    private static readonly TimeSpan History = TimeSpan.FromHours(1);
    private static readonly string[] PerGpu = ["job_id", "gpu", "uuid"];

    private readonly IJobSource[] _sources;
    private readonly SlurmCgroupSource? _cgroups;
    private readonly ProcessJobResolver? _processes;
    private readonly JobIntegrator _integrator = new();
    private readonly JobStore _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _grace;
    private readonly string _passwd;
    private readonly Dictionary<string, string?> _users = new(StringComparer.Ordinal);
    private readonly HashSet<string> _seenByProcess = new(StringComparer.Ordinal);
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

    public JobsCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _time = context.Time;
        _store = context.Services.Jobs;
        _store.Enabled = true;
        _grace = context.PositiveDuration("grace-period", DefaultGrace);
        _passwd = Path.Join(context.Paths.Rootfs, "etc", "passwd");
        var settings = context.Settings;
        var sources = new List<IJobSource>();
        if (Flag(settings["slurm-mapping"], true))
        {
            sources.Add(new SlurmMappingDirectorySource(settings["slurm-mapping-dir"] is { Length: > 0 } d ? d : DefaultMappingDirectory));
            sources.Add(new SlurmJobInfoSource(settings["slurm-jobinfo-dir"] is { Length: > 0 } info ? info : DefaultJobInfoDirectory));
        }

        if (Flag(settings["gpustat"], true))
        {
            sources.Add(new GpustatDirectorySource(settings["gpustat-dir"] is { Length: > 0 } gpustat ? gpustat : DefaultGpustatDirectory));
        }

        if (Flag(settings["slurm-cgroup"], true))
        {
            _cgroups = new SlurmCgroupSource(Path.Join(context.Paths.Sysfs, "fs", "cgroup"), context.Paths.Procfs);
            sources.Add(_cgroups);
        }

        if (Flag(settings["kubernetes"], false))
        {
            sources.Add(new Kubernetes.KubeletPodResourcesSource(
                settings["kubelet-socket"] is { Length: > 0 } socket ? socket : Kubernetes.KubeletPodResourcesSource.DefaultSocketPath,
                context.PositiveDuration("kubelet-timeout", "5s"),
                timeProvider: context.Time));
        }

        if (Flag(settings["processes"], true))
        {
            var cgroups = _cgroups;
            _processes = new ProcessJobResolver(context.Paths.Procfs, () => cgroups?.Sluids ?? new Dictionary<string, string>());
        }

        _sources = [.. sources];

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

        context.Services.Gpu.Subscribe(OnGpuTick);
    }

    /// <summary>Default of <c>--collector.jobs.slurm-mapping-dir</c>, where packaging/slurm's prolog writes.</summary>
    internal const string DefaultMappingDirectory = "/run/monitor/job-mapping";

    /// <summary>Default of <c>--collector.jobs.slurm-jobinfo-dir</c>, where packaging/slurm's prolog writes job identities.</summary>
    internal const string DefaultJobInfoDirectory = "/run/monitor/jobs";

    /// <summary>Default of <c>--collector.jobs.gpustat-dir</c> (Princeton jobstats' format).</summary>
    internal const string DefaultGpustatDirectory = "/run/gpustat";

    /// <summary>Default of <c>--collector.jobs.grace-period</c>.</summary>
    internal const string DefaultGrace = "2m";

    /// <summary>Registration: on by default (it costs nothing without jobs), background at 5 s.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "jobs", "Job attribution (Slurm mapping files, cgroups, GPU processes) and per-job GPU, energy, CPU and memory accounting.", true,
        Cadence.Background, TimeSpan.FromSeconds(5),
        c => new JobsCollector(c),
        [
            new CollectorFlag("slurm-mapping", "true", "Read dcgm-exporter's job mapping directory (written by packaging/slurm's prolog).", FlagKind.Bool),
            new CollectorFlag("slurm-mapping-dir", DefaultMappingDirectory, "The job mapping directory: a file per GPU index (or index.gpu_instance), one job id per line."),
            new CollectorFlag("slurm-jobinfo-dir", DefaultJobInfoDirectory, "Job identity files (user, uid, account, partition, array ids) written by packaging/slurm's prolog; read with --collector.jobs.slurm-mapping."),
            new CollectorFlag("gpustat", "true", "Read Princeton jobstats' /run/gpustat files (\"jobid uid\" per GPU index or UUID).", FlagKind.Bool),
            new CollectorFlag("gpustat-dir", DefaultGpustatDirectory, "The gpustat directory."),
            new CollectorFlag("slurm-cgroup", "true", "Discover Slurm jobs and their CPU time and memory from cgroups (v1 and v2, SLUID, multiple slurmd).", FlagKind.Bool),
            new CollectorFlag("kubernetes", "false", "Read GPU (and MIG, time-sliced) assignments of pods from the kubelet's pod-resources socket.", FlagKind.Bool),
            new CollectorFlag("kubelet-socket", "/var/lib/kubelet/pod-resources/kubelet.sock", "The kubelet pod-resources socket."),
            new CollectorFlag("kubelet-timeout", "5s", "How long one List call to the kubelet may take.", FlagKind.Duration),
            new CollectorFlag("processes", "true", "Attribute GPU processes to jobs through /proc/<pid>/cgroup (shared GPUs: MPS, sharding, time-slicing).", FlagKind.Bool),
            new CollectorFlag("grace-period", DefaultGrace, "How long a finished job's series stay before they disappear.", FlagKind.Duration),
        ]);

    public void Update(CancellationToken cancellationToken)
    {
        // 1. Every source, each with its own health; a broken one only loses its own jobs.
        var found = new Dictionary<string, (JobIdentity Identity, List<GpuRef> Gpus)>(StringComparer.Ordinal);
        var foundBy = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var failed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var source in _sources)
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
            if (result.Problem is not null)
            {
                failed.Add(source.Name);
            }

            foreach (var job in result.Jobs)
            {
                found[job.Identity.JobId] = found.TryGetValue(job.Identity.JobId, out var seen)
                    ? (seen.Identity.Merge(job.Identity), [.. seen.Gpus, .. job.Gpus])
                    : (job.Identity, [.. job.Gpus]);
                (foundBy.TryGetValue(job.Identity.JobId, out var by) ? by : foundBy[job.Identity.JobId] = []).Add(source.Name);
            }
        }

        // A source that failed this time says nothing about its jobs: they keep running, on the GPUs they held, until
        // it answers again. Otherwise one unreadable file or a kubelet restart would end every job it lists, and the
        // next refresh would start them again with their counters at 0.
        if (failed.Count > 0)
        {
            _store.Read(jobs =>
            {
                foreach (var (id, job) in jobs)
                {
                    if (job.End is null && !found.ContainsKey(id) && job.Sources.Overlaps(failed))
                    {
                        found[id] = (job.Identity, [.. job.HeldGpus.Select(uuid => new GpuRef(uuid, null))]);
                        foundBy[id] = [.. job.Sources];
                    }
                }

                return 0;
            });
        }

        // 2. GPU references to UUIDs, with the latest tick's index and MIG tables.
        var gpus = Volatile.Read(ref _gpus);
        var allocated = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (id, (_, refs)) in found)
        {
            foreach (var reference in refs)
            {
                if (gpus.Resolve(reference) is { } uuid)
                {
                    (allocated.TryGetValue(uuid, out var holders) ? holders : allocated[uuid] = []).Add(id);
                }
            }
        }

        Volatile.Write(ref _allocated, allocated);
        var now = _time.GetUtcNow();
        var usage = _cgroups?.Usage;
        _store.Write(jobs =>
        {
            Lifecycle(jobs, found, foundBy, allocated, usage, now);
            Expose(jobs, now);
        });
    }

    private static bool Flag(string? value, bool fallback) => bool.TryParse(value, out var flag) ? flag : fallback;


    private void Lifecycle(
        Dictionary<string, TrackedJob> jobs,
        Dictionary<string, (JobIdentity Identity, List<GpuRef> Gpus)> found,
        Dictionary<string, List<string>> foundBy,
        Dictionary<string, List<string>> allocated,
        IReadOnlyDictionary<string, CgroupUsage>? usage,
        DateTimeOffset now)
    {
        foreach (var (id, (identity, _)) in found)
        {
            var named = identity.User is null && identity.Uid is { } uid ? identity with { User = UserName(uid) } : identity;
            if (jobs.TryGetValue(id, out var job) && job.End is null)
            {
                job.Identity = named.Merge(job.Identity);
            }
            else
            {
                // New, or the same id again after it ended (a requeued job): a new lifetime.
                job = new TrackedJob(named, now);
                jobs[id] = job;
                LogJobStarted(_logger, id, named.Scheduler, named.User ?? string.Empty);
            }

            if (foundBy.TryGetValue(id, out var sources))
            {
                job.Sources.Clear();
                job.Sources.UnionWith(sources);
            }
        }

        foreach (var id in _seenByProcess)
        {
            if (!found.ContainsKey(id) && jobs.TryGetValue(id, out var job) && job.End is null)
            {
                found[id] = (job.Identity, []);
            }
        }

        _seenByProcess.Clear();
        foreach (var job in jobs.Values)
        {
            var id = job.Identity.JobId;
            job.HeldGpus.Clear();
            foreach (var (uuid, holders) in allocated)
            {
                if (holders.Contains(id))
                {
                    job.HeldGpus.Add(uuid);

                    // Its counters start at 0 in the same update as job_info and gpu_job_info, not a GPU tick later:
                    // a scrape never sees a running job on a GPU without its counters, and increase() sees the first
                    // second.
                    if (Volatile.Read(ref _gpus).IndexOf(uuid) is { } index)
                    {
                        _ = job.Gpu(index, uuid);
                    }
                }
            }

            if (usage is not null && usage.TryGetValue(id, out var cgroup))
            {
                job.CpuSeconds = cgroup.CpuSeconds;
                job.MemoryBytes = cgroup.MemoryBytes;
                job.MemoryPeakBytes = double.IsNaN(cgroup.MemoryPeakBytes) ? Math.Max(job.MemoryPeakBytes is var p && double.IsNaN(p) ? 0 : p, cgroup.MemoryBytes) : cgroup.MemoryPeakBytes;
            }

            if (job.End is null && !found.ContainsKey(id))
            {
                job.End = now;
                job.HeldGpus.Clear();
                LogJobEnded(
                    _logger, id, (now - job.Start).TotalSeconds, job.Gpus.Count, job.Gpus.Values.Sum(g => g.AllocatedSeconds), job.Gpus.Values.Sum(g => g.BusySeconds),
                    job.Gpus.Values.Sum(g => g.EnergyJoules), job.Gpus.Values.Select(g => g.MemoryPeakBytes).DefaultIfEmpty(0).Max(), job.CpuSeconds, job.MemoryPeakBytes,
                    job.Gpus.Values.Sum(g => g.XidErrors), job.Gpus.Values.Sum(g => g.EccErrors));
            }
        }

        foreach (var id in jobs.Where(j => j.Value.End is { } end && now - end > History).Select(j => j.Key).ToList())
        {
            jobs.Remove(id);
        }
    }

    private void Expose(Dictionary<string, TrackedJob> jobs, DateTimeOffset now)
    {
        foreach (var job in jobs.Values)
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

            SetIf(_cpu, id, job.CpuSeconds);
            SetIf(_memory, id, job.MemoryBytes);
            SetIf(_memoryPeak, id, job.MemoryPeakBytes);
        }

        _store.Holders = jobs.Values
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
        _store.Write(jobs =>
        {
            _processes?.BeginRound();
            _integrator.Tick(seconds, devices, allocated, pid => _processes?.JobOf(pid), (id, hasProcesses) =>
            {
                // A job whose processes run on a GPU is alive, whatever the sources say.
                if (hasProcesses)
                {
                    _seenByProcess.Add(id);
                }

                if (jobs.TryGetValue(id, out var job) && job.End is null)
                {
                    return job;
                }

                if (!hasProcesses)
                {
                    // Allocated by a source the refresh has not tracked yet: it starts at the next refresh.
                    return null;
                }

                // A job seen only through its processes (no source lists it): tracked from now on.
                job = new TrackedJob(new JobIdentity { JobId = id }, _time.GetUtcNow());
                jobs[id] = job;
                LogJobStarted(_logger, id, job.Identity.Scheduler, string.Empty);
                return job;
            });
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

    /// <summary>A user name from the host's /etc/passwd (cached); null when unknown.</summary>
    private string? UserName(string uid)
    {
        if (_users.TryGetValue(uid, out var name))
        {
            return name;
        }

        try
        {
            name = File.ReadLines(_passwd).Select(l => l.Split(':')).FirstOrDefault(f => f.Length > 2 && f[2] == uid)?[0];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            name = null;
        }

        _users[uid] = name;
        return name;
    }

    [LoggerMessage(EventId = EventIds.JobStarted, EventName = "job_started", Level = LogLevel.Information, Message = "Job {JobId} started on this node ({Scheduler}, user {User})")]
    private static partial void LogJobStarted(ILogger logger, string jobId, string scheduler, string user);

    [LoggerMessage(EventId = EventIds.JobEnded, EventName = "job_ended", Level = LogLevel.Information,
        Message = "Job {JobId} ended on this node after {Seconds} s: {Gpus} GPUs, {GpuSeconds} GPU-seconds allocated, {BusySeconds} busy, {EnergyJoules} J, GPU memory peak {GpuMemoryPeakBytes} B, CPU {CpuSeconds} s, memory peak {MemoryPeakBytes} B, {Xids} XIDs, {EccErrors} ECC errors")]
    private static partial void LogJobEnded(
        ILogger logger, string jobId, double seconds, int gpus, double gpuSeconds, double busySeconds, double energyJoules, double gpuMemoryPeakBytes,
        double cpuSeconds, double memoryPeakBytes, long xids, long eccErrors);

    [LoggerMessage(EventId = EventIds.JobSourceFailed, EventName = "job_source_failed", Level = LogLevel.Warning, Message = "Job source {Source} failed (job_source_up 0): {Problem}")]
    private static partial void LogSourceFailed(ILogger logger, string source, string problem);

    [LoggerMessage(EventId = EventIds.JobSourceRecovered, EventName = "job_source_recovered", Level = LogLevel.Information, Message = "Job source {Source} works again")]
    private static partial void LogSourceRecovered(ILogger logger, string source);
}

/// <summary>The latest tick's GPUs: index → UUID, and MIG UUID / (index, GPU instance) → the parent GPU's UUID.</summary>
internal sealed class GpuIndex
{
    private readonly Dictionary<int, string> _byIndex = [];
    private readonly Dictionary<string, string> _byMig = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _indexOf = new(StringComparer.Ordinal);

    /// <summary>No GPUs (before the first tick, or without a gpu collector).</summary>
    public static GpuIndex Empty { get; } = new();

    /// <summary>The table of one tick.</summary>
    public static GpuIndex From(IReadOnlyList<GpuTickDevice> devices)
    {
        var index = new GpuIndex();
        foreach (var device in devices)
        {
            index._byIndex[device.Index] = device.Uuid;
            index._indexOf[device.Uuid] = device.Index;
            foreach (var mig in device.Sample.Mig)
            {
                index._byMig[mig.Uuid] = device.Uuid;
            }
        }

        return index;
    }

    /// <summary>The UUID of the (parent) GPU a source names; MIG instances are accounted to their parent GPU.</summary>
    public string? Resolve(GpuRef reference) => reference switch
    {
        { Uuid: { } uuid } when uuid.StartsWith("MIG-", StringComparison.Ordinal) => _byMig.GetValueOrDefault(uuid),
        { Uuid: { } uuid } => _indexOf.ContainsKey(uuid) ? uuid : null,
        { Index: { } i } => _byIndex.GetValueOrDefault(i),
        _ => null,
    };

    /// <summary>The NVML index of a GPU UUID, if known.</summary>
    public int? IndexOf(string uuid) => _indexOf.TryGetValue(uuid, out var i) ? i : null;
}
