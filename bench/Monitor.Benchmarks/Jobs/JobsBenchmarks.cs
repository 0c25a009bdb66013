using System.Globalization;
using BenchmarkDotNet.Attributes;
using Monitor.Agent.Collectors.Jobs;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Gpu;
using Monitor.Agent.Jobs.Slurm;
using Monitor.Agent.Jobs;
using Monitor.Agent.Tests.Collectors;
using Monitor.Core.Exposition;

namespace Monitor.Benchmarks.Jobs;

/// <summary>
/// The sizing: 8 GPUs, 64 jobs (8 sharing each GPU), 2,000 GPU processes. One attribution refresh (the jobs
/// collector's update over a mapping directory and 64 cgroup v2 job directories of 5 files each) and one integrator
/// tick (every process resolved to its job through the resolver's cache, every job's counters advanced).
/// </summary>
[MemoryDiagnoser]
public class JobsBenchmarks
{
    private const int Gpus = 8;
    private const int Jobs = 64;
    private const int Processes = 2000;

    private readonly List<GpuTickDevice> _devices = [];
    private readonly Dictionary<string, TrackedJob> _jobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _allocated = new(StringComparer.Ordinal);
    private readonly JobIntegrator _integrator = new();
    private string _root = string.Empty;
    private ProcessJobResolver? _resolver;
    private CollectorHarness? _collector;
    private AgentServices? _services;
    private double _seconds;

    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("monitor-bench-jobs-").FullName;
        for (var gpu = 0; gpu < Gpus; gpu++)
        {
            var uuid = $"GPU-5131d000-0000-4000-8000-{gpu:D12}";
            var sample = new GpuSample { Timestamp = 1 };
            sample[GpuValue.Utilization] = 0.9;
            sample[GpuValue.Energy] = 1000;
            sample[GpuValue.MemoryUsed] = 40e9;
            sample[GpuValue.MemoryTotal] = 85520809984;
            var ids = new List<string>();
            for (var j = 0; j < Jobs / Gpus; j++)
            {
                ids.Add(((gpu * (Jobs / Gpus)) + j + 1000).ToString(CultureInfo.InvariantCulture));
            }

            for (var p = 0; p < Processes / Gpus; p++)
            {
                var pid = (uint)(10000 + (gpu * (Processes / Gpus)) + p);
                sample.Processes.Add(new GpuProcessSample(pid, 1e9, 0.01, 0.01, uint.MaxValue, uint.MaxValue));
                Write($"proc/{pid}/cgroup", $"0::/system.slice/slurmstepd.scope/job_{ids[p % ids.Count]}/step_0/user/task_0\n");
            }

            _allocated[uuid] = ids;
            Write($"map/{gpu}", string.Join('\n', ids) + "\n");
            foreach (var id in ids)
            {
                _jobs[id] = new TrackedJob(new JobIdentity { JobId = id }, DateTimeOffset.UnixEpoch);
                Write($"sys/fs/cgroup/system.slice/slurmstepd.scope/job_{id}/cpu.stat", "usage_usec 123456789\nuser_usec 1\nsystem_usec 1\n");
                Write($"sys/fs/cgroup/system.slice/slurmstepd.scope/job_{id}/memory.current", "1073741824\n");
                Write($"sys/fs/cgroup/system.slice/slurmstepd.scope/job_{id}/memory.peak", "2147483648\n");
                Write($"sys/fs/cgroup/system.slice/slurmstepd.scope/job_{id}/cpuset.cpus.effective", "0-7,128-135\n");
                Write($"sys/fs/cgroup/system.slice/slurmstepd.scope/job_{id}/memory.max", "17179869184\n");
            }

            _devices.Add(new GpuTickDevice(gpu, uuid, sample, true));
        }

        _resolver = new ProcessJobResolver(Path.Join(_root, "proc"), () => new Dictionary<string, string>());
        IntegratorTick();

        _services = new AgentServices();
        _collector = new CollectorHarness(
            JobsCollector.Descriptor,
            new HostPaths(Path.Join(_root, "proc"), Path.Join(_root, "sys"), _root),
            new Dictionary<string, string?> { ["slurm-mapping-dir"] = Path.Join(_root, "map"), ["gpustat-dir"] = Path.Join(_root, "gpustat"), ["state-path"] = "-" },
            services: _services);
        _services.Gpu.Publish(TimeProvider.System.GetTimestamp(), _devices);
        Refresh();
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    /// <summary>One GPU tick for 8 GPUs, 64 jobs and 2,000 processes (pids already in the resolver's cache).</summary>
    [Benchmark]
    public void IntegratorTick()
    {
        _seconds += 1;
        _resolver!.BeginRound();
        _integrator.Tick(_seconds, 1_700_000_000 + _seconds, _devices, _allocated, _resolver.JobOf, (id, _) => _jobs.GetValueOrDefault(id));
    }

    /// <summary>One refresh: read the mapping directory and the 64 job cgroups, update lifecycles and series.</summary>
    [Benchmark]
    public void Refresh() => _collector!.Update();

    private void Write(string relative, string content)
    {
        var path = Path.Join(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }
}
