using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Tests.Collectors.Parsing;

public sealed class DurationParserTests
{
    [Theory]
    [InlineData("5s", 5000)]
    [InlineData("500ms", 500)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1.5s", 1500)]
    [InlineData("2h", 7_200_000)]
    [InlineData("0", 0)]
    public void Parse_GoDuration_ReturnsTimeSpan(string text, double milliseconds)
    {
        var result = DurationParser.Parse(text);

        Assert.True(result.Success, result.Error);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), result.Value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("5 seconds")]
    [InlineData("s")]
    [InlineData("abc")]
    [InlineData("99999999999999999999h")]
    public void Parse_Malformed_FailsWithoutThrowing(string text) =>
        Assert.False(DurationParser.Parse(text).Success);
}
