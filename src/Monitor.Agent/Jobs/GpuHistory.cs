namespace Monitor.Agent.Jobs;

/// <summary>
/// The last ticks of one GPU, each with the counters' rise over its interval and whether a job was credited with it.
/// A job the sources report late (the scheduler started it before the refresh that finds it) claims the ticks since
/// its start that no job was credited with, so the gap between the real start and the refresh is the job's too.
/// </summary>
internal sealed class GpuHistory(int capacity)
{
    private readonly Tick[] _ring = new Tick[Math.Max(2, capacity)];
    private int _next;
    private int _count;

    /// <summary>How many ticks it holds.</summary>
    public int Count => _count;

    /// <summary>Records one tick (the oldest is dropped when full).</summary>
    public void Add(in Tick tick)
    {
        _ring[_next] = tick;
        _next = (_next + 1) % _ring.Length;
        _count = Math.Min(_count + 1, _ring.Length);
    }

    /// <summary>
    /// Credits <paramref name="usage"/> with the unclaimed ticks that overlap (<paramref name="from"/>,
    /// <paramref name="to"/>] (Unix seconds), each in proportion to the overlap (the tick that straddles a boundary
    /// gives its share), split between <paramref name="claimants"/> jobs claiming at once, and marks them claimed.
    /// Returns the seconds credited.
    /// </summary>
    public double Claim(double from, double to, JobGpuUsage usage, int claimants = 1)
    {
        var credited = 0.0;
        for (var k = 0; k < _count; k++)
        {
            ref var tick = ref _ring[(_next - _count + k + _ring.Length) % _ring.Length];
            var overlap = Math.Min(tick.To, to) - Math.Max(tick.From, from);
            if (tick.Claimed || overlap <= 0 || tick.To <= tick.From)
            {
                continue;
            }

            var share = overlap / (tick.To - tick.From) / claimants;
            usage.AllocatedSeconds += tick.Seconds * share;
            usage.BusySeconds += tick.Busy * share;
            usage.EnergyJoules += tick.Energy * share;
            usage.TensorActiveSeconds += tick.Tensor * share;
            usage.SmActiveSeconds += tick.Sm * share;
            usage.XidErrors += tick.Xids;
            usage.EccErrors += tick.Ecc;
            usage.MemoryPeakBytes = Math.Max(usage.MemoryPeakBytes, tick.MemoryUsed);
            if (tick.Seconds > 0)
            {
                usage.UtilizationPeak = JobIntegrator.Peak(usage.UtilizationPeak, tick.Busy / tick.Seconds);
            }

            if (!double.IsNaN(tick.MemoryTotal))
            {
                usage.MemoryTotalBytes = tick.MemoryTotal;
            }

            credited += tick.Seconds * share;
            tick.Claimed = true;
        }

        return credited;
    }

    /// <summary>
    /// One tick of a GPU: the interval (<see cref="From"/>, <see cref="To"/>] in Unix seconds, its length on the
    /// monotonic clock, and each counter's rise over it.
    /// </summary>
    internal struct Tick
    {
        public double From;
        public double To;
        public double Seconds;
        public double Busy;
        public double Energy;
        public double Tensor;
        public double Sm;
        public double MemoryUsed;

        /// <summary>The GPU's total memory (bytes); NaN when NVML did not report it.</summary>
        public double MemoryTotal;
        public long Xids;
        public long Ecc;

        /// <summary>A job was credited with it (at the tick, or by a claim since).</summary>
        public bool Claimed;
    }
}
