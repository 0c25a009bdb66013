using Monitor.Agent.Collectors.Ipvs;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Subsystems;

/// <summary>The ipvs collector against node_exporter 1.5.0's golden, its label flag, and bad or missing files.</summary>
public sealed class IpvsCollectorTests : IDisposable
{
    private const string Stats =
        "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n     A       1F        0              FF                0\n\n";

    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(IpvsCollector.Descriptor);

    [Fact]
    public void NoIpvsOnHost_SucceedsWithNoSeries()
    {
        _tree.Write("proc/net/dev", "");
        Assert.Equal("", CollectorHarness.ForTree(IpvsCollector.Descriptor, _tree.Root).Scrape());
    }

    [Fact]
    public void BackendLabels_LocalPortOnly_SumsBackendsSharingIt()
    {
        _tree.Write("proc/net/ip_vs_stats", Stats).Write("proc/net/ip_vs",
            "Prot LocalAddress:Port Scheduler Flags\nTCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 100 248 2\n  -> C0A85318:0CEA Tunnel 50 2 1\nUDP  C0A80017:0CEA rr\n  -> C0A85216:0CEA Route 1 1 1\n");
        var harness = CollectorHarness.ForTree(IpvsCollector.Descriptor, _tree.Root, new Dictionary<string, string?> { ["backend-labels"] = "local_port" });

        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(251, samples["node_ipvs_backend_connections_active{local_port=\"3306\"}"]);
        Assert.Equal(4, samples["node_ipvs_backend_connections_inactive{local_port=\"3306\"}"]);
        Assert.Equal(151, samples["node_ipvs_backend_weight{local_port=\"3306\"}"]);
        Assert.Equal(10, samples["node_ipvs_connections_total"]);
        Assert.Equal(255, samples["node_ipvs_incoming_bytes_total"]);
    }

    [Fact]
    public void BackendLabels_NoneAndReordered_FollowNodeExporterOrder()
    {
        Assert.Empty(IpvsCollector.ParseLabels(""));
        Assert.Equal(["local_address", "proto"], IpvsCollector.ParseLabels("proto,local_address,proto"));
        var ex = Assert.Throws<ArgumentException>(() => IpvsCollector.ParseLabels("proto,zone,area"));
        Assert.Contains("unknown IPVS backend labels: \"area, zone\"", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BackendGoneBetweenScrapes_ItsSeriesGo()
    {
        _tree.Write("proc/net/ip_vs_stats", Stats).Write("proc/net/ip_vs", "TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 100 248 2\n  -> C0A85318:0CEA Tunnel 50 2 1\n");
        var harness = CollectorHarness.ForTree(IpvsCollector.Descriptor, _tree.Root);
        Assert.Contains("192.168.83.24", harness.Scrape(), StringComparison.Ordinal);

        _tree.Write("proc/net/ip_vs", "TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 100 248 2\n");
        var text = harness.Scrape();

        Assert.DoesNotContain("192.168.83.24", text, StringComparison.Ordinal);
        Assert.Contains("remote_address=\"192.168.82.22\"", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a\nb\nc", "too short")]
    [InlineData("a\nb\n1 2 3 4\n", "unexpected number of fields")]
    [InlineData("a\nb\n1 2 3 4 5 6\n", "unexpected number of fields")]
    [InlineData("a\nb\n1 2 3 4 XYZ\n", "'XYZ'")]
    [InlineData("a\nb\n1 2 3 4 10000000000000000\n", "'10000000000000000'")]
    public void MalformedStats_FailsTheCollector(string stats, string expected)
    {
        _tree.Write("proc/net/ip_vs_stats", stats).Write("proc/net/ip_vs", "");
        var ex = Assert.Throws<MalformedSourceException>(CollectorHarness.ForTree(IpvsCollector.Descriptor, _tree.Root).Update);
        Assert.Contains(expected, ex.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 1x0 248 2\n", "'1x0'")]
    [InlineData("TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel -1 248 2\n", "'-1'")]
    [InlineData("TCP  C0A8001:0CEA wlc\n", "unexpected IP:Port")]
    [InlineData("TCP  C0A8001G:0CEA wlc\n", "invalid IPv4")]
    [InlineData("TCP  C0A80016:0CEZ wlc\n", "invalid port")]
    [InlineData("TCP  [2620:0000:0000:0000:0000:0000:0000:000g]:0050 rr\n", "invalid IPv6")]
    [InlineData("TCP\n", "one field")]
    public void MalformedBackends_FailsTheCollectorAfterTheTotals(string backends, string expected)
    {
        _tree.Write("proc/net/ip_vs_stats", Stats).Write("proc/net/ip_vs", backends);
        var harness = CollectorHarness.ForTree(IpvsCollector.Descriptor, _tree.Root);

        var ex = Assert.Throws<MalformedSourceException>(harness.Update);

        Assert.Contains(expected, ex.Problem, StringComparison.Ordinal);
        Assert.Contains("node_ipvs_connections_total 10\n", harness.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public void ShortLines_AreSkippedAsInProcfs()
    {
        _tree.Write("proc/net/ip_vs_stats", Stats).Write("proc/net/ip_vs", "TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 100 248\n\n");
        var text = CollectorHarness.ForTree(IpvsCollector.Descriptor, _tree.Root).Scrape();
        Assert.DoesNotContain("backend", text, StringComparison.Ordinal);
    }

    [Fact]
    public void StatsWithoutBackendsFile_FailsAfterTheTotals()
    {
        _tree.Write("proc/net/ip_vs_stats", Stats);
        var harness = CollectorHarness.ForTree(IpvsCollector.Descriptor, _tree.Root);

        Assert.Throws<FileNotFoundException>(harness.Update);
        Assert.Contains("node_ipvs_incoming_packets_total 31\n", harness.Render(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0000:0000:0000:0000:0000:0000:0000:0001", "::1")]
    [InlineData("0000:0000:0000:0000:0000:0000:0102:0304", "::102:304")]
    [InlineData("0000:0000:0000:0000:0000:ffff:0102:0304", "1.2.3.4")]
    [InlineData("2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1")]
    [InlineData("2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::1")]
    [InlineData("fe80:0000:0000:0000:0000:0000:0000:0000", "fe80::")]
    public void Ipv6_FormattedAsGo(string address, string expected)
    {
        var parsed = IpvsAddress.ParseIpPort($"[{address}]:0050");
        Assert.True(parsed.Success, parsed.Error);
        Assert.Equal(expected, parsed.Value!.Address);
        Assert.Equal("80", parsed.Value.Port);
    }
}
