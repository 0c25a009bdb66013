using Monitor.Agent.Collectors.NetClass;

namespace Monitor.Agent.Tests.Collectors.NetClass;

public sealed class NetClassGoldenTests
{
    [Fact]
    public void Scrape_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(NetClassCollector.Descriptor);
}
