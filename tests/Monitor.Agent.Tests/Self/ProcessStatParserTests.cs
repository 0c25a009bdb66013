using Monitor.Agent.Self;

namespace Monitor.Agent.Tests.Self;

public sealed class ProcessStatParserTests
{
    // A real line from Linux 6.1 (52 fields), with a command name holding a space and a parenthesis.
    private const string Line =
        "4242 (monitor (x) agent) S 1 4242 4242 0 -1 4194560 12345 0 0 0 250 75 0 0 20 0 18 0 123456 2784578723840 9876 18446744073709551615 1 1 0 0 0 0 0 4096 17663 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    [Fact]
    public void Parse_RealLine_ReadsFieldsAfterLastParenthesis()
    {
        var stat = ProcessStatParser.Parse(Line).ValueOrThrow("stat");

        Assert.Equal(250UL, stat.UserTicks);
        Assert.Equal(75UL, stat.SystemTicks);
        Assert.Equal(123456UL, stat.StartTicks);
        Assert.Equal(2784578723840UL, stat.VirtualBytes);
        Assert.Equal(9876L, stat.ResidentPages);
    }

    [Theory]
    [InlineData("", "no ')'")]
    [InlineData("1 (x) S 1 2 3", "only 6 fields")]
    [InlineData("1 (x) S 1 4242 4242 0 -1 4194560 12345 0 0 0 abc 75 0 0 20 0 18 0 123456 2784578723840 9876", "field 14 is not a number: 'abc'")]
    [InlineData("1 (x) S 1 4242 4242 0 -1 4194560 12345 0 0 0 99999999999999999999999 75 0 0 20 0 18 0 1 2 3", "field 14")]
    public void Parse_Malformed_FailsWithReason(string text, string reason)
    {
        var result = ProcessStatParser.Parse(text);

        Assert.False(result.Success);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
    }
}
