using System.Globalization;
using CsCheck;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// <see cref="DurationParser"/> (Go's duration syntax, used by every duration flag and setting): any text returns a
/// result without throwing; generated durations parse to the tick count computed exactly in decimal.
/// </summary>
public sealed class DurationParserFuzzTests
{
    private static readonly string[] Seeds = ["500ms", "5s", "1m30s", "1h2m3.5s", "10µs", "10μs", "300ns", "0", "-1.5h", "+2m", "2562047h47m16.854775807s", "1.5.5s"];

    private static readonly (string Unit, decimal Ticks)[] Units =
        [("ns", 0.01m), ("us", 10m), ("µs", 10m), ("μs", 10m), ("ms", 10_000m), ("s", 10_000_000m), ("m", 600_000_000m), ("h", 36_000_000_000m)];

    [Fact]
    public void Parse_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("DurationParser.Parse", FuzzGen.Text(Seeds, 48), text => text.Length, text => DurationParser.Parse(text).Success, ciIterations: 2_000);

    [Fact]
    public void Parse_GeneratedDuration_ReturnsExactTicks() =>
        FuzzCheck.Run(
            "DurationParser.Parse (generated)",
            Gen.Select(Gen.Select(Gen.Int[0, 1_000_000], Gen.Int[-1, 99], Gen.Int[0, Units.Length - 1]).Array[1, 8], Gen.OneOf("", "-", "+")),
            _ => 1,
            t =>
            {
                var (terms, sign) = t;
                var text = sign + string.Concat(terms.Select(term =>
                    term.Item1.ToString(CultureInfo.InvariantCulture) + (term.Item2 < 0 ? "" : "." + term.Item2.ToString("D2", CultureInfo.InvariantCulture)) + Units[term.Item3].Unit));
                var exact = terms.Sum(term => (term.Item1 + (Math.Max(term.Item2, 0) / 100m)) * Units[term.Item3].Ticks);
                var expected = (long)decimal.Truncate(sign == "-" ? -exact : exact);

                var result = DurationParser.Parse(text);

                Assert.True(result.Success, result.Error);
                // The parser sums doubles: allow the rounding of at most a few ulps of the total, and the truncation of one tick.
                Assert.InRange(result.Value.Ticks - expected, -(2 + (Math.Abs(expected) / 1_000_000_000_000L)), 2 + (Math.Abs(expected) / 1_000_000_000_000L));
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);
}
