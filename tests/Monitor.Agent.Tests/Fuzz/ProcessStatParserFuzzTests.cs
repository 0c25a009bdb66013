using System.Globalization;
using CsCheck;
using Monitor.Agent.Self;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary><see cref="ProcessStatParser"/>: any input returns a result without throwing; generated stat lines give back their fields.</summary>
public sealed class ProcessStatParserFuzzTests
{
    /// <summary>A real /proc/[pid]/stat line (a dotnet process), with a command name holding spaces and parentheses in the second.</summary>
    private static readonly string[] Seeds =
    [
        "480523 (dotnet) S 480500 480523 480500 34816 480523 4194304 23411 0 12 0 812 131 0 0 20 0 24 0 98231234 3361251328 17890 18446744073709551615 94229181845504 94229181913776 140724650012656 0 0 0 0 4096 17663 0 0 0 17 1 0 0 0 0 0 94229181930064 94229181931352 94229205905408 140724650017589 140724650017620 140724650017620 140724650020838 0\n",
        "12 (a) (b c)) R 1 12 12 0 -1 4194560 0 0 0 0 5 6 0 0 20 0 1 0 7 8 -9 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
    ];

    [Fact]
    public void Parse_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("ProcessStatParser.Parse", FuzzGen.Text(Seeds), text => text.Length, text => ProcessStatParser.Parse(text).Success, ciIterations: 2_000);

    [Fact]
    public void Parse_GeneratedLine_ReturnsTimesAndSizes() =>
        FuzzCheck.Run(
            "ProcessStatParser.Parse (generated)",
            Gen.Select(Gen.String[Gen.Frequency((5, Gen.Char[' ', '~']), (1, Gen.OneOf('(', ')', ' '))), 0, 16], Gen.ULong.Array[4], Gen.Long, Gen.Int[1, 30]),
            _ => 1,
            t =>
            {
                // Kernels print 52 fields since 3.5 (44 in 2.6): rss, field 24, is never the last.
                var (comm, values, rss, extra) = t;
                var fields = Enumerable.Range(3, 22 + extra).Select(field => field switch
                {
                    3 => "S",
                    14 => values[0].ToString(CultureInfo.InvariantCulture),
                    15 => values[1].ToString(CultureInfo.InvariantCulture),
                    22 => values[2].ToString(CultureInfo.InvariantCulture),
                    23 => values[3].ToString(CultureInfo.InvariantCulture),
                    24 => rss.ToString(CultureInfo.InvariantCulture),
                    _ => field.ToString(CultureInfo.InvariantCulture),
                });

                var result = ProcessStatParser.Parse($"4242 ({comm}) {string.Join(' ', fields)}\n");

                Assert.True(result.Success, result.Error);
                Assert.Equal(new ProcessStat(values[0], values[1], values[2], values[3], rss), result.Value);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);
}
