using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// The timex collector calls adjtimex(2) on this machine, so it has no golden: its series are compared with the real
/// node_exporter 1.5.0's on the same machine. Names, labels, HELP and TYPE must be identical. Each value must lie between
/// node_exporter's value read just before and just after ours: the kernel's clock state only moves between reads (the
/// maximum error grows at 500 ppm while unsynchronised, NTP slews offset and frequency), so a read in between cannot be
/// outside; 1e-9 absorbs float rounding only.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class TimexTests
{
    [Fact]
    public async Task Timex_SameSeriesAsNodeExporter_ValuesBetweenItsTwoAnswers()
    {
        await using var peer = await NodeExporterPeer.StartAsync("timex");
        await using var agent = await AgentProcess.StartAsync("--collector.disable-defaults", "--collector.timex");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        var before = await peer.ScrapeAsync(client);
        var mine = await agent.ScrapeAsync(client);
        var after = await peer.ScrapeAsync(client);

        NodeExporterPeer.AssertSandwiched(before, mine, after, "node_timex_", tolerance: 1e-9);
    }
}
