using Monitor.Core.Exposition;

namespace Monitor.Agent.Hosting;

/// <summary>
/// A series written from many request threads at once. <see cref="Series"/> has a single writer by design (the
/// collector runner's), so writes from the HTTP side are serialized here; a counter must never step back because two
/// increments raced.
/// </summary>
internal sealed class SharedSeries(Series series)
{
    private readonly Lock _lock = new();

    /// <summary>Adds <paramref name="delta"/>.</summary>
    public void Add(double delta)
    {
        lock (_lock)
        {
            series.Add(delta);
        }
    }

    /// <summary>Sets the value.</summary>
    public void Set(double value)
    {
        lock (_lock)
        {
            series.Set(value);
        }
    }

    /// <summary>Creates the series at <paramref name="initial"/> (counters start at 0).</summary>
    public static SharedSeries Start(Series series, double initial = 0)
    {
        series.Set(initial);
        return new SharedSeries(series);
    }
}
