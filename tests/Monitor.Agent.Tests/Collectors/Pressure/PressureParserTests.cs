using Monitor.Agent.Collectors.Pressure;

namespace Monitor.Agent.Tests.Collectors.Pressure;

public sealed class PressureParserTests
{
    [Fact]
    public void Parse_SomeAndFullLines_ReturnsBothTotals()
    {
        var result = PressureParser.Parse(
            "some avg10=0.12 avg60=0.05 avg300=0.02 total=9876543210\nfull avg10=0.10 avg60=0.04 avg300=0.01 total=8123456789\n");

        Assert.True(result.Success, result.Error);
        Assert.Equal(9876543210UL, result.Value.SomeTotalMicroseconds);
        Assert.Equal(8123456789UL, result.Value.FullTotalMicroseconds);
    }

    [Fact]
    public void Parse_CpuFileOfKernelBefore5_13WithoutFullLine_FullIsNull()
    {
        var result = PressureParser.Parse("some avg10=57.50 avg60=36.39 avg300=13.35 total=84776380\n");

        Assert.True(result.Success, result.Error);
        Assert.Equal(84776380UL, result.Value.SomeTotalMicroseconds);
        Assert.Null(result.Value.FullTotalMicroseconds);
    }

    [Fact]
    public void Parse_UnknownLine_IsIgnored()
    {
        var result = PressureParser.Parse("future avg10=1\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=7\n");

        Assert.True(result.Success, result.Error);
        Assert.Equal(7UL, result.Value.SomeTotalMicroseconds);
    }

    [Theory]
    [InlineData("some avg10=1.23 avg60=0.87", "avg300=")]
    [InlineData("some avg10=1.23 avg60=0.87 avg300=0.52", "total=")]
    [InlineData("some avg10=1.23 avg60=0.87 avg300=0.52 total=12x4", "'12x4'")]
    [InlineData("some avg10=abc avg60=0.87 avg300=0.52 total=1", "avg10=")]
    [InlineData("some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616", "'18446744073709551616'")]
    [InlineData("full avg10=0.00 avg60=0.00 avg300=0.00 total=1", "no 'some' line")]
    [InlineData("", "no 'some' line")]
    public void Parse_MalformedInput_FailsNamingTheProblem(string text, string expectedInMessage)
    {
        var result = PressureParser.Parse(text);

        Assert.False(result.Success);
        Assert.Contains(expectedInMessage, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TotalAtUInt64Max_Parses()
    {
        var result = PressureParser.Parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n");

        Assert.Equal(ulong.MaxValue, result.Value.SomeTotalMicroseconds);
    }
}
