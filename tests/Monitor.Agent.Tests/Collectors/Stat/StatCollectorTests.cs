using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Collectors.Stat;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Stat;

public sealed class StatCollectorTests
{
    [Fact]
    public void Update_MissingFile_Throws()
    {
        using var tree = new TempTree();
        var harness = CollectorHarness.ForTree(StatCollector.Descriptor, tree.Root);

        Assert.ThrowsAny<IOException>(harness.Update);
    }

    [Fact]
    public void Update_TruncatedFile_ThrowsAndLeavesNoSeries()
    {
        using var tree = new TempTree().CopyFromHostFixture("proc/stat");
        var harness = CollectorHarness.ForTree(StatCollector.Descriptor, tree.Root);
        Assert.NotEmpty(PromSamples.Parse(harness.Scrape()));

        var full = File.ReadAllText(tree.Path("proc/stat"));
        tree.Write("proc/stat", full[..full.IndexOf("ctxt", StringComparison.Ordinal)]);

        Assert.Throws<MalformedSourceException>(harness.Update);
        Assert.Empty(PromSamples.Parse(harness.Render()));
    }
}
