using Monitor.Agent.Collectors.Stat;

namespace Monitor.Agent.Tests.Collectors.Stat;

public sealed class StatParserTests
{
    private const string Normal = """
        cpu  2406132 3101 771418 63710539 64722 0 21398 5102 184210 17
        cpu0 601812 780 198201 15901345 18231 0 14120 1301 46001 5
        intr 203488931 9 0 0 152
        ctxt 398742189
        btime 1763812345
        processes 1873920
        procs_running 3
        procs_blocked 1
        softirq 98211433 12 31000023 4812
        """;

    [Fact]
    public void Parse_NormalFile_ReturnsEveryCounter()
    {
        var result = StatParser.Parse(Normal);

        Assert.True(result.Success, result.Error);
        Assert.Equal(new StatCounters(1763812345, 398742189, 1873920, 203488931, 3, 1), result.Value);
    }

    [Fact]
    public void Parse_CounterAtUInt64Max_Parses()
    {
        var result = StatParser.Parse(Normal.Replace("ctxt 398742189", "ctxt 18446744073709551615", StringComparison.Ordinal));

        Assert.Equal(ulong.MaxValue, result.Value.ContextSwitches);
    }

    [Theory]
    [InlineData("ctxt 398742189", "ctxt 18446744073709551616", "'ctxt' is not an unsigned 64-bit integer: '18446744073709551616'")]
    [InlineData("ctxt 398742189", "ctxt 3987x2189", "'ctxt' is not an unsigned 64-bit integer: '3987x2189'")]
    [InlineData("ctxt 398742189", "ctxt -1", "'ctxt' is not an unsigned 64-bit integer: '-1'")]
    [InlineData("intr 203488931 9 0 0 152", "intr", "'intr' has no value")]
    [InlineData("procs_blocked 1", "", "no 'procs_blocked' line")]
    [InlineData("btime 1763812345", "btime 1.5", "'btime' is not an unsigned 64-bit integer: '1.5'")]
    public void Parse_MalformedLine_FailsNamingTheField(string line, string replacement, string expected)
    {
        var result = StatParser.Parse(Normal.Replace(line, replacement, StringComparison.Ordinal));

        Assert.False(result.Success);
        Assert.Equal(expected, result.Error);
    }

    [Fact]
    public void Parse_EmptyFile_Fails()
    {
        var result = StatParser.Parse("");

        Assert.False(result.Success);
        Assert.Equal("no 'btime' line", result.Error);
    }
}
