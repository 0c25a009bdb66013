using Monitor.Agent.Collectors.NetDev;

namespace Monitor.Agent.Tests.Collectors.NetDev;

public sealed class NetDevCollectorGoldenTests
{
    [Fact]
    public void Scrape_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(NetDevCollector.Descriptor, beyondPeer: NetDevCollector.BeyondNodeExporter150Proc);
}
