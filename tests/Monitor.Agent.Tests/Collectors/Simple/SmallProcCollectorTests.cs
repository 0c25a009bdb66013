using Monitor.Agent.Collectors.Arp;
using Monitor.Agent.Collectors.Entropy;
using Monitor.Agent.Collectors.FileFd;
using Monitor.Agent.Collectors.NetStat;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Collectors.SockStat;
using Monitor.Agent.Collectors.Uname;
using Monitor.Agent.Collectors.VmStat;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Simple;

/// <summary>
/// The entropy, filefd and uname collectors: the first two against node_exporter 1.5.0's goldens over the fixture
/// tree and against bad files; uname against this machine's uname, as Python's os.uname() reads it.
/// </summary>
public sealed class SmallProcCollectorTests : IDisposable
{
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Entropy_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(EntropyCollector.Descriptor);

    [Fact]
    public void FileFd_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(FileFdCollector.Descriptor);

    [Fact]
    public void Arp_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(ArpCollector.Descriptor);

    [Fact]
    public void NetStat_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(NetStatCollector.Descriptor);

    [Fact]
    public void SockStat_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(SockStatCollector.Descriptor);

    [Fact]
    public void VmStat_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(VmStatCollector.Descriptor);

    [Fact]
    public void VmStat_FieldsFlag_SelectsOtherFields()
    {
        _tree.Write("proc/vmstat", "nr_free_pages 12\npgfault 7\nnr_dirty 3\n");
        var text = CollectorHarness.ForTree(VmStatCollector.Descriptor, _tree.Root, new Dictionary<string, string?> { ["fields"] = "^nr_" }).Scrape();
        Assert.Contains("node_vmstat_nr_free_pages 12\n", text, StringComparison.Ordinal);
        Assert.Contains("node_vmstat_nr_dirty 3\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("pgfault", text, StringComparison.Ordinal);
    }

    [Fact]
    public void VmStatAndNetStat_FieldsMoveBetweenReads_EachReadExportsItsOwnValues()
    {
        // A field inserted before others and two swapped: every value must come from its own name, not its old place.
        _tree.Write("proc/vmstat", "nr_free_pages 12\npgfault 7\npgmajfault 1\n")
            .Write("proc/net/snmp", "Tcp: ActiveOpens PassiveOpens\nTcp: 1 2\n").Write("proc/net/netstat", "TcpExt: ListenDrops ListenOverflows\nTcpExt: 3 4\n");
        var vmstat = CollectorHarness.ForTree(VmStatCollector.Descriptor, _tree.Root);
        var netstat = CollectorHarness.ForTree(NetStatCollector.Descriptor, _tree.Root);
        Assert.Contains("node_vmstat_pgfault 7\n", vmstat.Scrape(), StringComparison.Ordinal);
        Assert.Contains("node_netstat_TcpExt_ListenDrops 3\n", netstat.Scrape(), StringComparison.Ordinal);

        _tree.Write("proc/vmstat", "nr_free_pages 12\nnr_new 5\npgmajfault 2\npgfault 8\n")
            .Write("proc/net/snmp", "Tcp: PassiveOpens ActiveOpens\nTcp: 20 10\n").Write("proc/net/netstat", "TcpExt: ListenOverflows ListenDrops\nTcpExt: 40 30\n");
        var text = vmstat.Scrape();
        Assert.Contains("node_vmstat_pgfault 8\n", text, StringComparison.Ordinal);
        Assert.Contains("node_vmstat_pgmajfault 2\n", text, StringComparison.Ordinal);
        text = netstat.Scrape();
        Assert.Contains("node_netstat_Tcp_ActiveOpens 10\n", text, StringComparison.Ordinal);
        Assert.Contains("node_netstat_Tcp_PassiveOpens 20\n", text, StringComparison.Ordinal);
        Assert.Contains("node_netstat_TcpExt_ListenDrops 30\n", text, StringComparison.Ordinal);
        Assert.Contains("node_netstat_TcpExt_ListenOverflows 40\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Arp_DeviceGone_ItsSeriesGoes()
    {
        _tree.Write("proc/net/arp", "IP address HW type Flags HW address Mask Device\n10.0.0.1 0x1 0x2 aa:bb * eth0\n10.0.0.2 0x1 0x2 aa:bc * veth9\n");
        var harness = CollectorHarness.ForTree(ArpCollector.Descriptor, _tree.Root);
        Assert.Contains("node_arp_entries{device=\"veth9\"} 1", harness.Scrape(), StringComparison.Ordinal);
        _tree.Write("proc/net/arp", "IP address HW type Flags HW address Mask Device\n10.0.0.1 0x1 0x2 aa:bb * eth0\n");
        var text = harness.Scrape();
        Assert.Contains("node_arp_entries{device=\"eth0\"} 1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("veth9", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("net/netstat", "TcpExt: SyncookiesSent\nTcpExt: lots\n")]
    [InlineData("net/netstat", "TcpExt: SyncookiesSent ListenDrops\n")]
    [InlineData("net/sockstat", "TCP: inuse\n")]
    [InlineData("vmstat", "pgfault many\n")]
    [InlineData("vmstat", "nr_free_pages 12x\n")] // a field that is not exported must still be a number
    [InlineData("net/netstat", "TcpExt: ListenDrops SyncookiesSent\nTcpExt: 0 1.2.3\n")]
    [InlineData("net/arp", "IP address HW type Flags HW address Mask Device\n10.0.0.1 0x1\n")]
    public void MalformedFile_FailsTheCollectorNamingTheFile(string file, string content)
    {
        // netstat needs both of its files; the other is valid.
        _tree.Write("proc/net/snmp", "Tcp: ActiveOpens\nTcp: 1\n").Write("proc/net/netstat", "TcpExt: ListenDrops\nTcpExt: 0\n").Write("proc/" + file, content);
        var descriptor = file switch
        {
            "net/netstat" => NetStatCollector.Descriptor,
            "net/sockstat" => SockStatCollector.Descriptor,
            "vmstat" => VmStatCollector.Descriptor,
            _ => ArpCollector.Descriptor,
        };
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(descriptor, _tree.Root).Update());
        Assert.Contains(file, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Entropy_NoPoolSize_OnlyTheAvailableBits()
    {
        _tree.Write("proc/sys/kernel/random/entropy_avail", "256\n");
        var text = CollectorHarness.ForTree(EntropyCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_entropy_available_bits 256\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node_entropy_pool_size_bits ", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("lots\n")]
    [InlineData("-5\n")]
    public void Entropy_BadAvailable_FailsTheCollectorNamingTheFile(string content)
    {
        _tree.Write("proc/sys/kernel/random/entropy_avail", content);
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(EntropyCollector.Descriptor, _tree.Root).Update());
        Assert.Contains("entropy_avail", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1024\t0\t1631329\n", 1024.0, 1631329.0)]
    [InlineData("7 0 99", 7.0, 99.0)]
    [InlineData("1\t0\t2\t3\n", 1.0, 2.0)]   // a later field is ignored, as node_exporter ignores it
    public void FileFd_Parse_AllocatedAndMaximum(string text, double allocated, double maximum) =>
        Assert.Equal((allocated, maximum), FileFdCollector.Parse(text).ValueOrThrow("file-nr"));

    [Theory]
    [InlineData("")]
    [InlineData("1024\t0\n")]
    [InlineData("1024\tzero\t5\n")]
    public void FileFd_Parse_BadFileFails(string text) => Assert.False(FileFdCollector.Parse(text).Success);

    [Fact]
    public async Task Uname_IsThisMachinesAsPythonReadsIt()
    {
        // Ground truth from another implementation of the same call.
        var (code, stdout, stderr) = await ExternalTool.RunAsync(
            "python3", ["-c", "import os; u = os.uname(); print('\\n'.join([u.sysname, u.nodename, u.release, u.version, u.machine]))"]);
        Assert.True(code == 0, stderr);
        var python = stdout.TrimEnd('\n').Split('\n');
        var mine = UnameCollector.Read();
        Assert.Equal(python, (string[])[mine.Sysname, mine.Nodename, mine.Release, mine.Version, mine.Machine]);

        var text = CollectorHarness.ForTree(UnameCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains($"node_uname_info{{domainname=\"{mine.Domainname}\",machine=\"{python[4]}\",nodename=\"{python[1]}\",release=\"{python[2]}\",sysname=\"{python[0]}\",", text, StringComparison.Ordinal);
    }
}
