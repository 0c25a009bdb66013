using CsCheck;
using Monitor.Agent.Collectors.NetDev;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary><see cref="NetDevParser"/>: any line returns a result without throwing; generated lines give back name and counters.</summary>
public sealed class NetDevParserFuzzTests
{
    private static readonly string[] Seeds = HostFixture.Lines("proc/net/dev");

    [Fact]
    public void ParseLine_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("NetDevParser.ParseLine", FuzzGen.Text(Seeds, 256), text => text.Length, text =>
        {
            var result = NetDevParser.ParseLine(text);
            if (result.Success && result.Value.Name.GetOffsetAndLength(text.Length).Length == 0)
            {
                throw new InvalidOperationException("accepted an empty interface name");
            }

            return result.Success;
        }, ciIterations: 2_000);

    [Fact]
    public void ParseLine_GeneratedLine_ReturnsNameAndCounters() =>
        FuzzCheck.Run(
            "NetDevParser.ParseLine (generated)",
            // Interface names: no blanks; ':' allowed (old alias names), the parser splits at the last one.
            Gen.Select(Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789.-_@:"], 1, 15], Gen.ULong.Array[NetDevParser.ColumnCount], Gen.Int[0, 8]),
            _ => 1,
            t =>
            {
                var (name, counters, pad) = t;
                var line = new string(' ', pad) + name + ": " + string.Join("    ", counters);

                var result = NetDevParser.ParseLine(line);

                Assert.True(result.Success, result.Error);
                Assert.Equal(name, line[result.Value.Name]);
                var parsed = result.Value.Counters;
                for (var i = 0; i < NetDevParser.ColumnCount; i++)
                {
                    Assert.Equal(counters[i], parsed[i]);
                }

                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);
}
