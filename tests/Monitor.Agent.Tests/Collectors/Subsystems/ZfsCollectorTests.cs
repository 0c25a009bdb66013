using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Collectors.Zfs;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Subsystems;

/// <summary>The zfs collector against node_exporter 1.5.0's golden and against bad kstat and pool files.</summary>
public sealed class ZfsCollectorTests : IDisposable
{
    private const string Kstat = "6 1 0x01 91 4368 5266997922 97951858082072\nname                            type data\n";
    private const string Io = "12 3 0x00 1 80 1 2\nnread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n1 2 3 4 5 6 7 8 9 10 11 12\n";
    private const string Objset = "23 1 0x01 7 2160 1 2\nname type data\ndataset_name 7 tank/home\nwrites 4 5\nnread 4 6\n";
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(ZfsCollector.Descriptor);

    [Fact]
    public void NoZfsOnHost_SucceedsWithNoSeries()
    {
        _tree.Write("proc/stat", "cpu 1 2 3 4\n");
        Assert.Equal("", CollectorHarness.ForTree(ZfsCollector.Descriptor, _tree.Root).Scrape());
    }

    [Fact]
    public void KstatTypes_OnlyUint64Exported_DashesBecomeUnderscores()
    {
        _tree.Write("proc/spl/kstat/zfs/fm", Kstat + "erpt-dropped 4 18\nsigned 3 -5\nlabel 7 text\nshort 4\n");
        var text = CollectorHarness.ForTree(ZfsCollector.Descriptor, _tree.Root).Scrape();
        Assert.Equal("# HELP node_zfs_fm_erpt_dropped kstat.zfs.misc.fm.erpt-dropped\n# TYPE node_zfs_fm_erpt_dropped untyped\nnode_zfs_fm_erpt_dropped 18\n", text);
    }

    [Fact]
    public void MalformedKstat_FailsTheCollector_AfterExportingTheOtherFiles()
    {
        _tree.Write("proc/spl/kstat/zfs/arcstats", Kstat + "hits 4 12x\n").Write("proc/spl/kstat/zfs/zil", Kstat + "zil_commit_count 4 7\n");
        var harness = CollectorHarness.ForTree(ZfsCollector.Descriptor, _tree.Root);

        var ex = Assert.Throws<MalformedSourceException>(harness.Update);

        Assert.Contains("kstat.zfs.misc.arcstats.hits", ex.Problem, StringComparison.Ordinal);
        Assert.Contains("node_zfs_zil_zil_commit_count 7\n", harness.Render(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("6 1 0x01 91 4368 5266997922 97951858082072\nhits 4 1\n")]
    public void KstatWithoutHeader_FailsTheCollector(string content)
    {
        _tree.Write("proc/spl/kstat/zfs/dmu_tx", content);
        var ex = Assert.Throws<MalformedSourceException>(CollectorHarness.ForTree(ZfsCollector.Descriptor, _tree.Root).Update);
        Assert.Equal("did not parse a single \"dmu_tx\" metric", ex.Problem);
    }

    [Theory]
    [InlineData("io", "12 3 0x00 1 80 1 2\nnread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n1 2 3\n")]
    [InlineData("io", "12 3 0x00 1 80 1 2\nnread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n1 2 3 4 5 6 7 8 9 10 11 -12\n")]
    [InlineData("objset-0x36", "23 1 0x01 7 2160 1 2\nname type data\ndataset_name 7 tank/home\nwrites 4 many\n")]
    [InlineData("objset-0x36", "no header at all\n")]
    public void MalformedPoolFile_SkipsThatPool_OthersReported(string file, string content)
    {
        WritePool("good");
        WritePool("bad");
        _tree.Write($"proc/spl/kstat/zfs/bad/{file}", content);

        var text = CollectorHarness.ForTree(ZfsCollector.Descriptor, _tree.Root).Scrape();

        Assert.DoesNotContain("zpool=\"bad\"", text, StringComparison.Ordinal);
        Assert.Contains("node_zfs_zpool_nread{zpool=\"good\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_zfs_zpool_dataset_nread{dataset=\"tank/home\",zpool=\"good\"} 6\n", text, StringComparison.Ordinal);
        Assert.Contains("node_zfs_zpool_state{state=\"online\",zpool=\"good\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void PoolExported_ItsSeriesGo()
    {
        WritePool("good");
        WritePool("gone");
        var harness = CollectorHarness.ForTree(ZfsCollector.Descriptor, _tree.Root);
        Assert.Contains("zpool=\"gone\"", harness.Scrape(), StringComparison.Ordinal);

        Directory.Delete(_tree.Path("proc/spl/kstat/zfs/gone"), recursive: true);

        Assert.DoesNotContain("zpool=\"gone\"", harness.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownState_AllStatesZero()
    {
        _tree.Write("proc/spl/kstat/zfs/p/state", "SUSPENDED\n");
        var text = CollectorHarness.ForTree(ZfsCollector.Descriptor, _tree.Root).Scrape();
        Assert.Equal(6, text.Split('\n').Count(l => l.StartsWith("node_zfs_zpool_state{", StringComparison.Ordinal) && l.EndsWith(" 0", StringComparison.Ordinal)));
    }

    private void WritePool(string pool) =>
        _tree.Write($"proc/spl/kstat/zfs/{pool}/io", Io).Write($"proc/spl/kstat/zfs/{pool}/objset-0x36", Objset).Write($"proc/spl/kstat/zfs/{pool}/state", "ONLINE\n");
}
