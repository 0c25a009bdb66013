using System.Globalization;
using System.Text.RegularExpressions;
using CsCheck;
using Monitor.Agent.Collectors.Hwmon;
using Monitor.Testing;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// <see cref="HwmonParser"/>: any file name, attribute value and chip name returns without throwing; generated names
/// split into their parts, generated values parse back, and <see cref="HwmonParser.CleanName"/> agrees with
/// node_exporter's regular expression.
/// </summary>
public sealed class HwmonParserFuzzTests
{
    private static readonly string[] NameSeeds =
        [.. Directory.EnumerateFiles(Fixtures.Path("host", "sys", "devices"), "*", SearchOption.AllDirectories).Where(p => p.Contains("hwmon", StringComparison.Ordinal)).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    private static readonly string[] ValueSeeds = HostFixture.Texts("sys/devices/platform/nct6775.656/hwmon/hwmon2", "*_input");

    [Fact]
    public void ParseSensorFileName_AnyName_ReturnsResultWithinBounds() =>
        // File names are at most 255 bytes (NAME_MAX); longer ones are tried too, to catch backtracking.
        FuzzCheck.Run("HwmonParser.ParseSensorFileName", FuzzGen.Text(NameSeeds, 300).Select(n => n.Length > 4_096 ? n[..4_096] : n), name => name.Length, name =>
        {
            var result = HwmonParser.ParseSensorFileName(name);
            if (result.Success && (result.Value.Type.Length == 0 || result.Value.Number < 0))
            {
                throw new InvalidOperationException($"accepted {result.Value}");
            }

            return result.Success;
        }, ciIterations: 2_000, new FuzzLimits(BytesPerUnit: 256));

    [Fact]
    public void ParseSensorFileName_GeneratedName_ReturnsItsParts() =>
        FuzzCheck.Run(
            "HwmonParser.ParseSensorFileName (generated)",
            Gen.Select(Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz_"], 1, 16], Gen.Int[0, int.MaxValue], Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789_"], 0, 12]),
            _ => 1,
            t =>
            {
                var (type, number, property) = t;
                var name = type + number.ToString(CultureInfo.InvariantCulture) + (property.Length > 0 ? "_" + property : "");

                var result = HwmonParser.ParseSensorFileName(name);

                Assert.True(result.Success, result.Error);
                Assert.Equal(new SensorFileName(type, number, property), result.Value);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);

    [Fact]
    public void ParseValue_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("HwmonParser.ParseValue", FuzzGen.Text(ValueSeeds, 64), text => text.Length, text =>
        {
            var result = HwmonParser.ParseValue(text);
            if (result.Success && !double.IsFinite(result.Value))
            {
                throw new InvalidOperationException($"accepted {result.Value}");
            }

            return result.Success;
        }, ciIterations: 2_000);

    [Fact]
    public void ParseValue_GeneratedNumber_ReturnsIt() =>
        FuzzCheck.Run(
            "HwmonParser.ParseValue (generated)",
            Gen.Frequency((1, Gen.Double.Where(double.IsFinite)), (2, Gen.Long.Select(l => (double)l))),
            _ => 1,
            value =>
            {
                var result = HwmonParser.ParseValue(value.ToString("R", CultureInfo.InvariantCulture) + "\n");

                Assert.True(result.Success, result.Error);
                Assert.Equal(value, result.Value);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);

    [Fact]
    public void CleanName_AnyText_MatchesNodeExporterRule() =>
        FuzzCheck.Run(
            "HwmonParser.CleanName",
            // Chip and label names are sysfs attributes of at most a page; the model regex is the slow part beyond that.
            Gen.Frequency((3, FuzzGen.Text(["coretemp.0", "nct6775-isa-0290", "acpitz", "Core 0", "k10temp"], 400)), (1, FuzzGen.Utf16(600))).Select(n => n.Length > 4_096 ? n[..4_096] : n),
            name => name.Length,
            name =>
            {
                var cleaned = HwmonParser.CleanName(name);

                // node_exporter: strings.ToLower, then [^a-z0-9:_] → _, then trim _.
                var expected = Regex.Replace(name.ToLowerInvariant(), "[^a-z0-9:_]", "_").Trim('_');
                Assert.Equal(expected, cleaned);
                return true;
            },
            ciIterations: 1_000,
            FuzzLimits.TimeOnly);
}
