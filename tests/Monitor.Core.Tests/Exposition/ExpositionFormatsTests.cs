using Monitor.Core.Exposition;

namespace Monitor.Core.Tests.Exposition;

public sealed class ExpositionFormatsTests
{
    [Theory]
    [InlineData(null, ExpositionFormat.Text004)]
    [InlineData("", ExpositionFormat.Text004)]
    [InlineData("*/*", ExpositionFormat.Text004)]
    [InlineData("text/plain", ExpositionFormat.Text004)]
    [InlineData("application/openmetrics-text", ExpositionFormat.OpenMetrics100)]
    // Prometheus 2.42's scrape header.
    [InlineData("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", ExpositionFormat.OpenMetrics100)]
    // Prometheus 2.5-2.41 asked for OpenMetrics 0.0.1, which we do not speak.
    [InlineData("application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", ExpositionFormat.Text004)]
    // Equal q: header order decides, as in client_golang.
    [InlineData("text/plain;version=0.0.4, application/openmetrics-text;version=1.0.0", ExpositionFormat.Text004)]
    [InlineData("text/plain;q=0.5, application/openmetrics-text;version=1.0.0;q=0.9", ExpositionFormat.OpenMetrics100)]
    [InlineData("application/openmetrics-text;version=1.0.0;q=0", ExpositionFormat.Text004)]
    [InlineData("application/openmetrics-text;version=2.0.0", ExpositionFormat.Text004)]
    [InlineData("Application/OpenMetrics-Text; Version=1.0.0; charset=utf-8", ExpositionFormat.OpenMetrics100)]
    [InlineData("garbage;;;,,=q=", ExpositionFormat.Text004)]
    public void Negotiate_AcceptHeader_ChoosesFormat(string? accept, ExpositionFormat expected) =>
        Assert.Equal(expected, ExpositionFormats.Negotiate(accept));

    [Fact]
    public void ContentType_EachFormat_NamesVersion()
    {
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", ExpositionFormats.ContentType(ExpositionFormat.Text004));
        Assert.Equal("application/openmetrics-text; version=1.0.0; charset=utf-8", ExpositionFormats.ContentType(ExpositionFormat.OpenMetrics100));
    }
}
