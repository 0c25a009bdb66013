using Monitor.Agent.Collectors.DiskStats;

namespace Monitor.Agent.Tests.Collectors.DiskStats;

public sealed class DiskStatsParserTests
{
    [Fact]
    public void ParseLine_Kernel5_5With20Fields_Returns17Counters()
    {
        const string line = " 259       0 nvme0n1 8831230 1233 1123812312 2312312 21231231 3123123 2123123123 12312312 3 6123123 14671002 412312 0 1231231232 23123 1021231 90123";

        var result = DiskStatsParser.ParseLine(line);

        Assert.True(result.Success, result.Error);
        var stats = result.Value;
        Assert.Equal((259u, 0u, "nvme0n1", 17), (stats.Major, stats.Minor, line[stats.Name], stats.CounterCount));
        Assert.Equal(8831230UL, stats.Counters[0]);
        Assert.Equal(1123812312UL, stats.Counters[2]);
        Assert.Equal(3UL, stats.Counters[8]);
        Assert.Equal(1231231232UL, stats.Counters[13]);
        Assert.Equal(90123UL, stats.Counters[16]);
    }

    [Fact]
    public void ParseLine_Kernel4_18With18Fields_Returns15Counters()
    {
        const string line = " 253       0 dm-0 8830200 0 1123780000 2412231 24354350 0 2123123115 18311232 5 6123312 20723463 412312 0 1231231232 23224";

        var result = DiskStatsParser.ParseLine(line);

        Assert.True(result.Success, result.Error);
        Assert.Equal(15, result.Value.CounterCount);
        Assert.Equal(23224UL, result.Value.Counters[14]);
        Assert.Equal(0UL, result.Value.Counters[15]);
    }

    [Fact]
    public void ParseLine_OldKernelWith14Fields_Returns11Counters()
    {
        const string line = "   8      16 sdb 80212 1231 9823120 112312 23123 8123 9123812 223123 2 123123 335435";

        var result = DiskStatsParser.ParseLine(line);

        Assert.True(result.Success, result.Error);
        Assert.Equal((8u, 16u, "sdb", 11), (result.Value.Major, result.Value.Minor, line[result.Value.Name], result.Value.CounterCount));
        Assert.Equal(335435UL, result.Value.Counters[10]);
    }

    [Fact]
    public void ParseLine_FutureKernelWithMoreFields_IgnoresTheExtraCounters()
    {
        var result = DiskStatsParser.ParseLine("8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19");

        Assert.True(result.Success, result.Error);
        Assert.Equal(17, result.Value.CounterCount);
        Assert.Equal(17UL, result.Value.Counters[16]);
    }

    [Fact]
    public void ParseLine_CounterAtUInt64Max_Parses()
    {
        var result = DiskStatsParser.ParseLine("8 0 sda 18446744073709551615 2 3 4 5 6 7 8 9 10 11");

        Assert.Equal(ulong.MaxValue, result.Value.Counters[0]);
    }

    [Theory]
    [InlineData("8 0 sda 1 2 3 4 5 6 7 8 9 10", "sda: expected at least 11 counters, found 10")]
    [InlineData("8 0 sda 1 2 3 x 5 6 7 8 9 10 11", "sda: counter 4 is not an unsigned 64-bit integer: 'x'")]
    [InlineData("8 0 sda 1 2 3 18446744073709551616 5 6 7 8 9 10 11", "sda: counter 4 is not an unsigned 64-bit integer: '18446744073709551616'")]
    [InlineData("8 0", "device name is missing")]
    [InlineData("a 0 sda 1 2 3 4 5 6 7 8 9 10 11", "major number is missing or not a number: 'a'")]
    [InlineData("8 99999999999 sda 1 2 3 4 5 6 7 8 9 10 11", "minor number is missing or not a number: '99999999999'")]
    [InlineData("", "major number is missing or not a number: ''")]
    public void ParseLine_MalformedLine_FailsNamingTheProblem(string line, string expected)
    {
        var result = DiskStatsParser.ParseLine(line);

        Assert.False(result.Success);
        Assert.Equal(expected, result.Error);
    }
}
