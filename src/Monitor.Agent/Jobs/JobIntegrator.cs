using Monitor.Agent.Gpu;

namespace Monitor.Agent.Jobs;

/// <summary>
/// Integrates every GPU tick (1 s) into the per-job, per-GPU counters of <see cref="JobGpuUsage"/>, so the results
/// are exact to the second and the joule whatever the scrape interval.
/// </summary>
/// <remarks>
/// For each GPU, the jobs holding it are those the sources assign it to plus those whose processes run on it
/// (found through /proc/&lt;pid&gt;/cgroup). Over the interval since the previous tick:
/// <list type="bullet">
/// <item>allocated seconds: the interval, split equally between the holders;</item>
/// <item>busy seconds, energy (the energy counter's delta), tensor- and SM-active seconds: split by weight, the
/// job's share of its processes' SM utilization on that GPU; if none ran, their share of GPU memory; if no process
/// is known, equally;</item>
/// <item>memory peak: the most GPU memory the job's processes held (a sole holder with no process list gets the
/// GPU's used memory);</item>
/// <item>XID and ECC errors: the GPU's new errors are counted for every holder.</item>
/// </list>
/// A GPU that is unhealthy for a tick (lost, stalled) is skipped and its baseline kept, so the next healthy tick
/// covers the gap with the counters' real deltas.
/// </remarks>
internal sealed class JobIntegrator
{
    private readonly Dictionary<string, Baseline> _baselines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (double Utilization, double Memory)> _byJob = new(StringComparer.Ordinal);
    private readonly List<string> _holders = [];

    /// <summary>
    /// Integrates one tick at <paramref name="seconds"/> (monotonic). <paramref name="allocated"/> maps a GPU UUID
    /// to the jobs the sources assign it to; <paramref name="jobOfProcess"/> names a process's job (or null);
    /// <paramref name="job"/> returns the tracked job for an id (and whether the job has processes on the GPU now),
    /// creating it for a job seen only through a process.
    /// </summary>
    public void Tick(
        double seconds,
        IReadOnlyList<GpuTickDevice> devices,
        IReadOnlyDictionary<string, List<string>> allocated,
        Func<uint, string?> jobOfProcess,
        Func<string, bool, TrackedJob?> job)
    {
        foreach (var device in devices)
        {
            if (!device.Healthy)
            {
                continue;
            }

            var sample = device.Sample;
            var now = new Baseline(
                seconds,
                sample[GpuValue.Energy],
                sample[GpuValue.TensorActiveSeconds],
                sample[GpuValue.SmActiveSeconds],
                sample.XidErrors,
                Sum(sample[GpuValue.Ecc], sample[GpuValue.Ecc + 2]));
            if (!_baselines.TryGetValue(device.Uuid, out var before))
            {
                _baselines[device.Uuid] = now;
                continue;
            }

            _baselines[device.Uuid] = now;
            var interval = Math.Max(0, now.Seconds - before.Seconds);
            Holders(device, allocated, jobOfProcess);
            if (_holders.Count == 0)
            {
                continue;
            }

            var utilization = sample[GpuValue.Utilization];
            var energy = Delta(before.Energy, now.Energy);
            var tensor = Delta(before.Tensor, now.Tensor);
            var sm = Delta(before.Sm, now.Sm);
            var xids = Math.Max(0, now.Xids - before.Xids);
            var ecc = double.IsNaN(before.Ecc) || double.IsNaN(now.Ecc) ? 0 : Math.Max(0, (long)(now.Ecc - before.Ecc));
            var (totalUtilization, totalMemory) = (0.0, 0.0);
            foreach (var (u, m) in _byJob.Values)
            {
                totalUtilization += u;
                totalMemory += m;
            }

            foreach (var id in _holders)
            {
                if (job(id, _byJob.ContainsKey(id)) is not { } tracked)
                {
                    continue;
                }

                var (jobUtilization, jobMemory) = _byJob.GetValueOrDefault(id);
                var weight = totalUtilization > 0 ? jobUtilization / totalUtilization
                    : totalMemory > 0 ? jobMemory / totalMemory
                    : 1.0 / _holders.Count;
                var usage = tracked.Gpu(device.Index, device.Uuid);
                tracked.HeldGpus.Add(device.Uuid);
                usage.AllocatedSeconds += interval / _holders.Count;
                if (!double.IsNaN(utilization))
                {
                    usage.BusySeconds += utilization * interval * weight;
                }

                usage.EnergyJoules += energy * weight;
                usage.TensorActiveSeconds += tensor * weight;
                usage.SmActiveSeconds += sm * weight;
                usage.XidErrors += xids;
                usage.EccErrors += ecc;
                var memory = jobMemory > 0 ? jobMemory
                    : _holders.Count == 1 && totalMemory == 0 && !double.IsNaN(sample[GpuValue.MemoryUsed]) ? sample[GpuValue.MemoryUsed]
                    : 0;
                usage.MemoryPeakBytes = Math.Max(usage.MemoryPeakBytes, memory);
            }
        }
    }

    /// <summary>Forgets a GPU's baseline (after a driver reload its counters restart).</summary>
    public void Reset() => _baselines.Clear();

    private static double Sum(double a, double b) => double.IsNaN(a) && double.IsNaN(b) ? double.NaN : (double.IsNaN(a) ? 0 : a) + (double.IsNaN(b) ? 0 : b);

    /// <summary>A counter's rise; 0 when either end is unknown or it went backwards (a reset).</summary>
    private static double Delta(double before, double now) => double.IsNaN(before) || double.IsNaN(now) || now < before ? 0 : now - before;

    /// <summary>Fills <see cref="_holders"/> (allocated jobs, then jobs seen only through processes) and <see cref="_byJob"/>.</summary>
    private void Holders(GpuTickDevice device, IReadOnlyDictionary<string, List<string>> allocated, Func<uint, string?> jobOfProcess)
    {
        _holders.Clear();
        _byJob.Clear();
        if (allocated.TryGetValue(device.Uuid, out var ids))
        {
            foreach (var id in ids)
            {
                if (!_holders.Contains(id))
                {
                    _holders.Add(id);
                }
            }
        }

        foreach (var process in device.Sample.Processes)
        {
            if (jobOfProcess(process.Pid) is not { } id)
            {
                continue;
            }

            if (!_holders.Contains(id))
            {
                _holders.Add(id);
            }

            var (u, m) = _byJob.GetValueOrDefault(id);
            _byJob[id] = (u + (double.IsNaN(process.Utilization) ? 0 : process.Utilization), m + (double.IsNaN(process.MemoryBytes) ? 0 : process.MemoryBytes));
        }
    }

    private readonly record struct Baseline(double Seconds, double Energy, double Tensor, double Sm, long Xids, double Ecc);
}
