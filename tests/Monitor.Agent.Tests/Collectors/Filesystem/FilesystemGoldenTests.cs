using Monitor.Agent.Collectors.Filesystem;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Filesystem;

/// <summary>
/// Compares a scrape of the fixture tree with node_exporter 1.5.0's output on the same tree
/// (tests/fixtures/host/regenerate-golden-b.sh). Sizes come from the disk under the fixture directories and change
/// between runs, so only their label sets are compared; readonly and device_error are compared exactly.
/// </summary>
public sealed class FilesystemGoldenTests
{
    private static readonly string[] SizeFamilies =
        ["node_filesystem_size_bytes", "node_filesystem_free_bytes", "node_filesystem_avail_bytes", "node_filesystem_files", "node_filesystem_files_free"];

    private readonly string _golden = File.ReadAllText(Fixtures.Path("host", "golden", "filesystem.prom"));
    private readonly string _actual = CollectorHarness.ForTree(FilesystemCollector.Descriptor, Fixtures.Path("host")).Scrape();

    [Fact]
    public void Scrape_FixtureTree_SizeFamiliesHaveNodeExporterLabelSets() =>
        Assert.Equal(PromSamples.SeriesKeys(_golden, SizeFamilies), PromSamples.SeriesKeys(_actual, SizeFamilies));

    [Fact]
    public void Scrape_FixtureTree_ReadonlyAndDeviceErrorMatchNodeExporter() =>
        PromSamples.AssertEquivalent(
            PromSamples.Only(PromSamples.Parse(_golden), "node_filesystem_readonly", "node_filesystem_device_error"),
            PromSamples.Only(PromSamples.Parse(_actual), "node_filesystem_readonly", "node_filesystem_device_error"));

    [Fact]
    public void Scrape_FixtureTree_HelpAndTypeMatchNodeExporter() =>
        PromMetadata.AssertSame(_golden, _actual);
}
