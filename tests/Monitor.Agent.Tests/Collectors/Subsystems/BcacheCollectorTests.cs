using Monitor.Agent.Collectors.Bcache;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Subsystems;

/// <summary>The bcache collector against node_exporter 1.5.0's golden, procfs' number decoding, and bad cache sets.</summary>
public sealed class BcacheCollectorTests : IDisposable
{
    private const string Set = "sys/fs/bcache/aaaaaaaa-0000-0000-0000-000000000001";
    private const string Other = "sys/fs/bcache/bbbbbbbb-0000-0000-0000-000000000002";
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(BcacheCollector.Descriptor);

    [Fact]
    public void NoBcacheOnHost_SucceedsWithNoSeries()
    {
        _tree.Write("sys/class/net/lo/mtu", "65536\n");
        Assert.Equal("", CollectorHarness.ForTree(BcacheCollector.Descriptor, _tree.Root).Scrape());
    }

    [Theory]
    [InlineData("0", 0UL)]
    [InlineData("512", 512UL)]
    [InlineData("1.1M", 1150976UL)]
    [InlineData("20.4G", 21894266880UL)]
    [InlineData("12.25k", 14788UL)]
    [InlineData("0.5", 0UL)]
    [InlineData("3x", 0UL)]
    [InlineData("1e3", 1000UL)]
    public void Dehumanize_AsProcfs(string text, ulong expected)
    {
        var result = BcacheValue.Dehumanize(text);
        Assert.True(result.Success, result.Error);
        Assert.Equal(expected, result.Value);
    }

    [Theory]
    [InlineData("-2.5M", -2609152L)]
    [InlineData("-512", -512L)]
    [InlineData("427.5k", 437748L)]
    public void DehumanizeSigned_AsProcfs(string text, long expected) => Assert.Equal(expected, BcacheValue.DehumanizeSigned(text).Value);

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("1.xk")]
    [InlineData("k")]
    public void Dehumanize_Garbage_Fails(string text) => Assert.False(BcacheValue.Dehumanize(text).Success);

    [Fact]
    public void MissingAttributes_ReadAsZero()
    {
        WriteSet(Set);
        _tree.Delete($"{Set}/tree_depth");
        var samples = PromSamples.Parse(CollectorHarness.ForTree(BcacheCollector.Descriptor, _tree.Root).Scrape());
        Assert.Equal(0, samples["node_bcache_tree_depth{uuid=\"aaaaaaaa-0000-0000-0000-000000000001\"}"]);
        Assert.Equal(3, samples["node_bcache_congested{uuid=\"aaaaaaaa-0000-0000-0000-000000000001\"}"]);
    }

    [Theory]
    [InlineData("congested", "bogus\n")]
    [InlineData("congested", "")]
    [InlineData("bdev0/writeback_rate_debug", "rate: 1.0k/sec\nnext io: soon\n")]
    [InlineData("bdev0/writeback_rate_debug", "target: lots\n")]
    [InlineData("cache0/written", "12.Qk\n")]
    public void MalformedSet_IsSkipped_OthersReported(string file, string content)
    {
        WriteSet(Set);
        WriteSet(Other);
        _tree.Write($"{Set}/{file}", content);
        var harness = CollectorHarness.ForTree(BcacheCollector.Descriptor, _tree.Root);

        var text = harness.Scrape();

        Assert.DoesNotContain("aaaaaaaa", text, StringComparison.Ordinal);
        Assert.Contains("node_bcache_congested{uuid=\"bbbbbbbb-0000-0000-0000-000000000002\"} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("node_bcache_writeback_rate{backing_device=\"bdev0\",uuid=\"bbbbbbbb-0000-0000-0000-000000000002\"} 1024\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingWritebackRateDebug_SkipsTheSet()
    {
        WriteSet(Set);
        _tree.Delete($"{Set}/bdev0/writeback_rate_debug");
        Assert.DoesNotContain("aaaaaaaa", CollectorHarness.ForTree(BcacheCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public void PriorityStatsFlag_AddsPriorityFamilies()
    {
        WriteSet(Set);
        _tree.Write($"{Set}/cache0/priority_stats", "Unused:\t\t99%\nMetadata:\t1%\nAverage:\t10473\n");
        var settings = new Dictionary<string, string?> { ["priorityStats"] = "true" };

        var samples = PromSamples.Parse(CollectorHarness.ForTree(BcacheCollector.Descriptor, _tree.Root, settings).Scrape());

        Assert.Equal(99, samples["node_bcache_priority_stats_unused_percent{cache_device=\"cache0\",uuid=\"aaaaaaaa-0000-0000-0000-000000000001\"}"]);
        Assert.Equal(1, samples["node_bcache_priority_stats_metadata_percent{cache_device=\"cache0\",uuid=\"aaaaaaaa-0000-0000-0000-000000000001\"}"]);
    }

    [Fact]
    public void BackingDeviceRemoved_ItsSeriesGo()
    {
        WriteSet(Set);
        _tree.Write($"{Set}/bdev1/dirty_data", "1\n").Write($"{Set}/bdev1/writeback_rate_debug", "rate: 1\n");
        var harness = CollectorHarness.ForTree(BcacheCollector.Descriptor, _tree.Root);
        Assert.Contains("bdev1", harness.Scrape(), StringComparison.Ordinal);

        Directory.Delete(_tree.Path($"{Set}/bdev1"), recursive: true);

        Assert.DoesNotContain("bdev1", harness.Scrape(), StringComparison.Ordinal);
    }

    private void WriteSet(string set) =>
        _tree.Write($"{set}/congested", "3\n")
            .Write($"{set}/tree_depth", "2\n")
            .Write($"{set}/bdev0/dirty_data", "1.0k\n")
            .Write($"{set}/bdev0/writeback_rate_debug", "rate:\t\t1.0k/sec\ndirty:\t\t0\ntarget:\t\t0\nproportional:\t0\nintegral:\t0\nchange:\t\t0/sec\nnext io:\t1ms\n")
            .Write($"{set}/cache0/written", "5\n");
}
