using Monitor.Agent.Jobs.Kubernetes;

namespace Monitor.Agent.Tests.Jobs.Kubernetes;

/// <summary>The channel's pure parts: how timeouts print and travel; calls are tested against the stand-in kubelet.</summary>
public sealed class GrpcUnixChannelTests
{
    [Theory]
    [InlineData(5_000, "5 s")]
    [InlineData(60_000, "60 s")]
    [InlineData(500, "500 ms")]
    [InlineData(1_500, "1500 ms")]
    public void FormatDuration_WholeSecondsOrMilliseconds(int milliseconds, string text) =>
        Assert.Equal(text, GrpcUnixChannel.FormatDuration(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void FormatDuration_FractionalMilliseconds() =>
        Assert.Equal("0.5 ms", GrpcUnixChannel.FormatDuration(TimeSpan.FromTicks(5_000)));

    [Theory]
    [InlineData(5_000, "5000m")]
    [InlineData(500, "500m")]
    [InlineData(99_999_999, "99999999m")]
    [InlineData(100_000_000, "100000S")]
    public void GrpcTimeoutHeader_AtMostEightDigitsAndAUnit(long milliseconds, string header) =>
        Assert.Equal(header, GrpcUnixChannel.GrpcTimeoutHeader(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void GrpcTimeoutHeader_RoundsUp() =>
        Assert.Equal("1m", GrpcUnixChannel.GrpcTimeoutHeader(TimeSpan.FromTicks(1)));

    [Fact]
    public void Constructor_RefusesAPathLongerThanSunPath() =>
        Assert.ThrowsAny<ArgumentException>(() => new GrpcUnixChannel("/" + new string('s', 200), "kubelet", TimeSpan.FromSeconds(1)));
}
