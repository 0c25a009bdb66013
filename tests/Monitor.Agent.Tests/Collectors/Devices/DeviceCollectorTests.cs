using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.Bonding;
using Monitor.Agent.Collectors.FibreChannel;
using Monitor.Agent.Collectors.Mdadm;
using Monitor.Agent.Collectors.Nvme;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Configuration;
using Monitor.Agent.Logging;
using Monitor.Agent.Tests.Support;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Devices;

/// <summary>
/// The optional-hardware collectors (mdadm, bonding, nvme, fibrechannel, tapestats, xfs): node_exporter 1.5.0's
/// goldens over the fixture tree, a host without the source (no series, success, one debug line), and bad input.
/// </summary>
public sealed class DeviceCollectorTests : IDisposable
{
    private const string Raid1 = "Personalities : [raid1]\nmd0 : active raid1 sdb1[1] sda1[0]\n      1000 blocks [2/2] [UU]\n\nunused devices: <none>\n";

    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    private static (CollectorHarness Harness, CollectingLoggerFactory Logs) WithLogs(CollectorDescriptor descriptor, string root)
    {
        var logs = new CollectingLoggerFactory();
        var harness = new CollectorHarness(
            descriptor, new HostPaths(Path.Join(root, "proc"), Path.Join(root, "sys"), root), logger: logs.CreateLogger(descriptor.Name));
        return (harness, logs);
    }

    private static void AssertNoSeriesAndOneDebugLine(CollectorDescriptor descriptor, string root)
    {
        var (harness, logs) = WithLogs(descriptor, root);
        for (var i = 0; i < 3; i++)
        {
            Assert.DoesNotContain("\nnode_", "\n" + harness.Scrape(), StringComparison.Ordinal);
        }

        Assert.Single(logs.Entries, e => e.Id.Id == EventIds.DeviceSourceUnavailable);
    }

    // ---- mdadm ----

    [Fact]
    public void Mdadm_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(MdadmCollector.Descriptor);

    [Fact]
    public void Mdadm_NoMdstat_NoSeriesNoFailure() => AssertNoSeriesAndOneDebugLine(MdadmCollector.Descriptor, _tree.Root);

