using Monitor.Agent.Collectors.MemInfo;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.MemInfo;

public sealed class MemInfoCollectorTests
{
    [Fact]
    public void Update_KibibytesAndCounts_ConvertsLikeNodeExporter()
    {
        using var tree = new TempTree().Write("proc/meminfo", "MemTotal:        3742148 kB\nHugePages_Free:        4\n");

        var samples = PromSamples.Parse(CollectorHarness.ForTree(MemInfoCollector.Descriptor, tree.Root).Scrape());

        Assert.Equal(3831959552, samples["node_memory_MemTotal_bytes"]);
        Assert.Equal(4, samples["node_memory_HugePages_Free"]);
    }

    [Fact]
    public void Update_FieldAppearsAndDisappears_SeriesFollowTheFile()
    {
        using var tree = new TempTree().Write("proc/meminfo", "MemTotal: 1 kB\n");
        var harness = CollectorHarness.ForTree(MemInfoCollector.Descriptor, tree.Root);
        harness.Scrape();

        tree.Write("proc/meminfo", "MemTotal: 2 kB\nZswap: 3 kB\n");
        var second = PromSamples.Parse(harness.Scrape());
        tree.Write("proc/meminfo", "MemTotal: 2 kB\n");
        var third = PromSamples.Parse(harness.Scrape());

        Assert.Equal(3072, second["node_memory_Zswap_bytes"]);
        Assert.False(third.ContainsKey("node_memory_Zswap_bytes"));
    }

    [Fact]
    public void Update_TruncatedFile_Throws()
    {
        using var tree = new TempTree().Write("proc/meminfo", "MemTotal:        3742148 kB\nMemFree:");
        var harness = CollectorHarness.ForTree(MemInfoCollector.Descriptor, tree.Root);

        var ex = Assert.Throws<MalformedSourceException>(harness.Update);
        Assert.Equal("line 2 (MemFree:): no value", ex.Problem);
    }

    [Fact]
    public void Update_MissingFile_Throws()
    {
        using var tree = new TempTree();

        Assert.ThrowsAny<IOException>(CollectorHarness.ForTree(MemInfoCollector.Descriptor, tree.Root).Update);
    }
}
