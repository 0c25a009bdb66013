using Monitor.Contracts;

namespace Monitor.Testing;

/// <summary>
/// Job records as an agent's jobs feed gives them, with figures easy to check by hand: a Slurm job of alice's
/// (account physics, partition gpu) whose GPUs each draw a steady power for whole hours.
/// </summary>
public static class SomeJob
{
    /// <summary>
    /// Job <paramref name="jobId"/> on one node from <paramref name="start"/> to <paramref name="end"/> (running when
    /// null), both as the scheduler gave them, with <paramref name="gpus"/>.
    /// </summary>
    public static NodeJobRecord Record(string jobId, DateTimeOffset start, DateTimeOffset? end, params NodeJobGpu[] gpus) => new()
    {
        JobId = jobId, Revision = 7, Scheduler = "slurm", State = end is null ? "running" : "ended", User = "alice", Account = "physics",
        Partition = "gpu", Start = start, StartSource = "scheduler", End = end, EndSource = end is null ? null : "scheduler", Gpus = gpus,
    };

    /// <summary>
    /// GPU <paramref name="index"/> held for <paramref name="hours"/>, busy <paramref name="utilization"/> of the
    /// time, drawing <paramref name="watts"/> throughout, its processes' memory peaking at <paramref name="memory"/> bytes.
    /// </summary>
    public static NodeJobGpu Gpu(int index, double utilization, double memory = 20e9, long xids = 0, double hours = 1, double watts = 350) => new()
    {
        Index = index, Uuid = $"GPU-5131d000-0000-4000-8000-{index:D12}", AllocatedSeconds = 3600 * hours,
        BusySeconds = 3600 * hours * utilization, EnergyJoules = watts * 3600 * hours, MemoryPeakBytes = memory, XidErrors = xids,
    };
}
