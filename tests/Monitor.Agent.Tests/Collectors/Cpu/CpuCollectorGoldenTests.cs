using Monitor.Agent.Collectors.Cpu;

namespace Monitor.Agent.Tests.Collectors.Cpu;

public sealed class CpuCollectorGoldenTests
{
    [Fact]
    public void Scrape_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(CpuCollector.Descriptor);
}
