using Monitor.Agent.Collectors.Stat;

namespace Monitor.Agent.Tests.Collectors.Stat;

public sealed class StatCollectorGoldenTests
{
    [Fact]
    public void Scrape_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(StatCollector.Descriptor);
}
