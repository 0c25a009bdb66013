using System.Globalization;
using CsCheck;
using Monitor.Agent.Collectors.ThermalZone;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary><see cref="ThermalZoneParser"/>: any attribute text returns a result without throwing; generated integers parse back.</summary>
public sealed class ThermalZoneParserFuzzTests
{
    private static readonly string[] Seeds =
        [.. HostFixture.Texts("sys/devices/virtual/thermal", "temp"), .. HostFixture.Texts("sys/devices/virtual/thermal", "*_state"), "-1\n", "-40000\n"];

    [Fact]
    public void ParseInteger_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("ThermalZoneParser.ParseInteger", FuzzGen.Text(Seeds, 64), text => text.Length, text => ThermalZoneParser.ParseInteger(text).Success, ciIterations: 2_000);

    [Fact]
    public void ParseInteger_GeneratedValue_ReturnsIt() =>
        FuzzCheck.Run(
            "ThermalZoneParser.ParseInteger (generated)",
            Gen.Select(Gen.Long, Gen.OneOf("", " ", "\n", " \n", "\t")),
            _ => 1,
            t =>
            {
                var result = ThermalZoneParser.ParseInteger(t.Item2 + t.Item1.ToString(CultureInfo.InvariantCulture) + t.Item2);

                Assert.True(result.Success, result.Error);
                Assert.Equal(t.Item1, result.Value);
                Assert.Equal(t.Item1 / 1000.0, ThermalZoneParser.ToCelsius(result.Value));
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);
}
