using Monitor.Agent.Configuration;

namespace Monitor.Agent.Tests.Configuration;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("5s", 5000)]
    [InlineData("500ms", 500)]
    [InlineData("1m30s", 90000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("1.5s", 1500)]
    [InlineData("0s", 0)]
    public void TryParse_Valid_ReturnsMilliseconds(string text, double milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(milliseconds, value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("s")]
    [InlineData("-5s")]
    [InlineData("5 s")]
    [InlineData("5y")]
    [InlineData("99999999999999999h")]
    public void TryParse_Invalid_ReturnsFalse(string text) => Assert.False(Durations.TryParse(text, out _));

    [Theory]
    [InlineData(5000, "5s")]
    [InlineData(250, "250ms")]
    public void Format_RoundTrips(double milliseconds, string text)
    {
        Assert.Equal(text, Durations.Format(TimeSpan.FromMilliseconds(milliseconds)));
        Assert.True(Durations.TryParse(text, out var back));
        Assert.Equal(milliseconds, back.TotalMilliseconds);
    }
}
