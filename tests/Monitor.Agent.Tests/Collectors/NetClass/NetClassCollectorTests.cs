using Monitor.Agent.Collectors.NetClass;
using Monitor.Agent.Configuration;
using Monitor.Agent.Tests.Support;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.NetClass;

public sealed class NetClassCollectorTests
{
    [Fact]
    public void Scrape_IgnoredDevices_NotExported()
    {
        var text = CollectorHarness.ForTree(NetClassCollector.Descriptor, Fixtures.Path("host"), new Dictionary<string, string?> { ["ignored-devices"] = "^eth" }).Scrape();

        Assert.DoesNotContain("device=\"eth", text, StringComparison.Ordinal);
        Assert.Contains("node_network_up{device=\"ib0\"} 1", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrape_IgnoreInvalidSpeed_DropsNegativeSpeedOnly()
    {
        var samples = PromSamples.Parse(CollectorHarness.ForTree(NetClassCollector.Descriptor, Fixtures.Path("host"), new Dictionary<string, string?> { ["ignore-invalid-speed"] = "true" }).Scrape());

        Assert.DoesNotContain("node_network_speed_bytes{device=\"eth1\"}", samples.Keys);
        Assert.Equal(3.125e9, samples["node_network_speed_bytes{device=\"eth0\"}"]);
    }

    [Fact]
    public void Update_MalformedAttribute_DropsOnlyThatInterface_LoggedOnce()
    {
        using var tree = new TempTree();
        tree.Write("sys/class/net/eth0/mtu", "1500\n").Write("sys/class/net/eth0/operstate", "up\n")
            .Write("sys/class/net/bad0/mtu", "lots\n").Write("sys/class/net/bad0/operstate", "up\n")
            .Write("sys/class/net/bonding_masters", "bond0\n");
        var logs = new CollectingLoggerFactory();
        var harness = new CollectorHarness(NetClassCollector.Descriptor, new HostPaths(tree.Path("proc"), tree.Path("sys"), tree.Root), logger: logs.CreateLogger("netclass"));
        harness.Update();
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(1500, samples["node_network_mtu_bytes{device=\"eth0\"}"]);
        Assert.DoesNotContain(samples.Keys, k => k.Contains("bad0", StringComparison.Ordinal) || k.Contains("bonding_masters", StringComparison.Ordinal));
        Assert.Single(logs.Structured, e => e.Id.Id == 2117);
    }

    [Fact]
    public void Update_DownLinkWithoutSpeedFile_OtherPropertiesExported()
    {
        using var tree = new TempTree();
        tree.Write("sys/class/net/eth9/operstate", "down\n").Write("sys/class/net/eth9/mtu", "9000\n");
        var samples = PromSamples.Parse(new CollectorHarness(NetClassCollector.Descriptor, new HostPaths(tree.Path("proc"), tree.Path("sys"), tree.Root)).Scrape());

        Assert.Equal(0, samples["node_network_up{device=\"eth9\"}"]);
        Assert.Equal(9000, samples["node_network_mtu_bytes{device=\"eth9\"}"]);
        Assert.DoesNotContain("node_network_speed_bytes{device=\"eth9\"}", samples.Keys);
    }
}
