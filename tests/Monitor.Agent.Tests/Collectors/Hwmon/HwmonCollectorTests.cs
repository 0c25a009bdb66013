using Monitor.Agent.Collectors.Hwmon;
using Monitor.Agent.Configuration;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Hwmon;

public sealed class HwmonCollectorTests
{
    private readonly string _golden = File.ReadAllText(Fixtures.Path("host", "golden", "hwmon.prom"));

    [Fact]
    public void Scrape_FixtureTree_MatchesNodeExporterExactly()
    {
        var actual = CollectorHarness.ForTree(HwmonCollector.Descriptor, Fixtures.Path("host")).Scrape();

        PromSamples.AssertEquivalent(PromSamples.Parse(_golden), PromSamples.Parse(actual));
    }

    [Fact]
    public void Scrape_FixtureTree_HelpAndTypeMatchNodeExporter()
    {
        var actual = CollectorHarness.ForTree(HwmonCollector.Descriptor, Fixtures.Path("host")).Scrape();

        PromMetadata.AssertSame(_golden, actual);
    }

    [Fact]
    public void Scrape_Twice_SameOutput()
    {
        var harness = CollectorHarness.ForTree(HwmonCollector.Descriptor, Fixtures.Path("host"));

        Assert.Equal(harness.Scrape(), harness.Scrape());
    }

    [Fact]
    public void Update_NoHwmonClass_ExportsNothing()
    {
        var root = Directory.CreateTempSubdirectory("monitor-hwmon-").FullName;
        try
        {
            var harness = new CollectorHarness(HwmonCollector.Descriptor, new HostPaths(root, root, root));

            Assert.Equal(string.Empty, harness.Scrape());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Update_ValueChanges_NewValueExported()
    {
        var root = Directory.CreateTempSubdirectory("monitor-hwmon-").FullName;
        try
        {
            var chip = Path.Join(root, "class", "hwmon", "hwmon0");
            Directory.CreateDirectory(chip);
            File.WriteAllText(Path.Join(chip, "name"), "acpitz\n");
            File.WriteAllText(Path.Join(chip, "temp1_input"), "27800\n");
            var harness = new CollectorHarness(HwmonCollector.Descriptor, new HostPaths(root, root, root));
            harness.Update();

            File.WriteAllText(Path.Join(chip, "temp1_input"), "30100\n");
            var samples = PromSamples.Parse(harness.Scrape());

            Assert.Equal(30.1, samples["node_hwmon_temp_celsius{chip=\"acpitz\",sensor=\"temp1\"}"], 12);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
