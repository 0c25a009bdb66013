using Monitor.Agent.Gpu.Nvml;

namespace Monitor.Agent.Gpu;

/// <summary>
/// GPM profiling for one GPU (Hopper and newer): one GPM sample per interval, for the whole GPU or for each MIG GPU
/// instance, and the metrics of <see cref="GpuCatalog.Gpm"/> derived between it and the previous one. Nothing is
/// exported until two samples exist; a metric whose own result is not SUCCESS is left out. The whole-GPU tensor and
/// SM ratios are also integrated over each interval's wall time into the <c>*_active_seconds</c> counters.
/// </summary>
/// <param name="check">The device sampler's verdict on a call's result (remembers NOT_SUPPORTED, flags a lost GPU).</param>
internal sealed class GpmSampler(INvml nvml, TimeProvider time, Func<NvmlReturn, bool> check)
{
    private readonly Dictionary<uint, GpmPair> _pairs = [];
    private readonly (NvmlReturn Result, double Value)[] _results = new (NvmlReturn, double)[GpuCatalog.GpmIds.Length];

    /// <summary>One interval for the device: the whole GPU, or each GPU instance of <paramref name="mig"/> when MIG is on.</summary>
    public void Sample(nint device, GpuSample work, List<NvmlMigDevice> mig)
    {
        var v = work.Values;
        if (work[GpuValue.MigMode] == 1)
        {
            v.AsSpan((int)GpuValue.Gpm, GpuCatalog.GpmIds.Length).Fill(double.NaN);
            work.GpmMig.Clear();
            foreach (var gi in mig.Select(m => m.GpuInstanceId).Distinct())
            {
                var values = new double[GpuCatalog.GpmIds.Length];
                if (SampleInterval(device, gi, values) is not null)
                {
                    work.GpmMig.Add(new GpuGpmMigSample(gi, values));
                }
            }

            return;
        }

        work.GpmMig.Clear();
        if (SampleInterval(device, null, v.AsSpan((int)GpuValue.Gpm, GpuCatalog.GpmIds.Length)) is { } seconds)
        {
            // Counters that only rise: busy vs productive time, exact whatever the scrape interval.
            Accumulate(v, GpuValue.TensorActiveSeconds, v[(int)GpuValue.Gpm + 3], seconds);
            Accumulate(v, GpuValue.SmActiveSeconds, v[(int)GpuValue.Gpm + 1], seconds);
        }
    }

    private static void Accumulate(double[] v, GpuValue counter, double ratio, double seconds)
    {
        if (double.IsNaN(ratio))
        {
            return;
        }

        v[(int)counter] = (double.IsNaN(v[(int)counter]) ? 0 : v[(int)counter]) + (ratio * seconds);
    }

    /// <summary>The interval's length in seconds when metrics were derived; null otherwise.</summary>
    private double? SampleInterval(nint device, uint? gpuInstance, Span<double> values)
    {
        values.Fill(double.NaN);
        var key = gpuInstance ?? uint.MaxValue;
        if (!_pairs.TryGetValue(key, out var pair))
        {
            if (!check(nvml.GpmSampleAlloc(out var first)) || !check(nvml.GpmSampleAlloc(out var second)))
            {
                return null;
            }

            pair = new GpmPair(first, second);
            _pairs[key] = pair;
        }

        var now = time.GetTimestamp();
        if (!check(nvml.GpmSample(device, gpuInstance, pair.Current)))
        {
            pair.HavePrevious = false;
            return null;
        }

        var derived = pair.HavePrevious && check(nvml.GpmMetrics(pair.Previous, pair.Current, GpuCatalog.GpmIds, _results));
        if (derived)
        {
            for (var i = 0; i < _results.Length; i++)
            {
                if (_results[i].Result == NvmlReturn.Success && double.IsFinite(_results[i].Value))
                {
                    values[i] = _results[i].Value * GpuCatalog.Gpm[i].GpmId!.Value.Scale;
                }
            }
        }

        var seconds = (now - pair.PreviousTime) / (double)time.TimestampFrequency;
        pair.Swap();
        pair.HavePrevious = true;
        pair.PreviousTime = now;
        return derived ? seconds : null;
    }

    /// <summary>The two GPM sample buffers of one interval: the previous sample and the one taken now.</summary>
    private sealed class GpmPair(nint previous, nint current)
    {
        public nint Previous { get; private set; } = previous;

        public nint Current { get; private set; } = current;

        /// <summary>Whether <see cref="Previous"/> holds a sample.</summary>
        public bool HavePrevious { get; set; }

        /// <summary>When <see cref="Previous"/> was taken (TimeProvider timestamp).</summary>
        public long PreviousTime { get; set; }

        /// <summary>The sample just taken becomes the previous one; the old previous buffer is reused.</summary>
        public void Swap() => (Previous, Current) = (Current, Previous);
    }
}
