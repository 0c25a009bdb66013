using Monitor.Agent.Collectors.ThermalZone;
using Monitor.Agent.Configuration;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.ThermalZone;

public sealed class ThermalZoneTests
{
    private readonly string _golden = File.ReadAllText(Fixtures.Path("host", "golden", "thermal_zone.prom"));

    [Theory]
    [InlineData("27800\n", 27800)]
    [InlineData("-5500", -5500)]
    [InlineData("-1\n", -1)]
    [InlineData("9223372036854775807", long.MaxValue)]
    public void ParseInteger_Valid_Parses(string text, long expected)
    {
        var result = ThermalZoneParser.ParseInteger(text);

        Assert.True(result.Success, result.Error);
        Assert.Equal(expected, result.Value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("27.8")]
    [InlineData("abc")]
    [InlineData("99999999999999999999")]
    public void ParseInteger_Malformed_FailsWithoutThrowing(string text) =>
        Assert.False(ThermalZoneParser.ParseInteger(text).Success);

    [Fact]
    public void ToCelsius_Millidegrees_DividesBy1000() => Assert.Equal(-5.5, ThermalZoneParser.ToCelsius(-5500));

    [Fact]
    public void Scrape_FixtureTree_MatchesNodeExporterExactly()
    {
        var actual = CollectorHarness.ForTree(ThermalZoneCollector.Descriptor, Fixtures.Path("host")).Scrape();

        PromSamples.AssertEquivalent(PromSamples.Parse(_golden), PromSamples.Parse(actual));
        PromMetadata.AssertSame(_golden, actual);
    }

    [Fact]
    public void Update_OneZoneMalformed_OtherZonesStillExported()
    {
        var root = Directory.CreateTempSubdirectory("monitor-thermal-").FullName;
        try
        {
            WriteZone(root, "thermal_zone0", "acpitz", "27800");
            WriteZone(root, "thermal_zone1", "broken", "N/A");
            Directory.CreateDirectory(Path.Join(root, "class", "thermal", "thermal_zone2"));
            var harness = new CollectorHarness(ThermalZoneCollector.Descriptor, new HostPaths(root, root, root));

            var samples = PromSamples.Parse(harness.Scrape());

            Assert.Equal(["node_thermal_zone_temp{type=\"acpitz\",zone=\"0\"}"], samples.Keys);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Update_NoThermalClass_ExportsNothing()
    {
        var root = Directory.CreateTempSubdirectory("monitor-thermal-").FullName;
        try
        {
            Assert.Equal(string.Empty, new CollectorHarness(ThermalZoneCollector.Descriptor, new HostPaths(root, root, root)).Scrape());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void WriteZone(string root, string name, string type, string temp)
    {
        var zone = Path.Join(root, "class", "thermal", name);
        Directory.CreateDirectory(zone);
        File.WriteAllText(Path.Join(zone, "type"), type + "\n");
        File.WriteAllText(Path.Join(zone, "policy"), "step_wise\n");
        File.WriteAllText(Path.Join(zone, "temp"), temp + "\n");
    }
}
