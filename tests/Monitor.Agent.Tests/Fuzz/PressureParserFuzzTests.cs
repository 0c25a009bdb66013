using System.Globalization;
using CsCheck;
using Monitor.Agent.Collectors.Pressure;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary><see cref="PressureParser"/>: any input returns a result without throwing; generated PSI files give back their totals.</summary>
public sealed class PressureParserFuzzTests
{
    private static readonly string[] Seeds = HostFixture.Texts("proc/pressure", "*");

    [Fact]
    public void Parse_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("PressureParser.Parse", FuzzGen.Text(Seeds), text => text.Length, text => PressureParser.Parse(text).Success, ciIterations: 2_000);

    [Fact]
    public void Parse_GeneratedFile_ReturnsTotals() =>
        FuzzCheck.Run(
            "PressureParser.Parse (generated)",
            Gen.Select(Gen.ULong, Gen.ULong, Gen.Bool, Gen.Int[0, 10_000].Array[6]),
            _ => 1,
            t =>
            {
                var (some, full, hasFull, averages) = t;
                string Line(string kind, ulong total, int a) => string.Create(
                    CultureInfo.InvariantCulture,
                    $"{kind} avg10={averages[a] / 100}.{averages[a] % 100:D2} avg60={averages[a + 1] / 100}.{averages[a + 1] % 100:D2} avg300={averages[a + 2] / 100}.{averages[a + 2] % 100:D2} total={total}\n");
                var text = Line("some", some, 0) + (hasFull ? Line("full", full, 3) : "");

                var result = PressureParser.Parse(text);

                Assert.True(result.Success, result.Error);
                Assert.Equal(new PressureTotals(some, hasFull ? full : null), result.Value);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);
}
