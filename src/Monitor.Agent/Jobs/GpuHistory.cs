namespace Monitor.Agent.Jobs;

/// <summary>
/// The last ticks of one GPU, each with the counters' rise over its interval, the part of it no job was credited with
/// yet, and what each job was credited. Two corrections use them, both made at a refresh, when the scheduler's times
/// become known:
/// <list type="bullet">
/// <item>a job the sources report late (the scheduler started it before the refresh that finds it) claims the free
/// part of the ticks since its start (<see cref="Claim"/>);</item>
/// <item>a job whose end the refresh learns gives back what it was credited after that end (<see cref="Release"/>):
/// between two refreshes the agent still counted it as the GPU's holder.</item>
/// </list>
/// So when one job ends and the next starts on the GPU between two refreshes, each gets its own ticks.
/// </summary>
internal sealed class GpuHistory(int capacity)
{
    private readonly Tick[] _ring = new Tick[Math.Max(2, capacity)];
    private readonly List<Credit>?[] _credits = new List<Credit>?[Math.Max(2, capacity)];
    private int _next;
    private int _count;

    /// <summary>How many ticks it holds.</summary>
    public int Count => _count;

    /// <summary>Records one tick, wholly free (the oldest is dropped when full); <see cref="Book"/> then records its holders' credits.</summary>
    public void Add(in Tick tick)
    {
        _ring[_next] = tick;
        _ring[_next].Free = 1;
        (_credits[_next] ??= []).Clear();
        _next = (_next + 1) % _ring.Length;
        _count = Math.Min(_count + 1, _ring.Length);
    }

    /// <summary>
    /// Books <paramref name="credit"/> (already added to its usage) against the newest tick: its
    /// <see cref="Credit.Share"/> of the tick is no longer free.
    /// </summary>
    public void Book(in Credit credit)
    {
        var newest = (_next - 1 + _ring.Length) % _ring.Length;
        _ring[newest].Free = Math.Max(0, _ring[newest].Free - credit.Share);
        _credits[newest]!.Add(credit);
    }

    /// <summary>
    /// Credits <paramref name="usage"/> with the free part of the ticks that overlap (<paramref name="from"/>,
    /// <paramref name="to"/>] (Unix seconds): each tick gives its overlap's fraction, split between
    /// <paramref name="claimants"/> jobs claiming at once, and never more than is free. Returns the seconds credited.
    /// </summary>
    public double Claim(double from, double to, JobGpuUsage usage, int claimants = 1)
    {
        var credited = 0.0;
        for (var k = 0; k < _count; k++)
        {
            var slot = Slot(k);
            ref var tick = ref _ring[slot];
            var overlap = Math.Min(tick.To, to) - Math.Max(tick.From, from);
            if (tick.Free <= 0 || overlap <= 0 || tick.To <= tick.From)
            {
                continue;
            }

            var share = Math.Min(overlap / (tick.To - tick.From) / claimants, tick.Free);
            var credit = new Credit
            {
                Usage = usage,
                Share = share,
                CoveredTo = Math.Min(tick.To, to),
                Allocated = tick.Seconds * share,
                Busy = tick.Busy * share,
                Energy = tick.Energy * share,
                Tensor = tick.Tensor * share,
                Sm = tick.Sm * share,
                Xids = tick.Xids,
                Ecc = tick.Ecc,
                UtilizationPeakBefore = usage.UtilizationPeak,
                MemoryPeakBefore = usage.MemoryPeakBytes,
            };
            usage.AllocatedSeconds += credit.Allocated;
            usage.BusySeconds += credit.Busy;
            usage.EnergyJoules += credit.Energy;
            usage.TensorActiveSeconds += credit.Tensor;
            usage.SmActiveSeconds += credit.Sm;
            usage.XidErrors += tick.Xids;
            usage.EccErrors += tick.Ecc;
            if (tick.LastXid != 0)
            {
                usage.LastXid = tick.LastXid;
            }

            usage.MemoryPeakBytes = Math.Max(usage.MemoryPeakBytes, tick.MemoryUsed);
            if (tick.Seconds > 0)
            {
                usage.UtilizationPeak = JobIntegrator.Peak(usage.UtilizationPeak, tick.Busy / tick.Seconds);
            }

            if (!double.IsNaN(tick.MemoryTotal))
            {
                usage.MemoryTotalBytes = tick.MemoryTotal;
            }

            tick.Free -= share;
            _credits[slot]!.Add(credit);
            credited += credit.Allocated;
        }

        return credited;
    }

