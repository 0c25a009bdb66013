using Microsoft.Extensions.Time.Testing;

namespace Monitor.Testing;

/// <summary>The clock unit tests run on: a <see cref="FakeTimeProvider"/> that moves only when told to.</summary>
public static class TestClock
{
    /// <summary>Where every test clock starts (a fixed instant, so logged and serialized times are reproducible).</summary>
    public static readonly DateTimeOffset Start = new(2026, 11, 30, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A new fake clock at <see cref="Start"/>.</summary>
    public static FakeTimeProvider Create() => new(Start);
}
