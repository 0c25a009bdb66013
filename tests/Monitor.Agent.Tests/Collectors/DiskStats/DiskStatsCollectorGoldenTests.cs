using Monitor.Agent.Collectors.DiskStats;

namespace Monitor.Agent.Tests.Collectors.DiskStats;

public sealed class DiskStatsCollectorGoldenTests
{
    [Fact]
    public void Scrape_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(DiskStatsCollector.Descriptor);
}
