using System.Globalization;
using CsCheck;
using Monitor.Agent.Collectors.LoadAvg;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary><see cref="LoadAvgParser"/>: any input returns a result without throwing; generated files give back their averages.</summary>
public sealed class LoadAvgParserFuzzTests
{
    private static readonly string[] Seeds = [HostFixture.Text("proc/loadavg"), "0.00 0.00 0.00 1/1 1\n"];

    [Fact]
    public void Parse_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("LoadAvgParser.Parse", FuzzGen.Text(Seeds), text => text.Length, text =>
        {
            var result = LoadAvgParser.Parse(text);
            if (result.Success && !(double.IsFinite(result.Value.Load1) && double.IsFinite(result.Value.Load5) && double.IsFinite(result.Value.Load15)))
            {
                throw new InvalidOperationException($"accepted a load that is not finite: {result.Value}");
            }

            return result.Success;
        }, ciIterations: 2_000);

    [Fact]
    public void Parse_GeneratedLoadAvg_ReturnsTheAverages() =>
        FuzzCheck.Run(
            "LoadAvgParser.Parse (generated)",
            Gen.Int[0, 10_000_000].Array[3],
            _ => 1,
            hundredths =>
            {
                // The kernel prints each average with two decimals; k/100.0 is the double nearest that decimal, as is parsing it.
                var text = string.Join(' ', hundredths.Select(k => string.Create(CultureInfo.InvariantCulture, $"{k / 100}.{k % 100:D2}"))) + " 2/1234 5678\n";

                var result = LoadAvgParser.Parse(text);

                Assert.True(result.Success, result.Error);
                Assert.Equal(new LoadAverage(hundredths[0] / 100.0, hundredths[1] / 100.0, hundredths[2] / 100.0), result.Value);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);
}
