using Monitor.Agent.Collectors.NetDev;

namespace Monitor.Agent.Tests.Collectors.NetDev;

public sealed class NetDevParserTests
{
    [Fact]
    public void ParseLine_InterfaceLine_ReturnsNameAndAll16Counters()
    {
        const string line = "  eno1: 91238123123 123812312   12  312    0     3          0    123123 21231231234 81231231    0    4    0     5       6          7";

        var result = NetDevParser.ParseLine(line);

        Assert.True(result.Success, result.Error);
        var stats = result.Value;
        Assert.Equal("eno1", line[stats.Name]);
        Assert.Equal(91238123123UL, stats.Counters[0]);
        Assert.Equal(312UL, stats.Counters[3]);
        Assert.Equal(123123UL, stats.Counters[7]);
        Assert.Equal(21231231234UL, stats.Counters[8]);
        Assert.Equal(5UL, stats.Counters[13]);
        Assert.Equal(7UL, stats.Counters[15]);
    }

    [Fact]
    public void ParseLine_NameWithoutSpaceBeforeCounters_SplitsAtTheColon()
    {
        // Long names leave no space after the colon: "docker0:12312312".
        const string line = "docker0:12312312  123123 0 0 0 0 0 0 123123123 212312 0 2 0 0 0 0";

        var result = NetDevParser.ParseLine(line);

        Assert.True(result.Success, result.Error);
        Assert.Equal(("docker0", 12312312UL), (line[result.Value.Name], result.Value.Counters[0]));
    }

    [Fact]
    public void ParseLine_CounterAtUInt64Max_Parses()
    {
        var result = NetDevParser.ParseLine("ib0: 18446744073709551615 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0");

        Assert.Equal(ulong.MaxValue, result.Value.Counters[0]);
    }

    [Theory]
    [InlineData("eth0: 1 2 3", "eth0: expected 16 counters, found 3")]
    [InlineData("eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x", "eth0: transmit_compressed is not an unsigned 64-bit integer: 'x'")]
    [InlineData("eth0: 18446744073709551616 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", "eth0: receive_bytes is not an unsigned 64-bit integer: '18446744073709551616'")]
    [InlineData("eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", "eth0: more than 16 counters ('17')")]
    [InlineData("eth0 1 2 3", "missing ':' after the interface name")]
    [InlineData("   : 1 2 3", "empty interface name")]
    [InlineData("", "missing ':' after the interface name")]
    public void ParseLine_MalformedLine_FailsNamingTheProblem(string line, string expected)
    {
        var result = NetDevParser.ParseLine(line);

        Assert.False(result.Success);
        Assert.Equal(expected, result.Error);
    }
}
