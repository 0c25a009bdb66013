using System.Buffers.Binary;
using System.Globalization;
using Monitor.Core.Exposition;

namespace Monitor.Core.Tests.Exposition;

public sealed class PrometheusFloatTests
{
    // Expected strings follow Go's strconv.FormatFloat(f, 'g', -1, 64) (ftoa.go: %e when exp < -4 || exp >= 6,
    // two-digit minimum exponent) with expfmt.writeFloat's special cases; derived by hand from those rules.
    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(1.0, "1")]
    [InlineData(-1.0, "-1")]
    [InlineData(0.1, "0.1")]
    [InlineData(1e-05, "1e-05")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(123456789.0, "1.23456789e+08")]
    [InlineData(1e21, "1e+21")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157e+308")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(12345.678, "12345.678")]
    [InlineData(100000.0, "100000")]
    [InlineData(1e6, "1e+06")]
    [InlineData(999999.0, "999999")]
    [InlineData(1234567.0, "1.234567e+06")]
    [InlineData(14933760.0, "1.493376e+07")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(0.30000000000000004, "0.30000000000000004")]
    [InlineData(1e100, "1e+100")]
    [InlineData(-1.5e-300, "-1.5e-300")]
    public void ToString_KnownValue_MatchesGo(double value, string expected) =>
        Assert.Equal(expected, PrometheusFloat.ToString(value));

    [Fact]
    public void ToString_NegativeZero_PrintsZeroAsExpfmtDoes() => Assert.Equal("0", PrometheusFloat.ToString(-0.0));

    [Fact]
    public void ToString_GeneratedTable_MatchesGoLayoutOfShortestDigits()
    {
        // go-floats.txt comes from Data/gen_go_floats.py: Python's repr digits laid out by Go's rules.
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Exposition", "Data", "go-floats.txt"));
        Assert.True(lines.Length > 700);
        var failures = new List<string>();
        foreach (var line in lines)
        {
            var parts = line.Split(' ');
            var bits = ulong.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var value = BitConverter.UInt64BitsToDouble(bits);
            var actual = PrometheusFloat.ToString(value);
            if (actual != parts[1])
            {
                failures.Add($"{parts[0]}: expected {parts[1]}, got {actual}");
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public void Format_RandomDoubles_RoundTripBitExact()
    {
        var random = new Random(12345);
        Span<byte> bytes = stackalloc byte[8];
        Span<byte> text = stackalloc byte[PrometheusFloat.MaxLength];
        Span<char> chars = stackalloc char[PrometheusFloat.MaxLength];
        for (var i = 0; i < 10_000; i++)
        {
            random.NextBytes(bytes);
            var value = BinaryPrimitives.ReadDoubleLittleEndian(bytes);
            if (double.IsNaN(value) || value == 0)
            {
                continue;
            }

            var n = PrometheusFloat.Format(value, text);
            for (var k = 0; k < n; k++)
            {
                chars[k] = (char)text[k];
            }

            Assert.True(PrometheusFloat.TryParse(chars[..n], out var parsed), chars[..n].ToString());
            Assert.Equal(BitConverter.DoubleToUInt64Bits(value), BitConverter.DoubleToUInt64Bits(parsed));
            Assert.Equal(value, double.Parse(chars[..n], CultureInfo.InvariantCulture));
        }
    }

    [Theory]
    [InlineData("NaN", double.NaN)]
    [InlineData("+Inf", double.PositiveInfinity)]
    [InlineData("-Inf", double.NegativeInfinity)]
    [InlineData("1.5e+10", 1.5e10)]
    [InlineData("-3E-2", -0.03)]
    [InlineData("42", 42.0)]
    public void TryParse_ValidText_ReturnsValue(string text, double expected)
    {
        Assert.True(PrometheusFloat.TryParse(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" 1")]
    [InlineData("1,000")]
    [InlineData("0x10")]
    [InlineData("one")]
    public void TryParse_InvalidText_ReturnsFalse(string text) => Assert.False(PrometheusFloat.TryParse(text, out _));
}
