namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>
/// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): attempt n waits a
/// uniform random time up to min(max, min·2ⁿ), never below min, so many agents that lost the same cluster do not
/// come back in step. The random source is injected so tests check the bounds deterministically.
/// </summary>
internal sealed class Backoff
{
    private readonly TimeSpan _min;
    private readonly TimeSpan _max;
    private readonly Random _random;
    private int _attempt;

    public Backoff(TimeSpan min, TimeSpan max, Random random)
    {
        _min = min;
        _max = max;
        _random = random;
    }

    /// <summary>The cap of the next wait.</summary>
    public TimeSpan Ceiling => TimeSpan.FromTicks((long)Math.Min(_max.Ticks, _min.Ticks * Math.Pow(2, Math.Min(_attempt, 30))));

    /// <summary>The next wait, within [min, ceiling]; each call raises the ceiling until it reaches max.</summary>
    public TimeSpan Next()
    {
        var ceiling = Ceiling;
        _attempt++;
        return TimeSpan.FromTicks(_min.Ticks + (long)(_random.NextDouble() * (ceiling.Ticks - _min.Ticks)));
    }

    /// <summary>Back to the first attempt after a success.</summary>
    public void Reset() => _attempt = 0;
}
