using Monitor.Agent.Collectors.NetDev;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.NetDev;

public sealed class NetDevCollectorTests
{
    private static readonly string[] Devices = ["docker0", "eno1", "ib0", "lo", "veth1a2b3c4"];

    [Fact]
    public void Update_DefaultSettings_ExcludesLoopbackLikeDebian()
    {
        Assert.Equal(Devices.Where(d => d != "lo"), ReportedDevices(null));
    }

    [Fact]
    public void Update_ExcludeCleared_ReportsLoopback()
    {
        Assert.Equal(Devices, ReportedDevices(new() { ["device-exclude"] = "" }));
    }

    [Fact]
    public void Update_IncludePattern_ReportsOnlyMatchingDevices()
    {
        Assert.Equal(["eno1", "ib0"], ReportedDevices(new() { ["device-exclude"] = "", ["device-include"] = "^(eno|ib)" }));
    }

    [Fact]
    public void Update_OneMalformedLine_KeepsTheOtherDevices()
    {
        using var tree = new TempTree().Write("proc/net/dev", """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
              eth0: 100 2 0 0 0 0 0 0 200 3 0 0 0 0 0 0
              eth1: 100 2 0 0
              eth2: 300 4 0 0 0 0 0 0 400 5 0 0 0 0 0 0

            """);

        var samples = PromSamples.Parse(CollectorHarness.ForTree(NetDevCollector.Descriptor, tree.Root).Scrape());

        Assert.Equal(100, samples["node_network_receive_bytes_total{device=\"eth0\"}"]);
        Assert.Equal(5, samples["node_network_transmit_packets_total{device=\"eth2\"}"]);
        Assert.DoesNotContain(samples.Keys, k => k.Contains("eth1", StringComparison.Ordinal));
    }

    [Fact]
    public void Update_NoHandlerFromSysfs_WhereTheKernelHasIt()
    {
        using var tree = new TempTree().Write("proc/net/dev", """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
              eth0: 100 2 0 0 0 0 0 0 200 3 0 0 0 0 0 0
              eth1: 300 4 0 0 0 0 0 0 400 5 0 0 0 0 0 0

            """).Write("sys/class/net/eth0/statistics/rx_nohandler", "17\n");
        var harness = CollectorHarness.ForTree(NetDevCollector.Descriptor, tree.Root);

        var samples = PromSamples.Parse(harness.Scrape());
        Assert.Equal(17, samples["node_network_receive_nohandler_total{device=\"eth0\"}"]);
        Assert.DoesNotContain("node_network_receive_nohandler_total{device=\"eth1\"}", samples.Keys);

        // Read at every scrape, like the other counters.
        tree.Write("sys/class/net/eth0/statistics/rx_nohandler", "18\n");
        Assert.Equal(18, PromSamples.Parse(harness.Scrape())["node_network_receive_nohandler_total{device=\"eth0\"}"]);
    }

    [Fact]
    public void Update_FileWithoutHeader_Throws()
    {
        using var tree = new TempTree().Write("proc/net/dev", "Inter-|   Receive\n");

        Assert.Throws<MalformedSourceException>(CollectorHarness.ForTree(NetDevCollector.Descriptor, tree.Root).Update);
    }

    [Fact]
    public void Update_MissingFile_Throws()
    {
        using var tree = new TempTree();

        Assert.ThrowsAny<IOException>(CollectorHarness.ForTree(NetDevCollector.Descriptor, tree.Root).Update);
    }

    private static string[] ReportedDevices(Dictionary<string, string?>? settings)
    {
        var samples = PromSamples.Parse(CollectorHarness.ForTree(NetDevCollector.Descriptor, Fixtures.Path("host"), settings).Scrape());
        return [.. samples.Keys
            .Where(k => k.StartsWith("node_network_receive_bytes_total", StringComparison.Ordinal))
            .Select(k => k.Split('"')[1])
            .Order(StringComparer.Ordinal)];
    }
}
