using Monitor.Agent.Collectors.Pressure;

namespace Monitor.Agent.Tests.Collectors.Pressure;

public sealed class PressureCollectorGoldenTests
{
    [Fact]
    public void Scrape_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(PressureCollector.Descriptor);
}
