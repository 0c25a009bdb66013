using Monitor.Agent.Collectors.MemInfo;

namespace Monitor.Agent.Tests.Collectors.MemInfo;

public sealed class MemInfoCollectorGoldenTests
{
    [Fact]
    public void Scrape_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(MemInfoCollector.Descriptor);
}