    /// <summary>
    /// Takes back from <paramref name="usage"/> what it was credited after <paramref name="end"/> (Unix seconds): the
    /// part of each credit past the end, in proportion, goes back to the tick's free part. A tick wholly after the end
    /// also takes back its errors, and the first such tick restores the peaks the usage had before it. Returns the
    /// seconds taken back.
    /// </summary>
    public double Release(JobGpuUsage usage, double end)
    {
        var released = 0.0;
        var peaksRestored = false;
        for (var k = 0; k < _count; k++)
        {
            var slot = Slot(k);
            ref var tick = ref _ring[slot];
            var credits = _credits[slot]!;
            for (var c = 0; c < credits.Count; c++)
            {
                var credit = credits[c];
                if (!ReferenceEquals(credit.Usage, usage) || credit.CoveredTo <= end || credit.CoveredTo <= tick.From)
                {
                    continue;
                }

                var after = Math.Clamp((credit.CoveredTo - Math.Max(tick.From, end)) / (credit.CoveredTo - tick.From), 0, 1);
                usage.AllocatedSeconds -= credit.Allocated * after;
                usage.BusySeconds -= credit.Busy * after;
                usage.EnergyJoules -= credit.Energy * after;
                usage.TensorActiveSeconds -= credit.Tensor * after;
                usage.SmActiveSeconds -= credit.Sm * after;
                released += credit.Allocated * after;
                tick.Free = Math.Min(1, tick.Free + (credit.Share * after));
                if (after >= 1)
                {
                    usage.XidErrors -= credit.Xids;
                    usage.EccErrors -= credit.Ecc;
                    if (!peaksRestored)
                    {
                        usage.UtilizationPeak = credit.UtilizationPeakBefore;
                        usage.MemoryPeakBytes = credit.MemoryPeakBefore;
                        peaksRestored = true;
                    }

                    credits.RemoveAt(c--);
                    continue;
                }

                credits[c] = credit with
                {
                    Share = credit.Share * (1 - after),
                    CoveredTo = Math.Max(tick.From, end),
                    Allocated = credit.Allocated * (1 - after),
                    Busy = credit.Busy * (1 - after),
                    Energy = credit.Energy * (1 - after),
                    Tensor = credit.Tensor * (1 - after),
                    Sm = credit.Sm * (1 - after),
                };
            }
        }

        return released;
    }

    /// <summary>The ring slot of the <paramref name="k"/>-th oldest tick.</summary>
    private int Slot(int k) => (_next - _count + k + _ring.Length) % _ring.Length;

    /// <summary>
    /// One tick of a GPU: the interval (<see cref="From"/>, <see cref="To"/>] in Unix seconds, its length on the
    /// monotonic clock, each counter's rise over it, and the fraction of it no job was credited with.
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

        /// <summary>The code of the last XID when the tick had any; 0 otherwise.</summary>
        public uint LastXid;

        /// <summary>The fraction of the tick (0 to 1) no job was credited with: 1 when nobody held the GPU.</summary>
        public double Free;
    }

    /// <summary>
    /// What one job's usage of the GPU was credited for one tick: the fraction of the tick (<see cref="Share"/>), the
    /// end of the part it covers, the amounts, and the usage's peaks before it.
    /// </summary>
    internal readonly record struct Credit
    {
        public required JobGpuUsage Usage { get; init; }
        public double Share { get; init; }
        public double CoveredTo { get; init; }
        public double Allocated { get; init; }
        public double Busy { get; init; }
        public double Energy { get; init; }
        public double Tensor { get; init; }
        public double Sm { get; init; }
        public long Xids { get; init; }
        public long Ecc { get; init; }
        public double UtilizationPeakBefore { get; init; }
        public double MemoryPeakBefore { get; init; }
    }
}
