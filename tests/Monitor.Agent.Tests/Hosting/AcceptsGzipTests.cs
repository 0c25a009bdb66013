using Microsoft.Extensions.Primitives;
using Monitor.Agent.Hosting;

namespace Monitor.Agent.Tests.Hosting;

public sealed class AcceptsGzipTests
{
    [Theory]
    [InlineData("gzip", true)]
    [InlineData("gzip, deflate, br", true)]
    [InlineData("deflate;q=1.0, GZIP;q=0.5", true)]
    [InlineData("*", true)]
    [InlineData("gzip;q=0", false)]
    [InlineData("gzip; q=0.000", false)]
    [InlineData("identity", false)]
    [InlineData("", false)]
    public void AcceptsGzip_Header(string header, bool expected) =>
        Assert.Equal(expected, MetricsEndpoint.AcceptsGzip(new StringValues(header)));
}
