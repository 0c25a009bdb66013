namespace Monitor.Agent.Gpu;

/// <summary>
/// A GPU's energy counter that moves every tick though NVML's energy call (about 4 ms) runs only at the slow cadence:
/// the last real read (J) plus the trapezoidal integral of the power readings since (reference nvml.md §9). It never
/// goes backwards, except when a real read is below the previous one, which means the driver reloaded and the
/// counter really reset.
/// </summary>
internal sealed class EnergyCounter(TimeProvider time)
{
    private double _anchor = double.NaN;
    private double _integral;
    private double _exported = double.NaN;
    private double _lastPower = double.NaN;
    private long _lastPowerTime;

    /// <summary>Adds the power reading <paramref name="watts"/> taken at <paramref name="now"/> (TimeProvider timestamp).</summary>
    public void Integrate(double watts, long now)
    {
        if (!double.IsNaN(_lastPower))
        {
            var seconds = (now - _lastPowerTime) / (double)time.TimestampFrequency;
            _integral += (watts + _lastPower) / 2 * seconds;
        }

        _lastPower = watts;
        _lastPowerTime = now;
    }

    /// <summary>A real energy read, in joules, taken at <paramref name="now"/>: the integral starts again from it.</summary>
    public void Anchor(double joules, long now)
    {
        // A smaller reading than the last anchor is a driver reload: the counter really reset.
        if (double.IsNaN(_anchor) || joules < _anchor)
        {
            _exported = joules;
        }

        _anchor = joules;
        _integral = 0;
        _lastPowerTime = now;
    }

    /// <summary>The counter now, or false before the first real read.</summary>
    public bool TryRead(out double joules)
    {
        if (double.IsNaN(_anchor))
        {
            joules = double.NaN;
            return false;
        }

        // Never backwards: when the integral ran ahead of the next real read, hold until the counter catches up.
        _exported = Math.Max(_exported, _anchor + _integral);
        joules = _exported;
        return true;
    }
}
