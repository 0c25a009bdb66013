using Monitor.Agent.Collectors.Btrfs;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Collectors.TapeStats;
using Monitor.Agent.Collectors.Xfs;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.StorageNet;

/// <summary>
/// The tapestats, xfs and btrfs collectors: each against node_exporter 1.5.0's golden over the fixture tree, and
/// against bad, truncated and missing sources.
/// </summary>
public sealed class StorageNetCollectorTests : IDisposable
{
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    // ---- tapestats ----

    [Fact]
    public void TapeStats_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(TapeStatsCollector.Descriptor);

    [Fact]
    public void TapeStats_NoClassDir_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("node_tape_", CollectorHarness.ForTree(TapeStatsCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);

    [Theory]
    [InlineData("read_cnt", "-1\n")]
    [InlineData("read_cnt", "\n")]
    public void TapeStats_BadCounter_DriveSkippedOthersKept(string file, string content)
    {
        _tree.CopyFromHostFixtureDir("sys/class/scsi_tape").Write("sys/class/scsi_tape/st1/stats/" + file, content);
        var text = CollectorHarness.ForTree(TapeStatsCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_tape_reads_completed_total{device=\"st0\"} 3741\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("st1", text, StringComparison.Ordinal);
    }

    [Fact]
    public void TapeStats_IgnoredDevices_Skipped()
    {
        var text = HostHarness(TapeStatsCollector.Descriptor, new Dictionary<string, string?> { ["ignored-devices"] = "^st0$" }).Scrape();
        Assert.Contains("device=\"st1\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("device=\"st0\"", text, StringComparison.Ordinal);
    }

    // ---- xfs ----

    [Fact]
    public void Xfs_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(XfsCollector.Descriptor);

    [Fact]
    public void Xfs_NoXfs_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("node_xfs_", CollectorHarness.ForTree(XfsCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);

    [Theory]
    [InlineData("rw 1 4294967296\n")]          // beyond 32 bits
    [InlineData("rw 1 x\n")]                   // not a number
    [InlineData("rw 1\n")]                     // truncated: one value where procfs wants two
    [InlineData("vnodes 1 2 3 4 5 6 7 8 9\n")] // too many values
    [InlineData("xpc 1 2\n")]
    public void Xfs_MalformedStats_FilesystemSkippedOthersKept(string content)
    {
        _tree.CopyFromHostFixtureDir("sys/fs/xfs/sda1").Write("sys/fs/xfs/dm-1/stats/stats", "extent_alloc 1 2 3 4\n" + content);
        var text = CollectorHarness.ForTree(XfsCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_xfs_read_calls_total{device=\"sda1\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("node_xfs_write_calls_total{device=\"sda1\"} 28\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("dm-1", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Xfs_ShortLineAndUnknownLine_AsProcfs()
    {
        _tree.Write("sys/fs/xfs/sdb/stats/stats", "rw\nrmapbt 1 2 3\nrw 5 6\n");
        var text = CollectorHarness.ForTree(XfsCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_xfs_write_calls_total{device=\"sdb\"} 5\n", text, StringComparison.Ordinal);
        Assert.Contains("node_xfs_read_calls_total{device=\"sdb\"} 6\n", text, StringComparison.Ordinal);
        Assert.Contains("node_xfs_vnode_active_total{device=\"sdb\"} 0\n", text, StringComparison.Ordinal);
    }

    // ---- btrfs ----

    [Fact]
    public void Btrfs_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(BtrfsCollector.Descriptor);

    [Fact]
    public void Btrfs_NoBtrfs_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("node_btrfs_", CollectorHarness.ForTree(BtrfsCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);

    [Fact]
    public void Btrfs_BadAndMissingValues_ZeroAsProcfs()
    {
        const string Fs = "sys/fs/btrfs/0abb23a9-579b-43e6-ad30-227ef47fcb9d";
        _tree.CopyFromHostFixtureDir(Fs).Write(Fs + "/allocation/global_rsv_size", "lots\n").Write(Fs + "/metadata_uuid", "\n");
        _tree.Delete(Fs + "/allocation/data/raid0/used_bytes");
        var text = CollectorHarness.ForTree(BtrfsCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_btrfs_global_rsv_size_bytes{uuid=\"0abb23a9-579b-43e6-ad30-227ef47fcb9d\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("node_btrfs_used_bytes{block_group_type=\"data\",mode=\"raid0\",uuid=\"0abb23a9-579b-43e6-ad30-227ef47fcb9d\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("node_btrfs_info{label=\"fixture\",uuid=\"0abb23a9-579b-43e6-ad30-227ef47fcb9d\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Btrfs_UnreadableFile_FilesystemSkippedOthersKept()
    {
        const string Fs = "sys/fs/btrfs/0abb23a9-579b-43e6-ad30-227ef47fcb9d";
        _tree.CopyFromHostFixtureDir("sys/fs/btrfs").Delete(Fs + "/label").Write(Fs + "/label/x", "");
        var text = CollectorHarness.ForTree(BtrfsCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("uuid=\"7f07c59f-6136-449c-ab87-e1cf2328731b\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("0abb23a9", text, StringComparison.Ordinal);
    }

    private static CollectorHarness HostHarness(Monitor.Agent.Collectors.CollectorDescriptor descriptor, IDictionary<string, string?>? settings = null) =>
        CollectorHarness.ForTree(descriptor, Fixtures.Path("host"), settings);
}

/// <summary>Copies a directory of the host fixture tree into a <see cref="TempTree"/>.</summary>
internal static class TempTreeExtensions
{
    public static TempTree CopyFromHostFixtureDir(this TempTree tree, string relative)
    {
        var source = Fixtures.Path("host", relative);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            tree.Write(Path.Join(relative, Path.GetRelativePath(source, file)), File.ReadAllText(file));
        }

        return tree;
    }
}
