using Monitor.Agent.Collectors.InfiniBand;

namespace Monitor.Agent.Tests.Collectors.InfiniBand;

public sealed class InfiniBandGoldenTests
{
    [Fact]
    public void Scrape_HostFixture_MatchesNodeExporterGolden() =>
        HostGolden.AssertMatches(InfiniBandCollector.Descriptor, beyondPeer: InfiniBandCollector.BeyondNodeExporter150);
}
