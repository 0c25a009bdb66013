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
/// <item>XID and ECC errors: the GPU's new errors are counted for every holder;</item>
/// <item>memory total: the GPU's total memory at the tick (not a counter: the last one NVML reported).</item>
/// </list>
/// A GPU that is unhealthy for a tick (lost, stalled) is skipped and its baseline kept, so the next healthy tick
/// covers the gap with the counters' real deltas.
/// <para>Every tick also goes into the GPU's <see cref="GpuHistory"/> with what each holder was credited, so a job
/// found late claims the free part of the ticks since its scheduled start (<see cref="Claim"/>), and a job whose
/// scheduled end a refresh learns gives back what it was credited after it (<see cref="Release"/>). A job whose
/// scheduled end is known is credited only up to it: the tick that straddles the end gives its share.</para>
/// </remarks>
/// <param name="historyTicks">How many ticks each GPU's history keeps (at least the refresh interval's worth).</param>
internal sealed class JobIntegrator(int historyTicks = 64)
{
    private readonly Dictionary<string, Baseline> _baselines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GpuHistory> _history = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (double Utilization, double Memory)> _byJob = new(StringComparer.Ordinal);
    private readonly List<string> _holders = [];

    /// <summary>
    /// Integrates one tick at <paramref name="seconds"/> (monotonic) and <paramref name="unix"/> (wall clock, Unix
    /// seconds). <paramref name="allocated"/> maps a GPU UUID
    /// to the jobs the sources assign it to; <paramref name="jobOfProcess"/> names a process's job (or null);
    /// <paramref name="job"/> returns the tracked job for an id (and whether the job has processes on the GPU now),
    /// creating it for a job seen only through a process.
    /// </summary>
    public void Tick(
        double seconds,
        double unix,
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
                unix,
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
            var utilization = sample[GpuValue.Utilization];
            var energy = Delta(before.Energy, now.Energy);
            var tensor = Delta(before.Tensor, now.Tensor);
            var sm = Delta(before.Sm, now.Sm);
            var xids = Math.Max(0, now.Xids - before.Xids);
            var ecc = double.IsNaN(before.Ecc) || double.IsNaN(now.Ecc) ? 0 : Math.Max(0, (long)(now.Ecc - before.Ecc));
            var used = sample[GpuValue.MemoryUsed];
            var total = sample[GpuValue.MemoryTotal] is var t && double.IsFinite(t) && t > 0 ? t : double.NaN;
            var history = History(device.Uuid);
            history.Add(new GpuHistory.Tick
            {
                From = before.Unix,
                To = now.Unix,
                Seconds = interval,
                Busy = double.IsNaN(utilization) ? 0 : utilization * interval,
                Energy = energy,
                Tensor = tensor,
                Sm = sm,
                MemoryUsed = double.IsNaN(used) ? 0 : used,
                MemoryTotal = total,
                Xids = xids,
                Ecc = ecc,
                LastXid = xids > 0 ? sample.LastXid : 0,
            });
            if (_holders.Count == 0)
            {
                continue;
            }

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
                // A job whose scheduled end falls in this tick gets the part of the tick before it.
                var part = tracked.Identity.ScheduledEnd is { } end
                    ? Math.Clamp((end.ToUnixTimeMilliseconds() / 1000.0 - before.Unix) / Math.Max(now.Unix - before.Unix, 1e-9), 0, 1)
                    : 1;
                if (part <= 0)
                {
                    continue;
                }

                var usage = tracked.Gpu(device.Index, device.Uuid);
                tracked.HeldGpus.Add(device.Uuid);
                tracked.Dirty = true;
                if (usage.Resumed)
                {
                    // The first tick after a restart: the time since the last checkpointed tick was not measured.
                    usage.UnobservedSeconds += Math.Max(0, before.Unix - usage.LastTickUnix);
                    usage.Resumed = false;
                }

                usage.LastTickUnix = now.Unix;
                var credit = new GpuHistory.Credit
                {
                    Usage = usage,
                    Share = part / _holders.Count,
                    CoveredTo = before.Unix + ((now.Unix - before.Unix) * part),
                    Allocated = interval / _holders.Count * part,
                    Busy = double.IsNaN(utilization) ? 0 : utilization * interval * weight * part,
                    Energy = energy * weight * part,
                    Tensor = tensor * weight * part,
                    Sm = sm * weight * part,
                    Xids = xids,
                    Ecc = ecc,
                    UtilizationPeakBefore = usage.UtilizationPeak,
                    MemoryPeakBefore = usage.MemoryPeakBytes,
                };
                history.Book(credit);
                usage.AllocatedSeconds += credit.Allocated;
                if (!double.IsNaN(utilization))
                {
                    usage.BusySeconds += credit.Busy;

                    // This tick's busy share over its held share, as busy over allocated seconds is over the whole job
                    // (so, like that mean, it can pass 1 for the heavier of jobs sharing a GPU).
                    usage.UtilizationPeak = Peak(usage.UtilizationPeak, utilization * weight * _holders.Count);
                }

                usage.EnergyJoules += credit.Energy;
                usage.TensorActiveSeconds += credit.Tensor;
                usage.SmActiveSeconds += credit.Sm;
                usage.XidErrors += xids;
                usage.EccErrors += ecc;
                if (xids > 0 && sample.LastXid != 0)
                {
                    usage.LastXid = sample.LastXid;
                }

                var memory = jobMemory > 0 ? jobMemory
                    : _holders.Count == 1 && totalMemory == 0 && !double.IsNaN(sample[GpuValue.MemoryUsed]) ? sample[GpuValue.MemoryUsed]
                    : 0;
                usage.MemoryPeakBytes = Math.Max(usage.MemoryPeakBytes, memory);
                usage.MemoryUsedBytes = memory;
                if (!double.IsNaN(total))
                {
                    usage.MemoryTotalBytes = total;
                }
            }
        }
    }

    /// <summary>The higher of a peak so far (NaN: none yet) and a tick's utilization.</summary>
    internal static double Peak(double peak, double tick) => double.IsNaN(peak) ? tick : Math.Max(peak, tick);

    /// <summary>Forgets a GPU's baseline (after a driver reload its counters restart).</summary>
    public void Reset() => _baselines.Clear();

    /// <summary>
    /// Credits <paramref name="job"/> with the unclaimed ticks of GPU <paramref name="uuid"/> within
    /// (<paramref name="from"/>, <paramref name="to"/>] (Unix seconds): the time between its scheduled start and the
    /// refresh that found it, when no job was credited with the GPU. Returns the seconds credited.
    /// </summary>
    public double Claim(TrackedJob job, int index, string uuid, double from, double to, int claimants = 1)
    {
        if (!_history.TryGetValue(uuid, out var history))
        {
            return 0;
        }

        var usage = job.Gpu(index, uuid);
        var credited = history.Claim(from, to, usage, claimants);
        if (credited > 0)
        {
            job.Dirty = true;
            usage.LastTickUnix = Math.Max(usage.LastTickUnix, Math.Min(to, _baselines.TryGetValue(uuid, out var last) ? last.Unix : to));
        }

        return credited;
    }

    /// <summary>
    /// Takes back from <paramref name="job"/> what its GPUs' ticks credited it after <paramref name="end"/>: the ticks
    /// between its real end and the refresh that learns it, when the agent still counted it as the GPUs' holder. They
    /// become free for the job that starts there next. Returns the GPU-seconds taken back.
    /// </summary>
    public double Release(TrackedJob job, DateTimeOffset end)
    {
        var released = 0.0;
        foreach (var usage in job.Gpus.Values)
        {
            if (_history.TryGetValue(usage.Uuid, out var history))
            {
                released += history.Release(usage, end.ToUnixTimeMilliseconds() / 1000.0);
            }
        }

        if (released > 0)
        {
            job.Dirty = true;
        }

        return released;
    }

    private GpuHistory History(string uuid)
    {
        if (!_history.TryGetValue(uuid, out var history))
        {
            history = new GpuHistory(historyTicks);
            _history[uuid] = history;
        }

        return history;
    }

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

    private readonly record struct Baseline(double Seconds, double Unix, double Energy, double Tensor, double Sm, long Xids, double Ecc);
}
