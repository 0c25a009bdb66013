using Monitor.Agent.Collectors.InfiniBand;

namespace Monitor.Agent.Tests.Collectors.InfiniBand;

public sealed class InfiniBandParserTests
{
    [Theory]
    [InlineData("400 Gb/sec (4X NDR)", 50_000_000_000UL)]
    [InlineData("200 Gb/sec (2X NDR)", 25_000_000_000UL)]
    [InlineData("100 Gb/sec (4X EDR)", 12_500_000_000UL)]
    [InlineData("56 Gb/sec (4X FDR)", 7_000_000_000UL)]
    [InlineData("40 Gb/sec (4X QDR)", 5_000_000_000UL)]
    [InlineData("2.5 Gb/sec (1X SDR)", 312_500_000UL)]
    [InlineData("25 Gb/sec (1X EDR)", 3_125_000_000UL)]
    [InlineData("0 GB/sec", 0UL)]
    public void TryParseRate_KernelRates_BytesPerSecond(string text, ulong expected)
    {
        Assert.True(InfiniBandParser.TryParseRate(text, out var rate));
        Assert.Equal(expected, rate);
    }

    [Fact]
    public void TryParseRate_Float32Rounding_AsProcfs()
    {
        // procfs parses with ParseFloat(s, 32): 53.125 is exact in float32, 0.1 is not (0.100000001490116...).
        Assert.True(InfiniBandParser.TryParseRate("53.125 Gb/sec (1X HDR)", out var hdr));
        Assert.Equal(6_640_625_000UL, hdr);
        Assert.True(InfiniBandParser.TryParseRate("0.1 Gb/sec", out var tenth));
        Assert.Equal(12_500_000UL, tenth);
    }

    [Theory]
    [InlineData("")]
    [InlineData("400")]
    [InlineData("fast Gb/sec")]
    [InlineData("-10 Gb/sec")]
    [InlineData("NaN Gb/sec")]
    [InlineData(" 400 Gb/sec")]
    public void TryParseRate_Malformed_FalseNoThrow(string text) => Assert.False(InfiniBandParser.TryParseRate(text, out _));

    [Theory]
    [InlineData("4: ACTIVE", 4U, "ACTIVE")]
    [InlineData("1: DOWN", 1U, "DOWN")]
    [InlineData(" 5 :  LinkUp ", 5U, "LinkUp")]
    [InlineData("3: Disabled", 3U, "Disabled")]
    public void TryParseState_Valid(string text, uint id, string name)
    {
        Assert.True(InfiniBandParser.TryParseState(text, out var parsed, out var range));
        Assert.Equal(id, parsed);
        Assert.Equal(name, text[range]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("ACTIVE")]
    [InlineData("x: ACTIVE")]
    [InlineData("4: ACTIVE: again")]
    [InlineData("-1: DOWN")]
    [InlineData("99999999999: DOWN")]
    public void TryParseState_Malformed_False(string text) => Assert.False(InfiniBandParser.TryParseState(text, out _, out _));

    [Theory]
    [InlineData("0", 0UL)]
    [InlineData("4294967295", 4294967295UL)]
    [InlineData("18446744073709551615", ulong.MaxValue)]
    [InlineData("  12\n", 12UL)]
    [InlineData("0x10", 16UL)]
    [InlineData("010", 8UL)]
    [InlineData("0b101", 5UL)]
    public void ParseCounter_Numbers(string text, ulong expected)
    {
        Assert.Equal(CounterReading.Value, InfiniBandParser.ParseCounter(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("N/A (no PMA)")]
    [InlineData("  N/A (no PMA)\n")]
    public void ParseCounter_NoPma_NotAvailable(string text) => Assert.Equal(CounterReading.NotAvailable, InfiniBandParser.ParseCounter(text, out _));

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("-1")]
    [InlineData("18446744073709551616")]
    [InlineData("0x")]
    [InlineData("09")]
    [InlineData("12 34")]
    [InlineData("N/A")]
    public void ParseCounter_NotANumber_Malformed(string text) => Assert.Equal(CounterReading.Malformed, InfiniBandParser.ParseCounter(text, out _));

    [Theory]
    [InlineData("-1", -1L)]
    [InlineData("0x1003", 4099L)]
    [InlineData("+25000", 25000L)]
    [InlineData("-9223372036854775808", long.MinValue)]
    public void TryParseInt64Base0_Valid(string text, long expected)
    {
        Assert.True(InfiniBandParser.TryParseInt64Base0(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("9223372036854775808")]
    [InlineData("-")]
    [InlineData("up")]
    public void TryParseInt64Base0_Malformed_False(string text) => Assert.False(InfiniBandParser.TryParseInt64Base0(text, out _));
}