    [Fact]
    public void Mdadm_ArrayGone_ItsSeriesGo()
    {
        _tree.Write("proc/mdstat", Raid1.Replace("unused", "md1 : active raid1 sdd1[1] sdc1[0]\n      7 blocks [2/2] [UU]\n\nunused", StringComparison.Ordinal));
        var harness = CollectorHarness.ForTree(MdadmCollector.Descriptor, _tree.Root);
        Assert.Contains("node_md_blocks{device=\"md1\"} 7\n", harness.Scrape(), StringComparison.Ordinal);
        _tree.Write("proc/mdstat", Raid1);
        var text = harness.Scrape();
        Assert.Contains("node_md_blocks{device=\"md0\"} 1000\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("md1", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Mdadm_Resync_StateAndSyncedBlocks()
    {
        _tree.Write("proc/mdstat", Raid1.Replace("\n\nunused", "\n      [=>....]  resync =  8.5% (85/1000) finish=17.0min speed=259783K/sec\n\nunused", StringComparison.Ordinal));
        var text = CollectorHarness.ForTree(MdadmCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_md_state{device=\"md0\",state=\"resync\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_md_state{device=\"md0\",state=\"active\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("node_md_blocks_synced{device=\"md0\"} 85\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("md0 : active raid1 sdb1[1] sda1[0]\n      lots blocks [2/2] [UU]\n\n\n")]          // bad number
    [InlineData("md0 : active raid1 sdb1[1] sda1[0]\n      1000 blocks\n")]                         // truncated
    [InlineData("md0 :\n      1000 blocks [2/2] [UU]\n\n\n")]                                       // too few fields
    [InlineData("md0 : active raid1 sda1[0]\n      1000 blocks [99999999999999999999/2] [UU]\n\n\n")] // overflow
    [InlineData("md0 : active raid1 sda1[0]\n      1000 blocks [2/2] [UU]\n      resync = 8.5% (x/1000) finish=1min speed=1K/sec\n\n")]
    [InlineData("md0 : active raid1 sda1[0]\n      1000 blocks [2/2] [UU]\n      resync = 8.5% (85/1000) finish=soonmin speed=1K/sec\n\n")]
    public void Mdadm_MalformedFile_FailsTheCollectorNamingTheFile(string content)
    {
        _tree.Write("proc/mdstat", content);
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(MdadmCollector.Descriptor, _tree.Root).Update());
        Assert.Contains("mdstat", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mdadm_MalformedThenFixed_ReadsAgain()
    {
        _tree.Write("proc/mdstat", "md0 : active raid1 sda1[0]\n      x blocks [2/2] [UU]\n\n\n");
        var harness = CollectorHarness.ForTree(MdadmCollector.Descriptor, _tree.Root);
        Assert.Throws<MalformedSourceException>(harness.Update);
        Assert.Throws<MalformedSourceException>(harness.Update);
        _tree.Write("proc/mdstat", Raid1);
        Assert.Contains("node_md_disks{device=\"md0\",state=\"active\"} 2\n", harness.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public void Mdadm_EmptyFile_NoSeries()
    {
        _tree.Write("proc/mdstat", "Personalities : \nunused devices: <none>\n");
        Assert.DoesNotContain("\nnode_md_", "\n" + CollectorHarness.ForTree(MdadmCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);
    }

    // ---- bonding ----

    [Fact]
    public void Bonding_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(BondingCollector.Descriptor);

    [Fact]
    public void Bonding_NoBondingMasters_NoSeriesNoFailure() => AssertNoSeriesAndOneDebugLine(BondingCollector.Descriptor, _tree.Root);

    [Fact]
    public void Bonding_MasterWithMissingFiles_SkippedAloneLoggedOnce()
    {
        _tree.Write("sys/class/net/bonding_masters", "bond0 bond1 bond2\n")
            .Write("sys/class/net/bond0/bonding/slaves", "eth0 eth1\n")
            .Write("sys/class/net/bond0/lower_eth0/bonding_slave/mii_status", "up\n")
            .Write("sys/class/net/bond0/lower_eth1/bonding_slave/mii_status", "up\n")
            .Write("sys/class/net/bond1/bonding/slaves", "eth2\n"); // eth2's mii_status is missing; bond2 has no directory
        var (harness, logs) = WithLogs(BondingCollector.Descriptor, _tree.Root);
        harness.Scrape();
        var text = harness.Scrape();
        Assert.Contains("node_bonding_slaves{master=\"bond0\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("node_bonding_active{master=\"bond0\"} 2\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("bond1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("bond2", text, StringComparison.Ordinal);
        Assert.Equal(2, logs.Entries.Count(e => e.Id.Id == EventIds.DeviceSkipped));
        Assert.Equal(2, logs.Entries.Count(e => e.Id.Id == EventIds.DeviceSkippedAgain));
    }

    [Fact]
    public void Bonding_SlavesChange_CountsFollow()
    {
        _tree.Write("sys/class/net/bonding_masters", "bond0\n")
            .Write("sys/class/net/bond0/bonding/slaves", "eth0\n")
            .Write("sys/class/net/bond0/slave_eth0/bonding_slave/mii_status", "up\n")
            .Write("sys/class/net/bond0/lower_eth1/bonding_slave/mii_status", "going down\n");
        var harness = CollectorHarness.ForTree(BondingCollector.Descriptor, _tree.Root);
        Assert.Contains("node_bonding_active{master=\"bond0\"} 1\n", harness.Scrape(), StringComparison.Ordinal);
        _tree.Write("sys/class/net/bond0/bonding/slaves", "eth0 eth1\n");
        var text = harness.Scrape();
        Assert.Contains("node_bonding_slaves{master=\"bond0\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("node_bonding_active{master=\"bond0\"} 1\n", text, StringComparison.Ordinal);
        _tree.Write("sys/class/net/bonding_masters", "\n");
        Assert.DoesNotContain("\nnode_bonding", "\n" + harness.Scrape(), StringComparison.Ordinal);
    }

    // ---- nvme ----

    [Fact]
    public void Nvme_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(NvmeCollector.Descriptor);

    [Fact]
    public void Nvme_NoNvmeClass_NoSeriesNoFailure() => AssertNoSeriesAndOneDebugLine(NvmeCollector.Descriptor, _tree.Root);

    [Fact]
    public void Nvme_ControllerMissingAnAttribute_SkippedAloneLoggedOnce()
    {
        WriteNvme("nvme0", "live");
        _tree.Write("sys/class/nvme/nvme1/model", "X\n").Write("sys/class/nvme/nvme1/serial", "Y\n").Write("sys/class/nvme/nvme1/state", "live\n");
        var (harness, logs) = WithLogs(NvmeCollector.Descriptor, _tree.Root);
        harness.Scrape();
        var text = harness.Scrape();
        Assert.Contains("node_nvme_info{device=\"nvme0\",firmware_revision=\"FW1\",model=\"M\",serial=\"S\",state=\"live\"} 1\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("nvme1", text, StringComparison.Ordinal);
        Assert.Single(logs.Entries, e => e.Id.Id == EventIds.DeviceSkipped);
        Assert.Single(logs.Entries, e => e.Id.Id == EventIds.DeviceSkippedAgain);
    }

    [Fact]
    public void Nvme_StateChanges_OldSeriesGoes()
    {
        WriteNvme("nvme0", "live");
        var harness = CollectorHarness.ForTree(NvmeCollector.Descriptor, _tree.Root);
        Assert.Contains("state=\"live\"} 1\n", harness.Scrape(), StringComparison.Ordinal);
        WriteNvme("nvme0", "dead");
        var text = harness.Scrape();
        Assert.Contains("state=\"dead\"} 1\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("live", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Nvme_LongAttribute_CutAt128BytesAsProcfs()
    {
        WriteNvme("nvme0", "live");
        _tree.Write("sys/class/nvme/nvme0/model", new string('m', 200) + "\n");
        var text = CollectorHarness.ForTree(NvmeCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains($"model=\"{new string('m', 128)}\"", text, StringComparison.Ordinal);
    }

    private void WriteNvme(string device, string state) =>
        _tree.Write($"sys/class/nvme/{device}/firmware_rev", "FW1\n").Write($"sys/class/nvme/{device}/model", "M   \n")
            .Write($"sys/class/nvme/{device}/serial", " S\n").Write($"sys/class/nvme/{device}/state", state + "\n");

    // ---- fibrechannel ----

    [Fact]
    public void FibreChannel_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(FibreChannelCollector.Descriptor);

    [Fact]
    public void FibreChannel_NoFcHost_NoSeriesNoFailure() => AssertNoSeriesAndOneDebugLine(FibreChannelCollector.Descriptor, _tree.Root);

    [Theory]
    [InlineData("statistics/rx_frames", "lots\n")]   // bad number (1.5.0 panics on a nil pointer)
    [InlineData("statistics/rx_frames", "-1\n")]
    [InlineData("statistics/rx_frames", "0x1ffffffffffffffff\n")]
    [InlineData("node_name", null)]                 // missing info attribute (1.5.0 fails the collector)
    public void FibreChannel_BadHost_SkippedAloneLoggedOnce(string file, string? content)
    {
        WriteFcHost("host0");
        WriteFcHost("host1");
        if (content is null)
        {
            _tree.Delete("sys/class/fc_host/host1/" + file);
        }
        else
        {
            _tree.Write("sys/class/fc_host/host1/" + file, content);
        }

        var (harness, logs) = WithLogs(FibreChannelCollector.Descriptor, _tree.Root);
        harness.Scrape();
        var text = harness.Scrape();
        Assert.Contains("node_fibrechannel_rx_frames_total{fc_host=\"host0\"} 10\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("host1", text, StringComparison.Ordinal);
        Assert.Single(logs.Entries, e => e.Id.Id == EventIds.DeviceSkipped);
        Assert.Single(logs.Entries, e => e.Id.Id == EventIds.DeviceSkippedAgain);
    }

    [Theory]
    [InlineData("0x1f", 31UL)]
    [InlineData("017", 15UL)]
    [InlineData("0b101", 5UL)]
    [InlineData("0o17", 15UL)]
    [InlineData("1_000", 1000UL)]
    [InlineData("0x_ff", 255UL)]
    [InlineData("0", 0UL)]
    [InlineData("18446744073709551615", ulong.MaxValue)]
    public void GoUInt64_ParsesAsStrconvBaseZero(string text, ulong expected)
    {
        Assert.True(SysAttribute.TryParseGoUInt64(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("_1")]
    [InlineData("1__0")]
    [InlineData("1_")]
    [InlineData("08")]
    [InlineData("0x")]
    [InlineData("18446744073709551616")]
    [InlineData(" 1")]
    public void GoUInt64_RejectsWhatStrconvRejects(string text) => Assert.False(SysAttribute.TryParseGoUInt64(text, out _));

    [Fact]
    public void FibreChannel_LabelChange_ReplacesTheInfoSeries()
    {
        WriteFcHost("host0");
        var harness = CollectorHarness.ForTree(FibreChannelCollector.Descriptor, _tree.Root);
        Assert.Contains("port_state=\"Online\"", harness.Scrape(), StringComparison.Ordinal);
        _tree.Write("sys/class/fc_host/host0/port_state", "Linkdown\n");
        var text = harness.Scrape();
        Assert.Contains("port_state=\"Linkdown\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Online", text, StringComparison.Ordinal);
    }

    private void WriteFcHost(string host)
    {
        foreach (var (file, value) in new[]
        {
            ("speed", "16 Gbit"), ("port_state", "Online"), ("port_type", "NPort"), ("node_name", "0x20"), ("port_id", "0x0102"),
            ("port_name", "0x10"), ("fabric_name", "0x0"), ("symbolic_name", "HBA"), ("supported_classes", "Class 3"),
            ("supported_speeds", "16 Gbit"), ("dev_loss_tmo", "30"), ("statistics/rx_frames", "0xa"),
        })
        {
            _tree.Write($"sys/class/fc_host/{host}/{file}", value + "\n");
        }
    }
}
