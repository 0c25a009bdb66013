using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// The selinux collector reads this machine (as node_exporter's go-selinux does, ignoring --path.*), so it is compared
/// with the real node_exporter 1.5.0 on the same machine: same families, HELP, TYPE and exact values (the SELinux state
/// does not change during the test; on our build machines it is disabled, so only node_selinux_enabled 0).
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class SelinuxTests
{
    [Fact]
    public async Task Selinux_SameSeriesAsNodeExporter()
    {
        await using var peer = await NodeExporterPeer.StartAsync("selinux");
        await using var agent = await AgentProcess.StartAsync("--collector.disable-defaults", "--collector.selinux");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        var before = await peer.ScrapeAsync(client);
        var mine = await agent.ScrapeAsync(client);
        var after = await peer.ScrapeAsync(client);

        NodeExporterPeer.AssertSandwiched(before, mine, after, "node_selinux_", tolerance: 0);
    }
}
