using System.Globalization;
using System.Numerics;
using CsCheck;
using Monitor.Agent.Collectors.InfiniBand;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// <see cref="InfiniBandParser"/>: counters, state, rate and Go base-0 integers. Any text returns without throwing;
/// base-0 parsing agrees with an independent big-integer reading of Go's <c>strconv.ParseUint(s, 0, 64)</c> and
/// <c>ParseInt</c>; generated state and rate files give back their values.
/// </summary>
public sealed class InfiniBandParserFuzzTests
{
    private static readonly string[] Seeds =
    [
        .. HostFixture.Texts("sys/class/infiniband/mlx5_0/ports/1/counters", "*").Take(6),
        .. HostFixture.Texts("sys/class/infiniband/mlx4_0/ports/1", "*state"),
        HostFixture.Text("sys/class/infiniband/mlx4_0/ports/1/rate"),
        HostFixture.Text("sys/class/infiniband/mlx5_2/ports/1/counters/port_xmit_discards"),
        "0x1f\n", "0o17\n", "0b101\n", "017\n", "400 Gb/sec (4X NDR)\n", "2.5 Gb/sec (1X SDR)\n",
    ];

    /// <summary>Base-0 integer text: a prefix from the grammar (or a sign) and digits of any base, with some invalid characters.</summary>
    private static readonly Gen<string> Base0Text = Gen.Frequency(
        (3, Gen.Select(Gen.OneOf("", "", "0", "0x", "0X", "0b", "0B", "0o", "0O", "00", "-", "+", "-0x", "+0b"), Gen.String[Gen.Char["0123456789abcdefABCDEFxobz_ +-"], 0, 24], (p, d) => p + d)),
        (2, Gen.Select(Gen.ULong, Gen.OneOf(2, 8, 10, 16), Gen.Bool, (v, radix, sign) => (sign ? "-" : "") + Prefixed(v, radix))));

    [Fact]
    public void ParseCounter_AnyText_ReturnsReadingWithinBounds() =>
        FuzzCheck.Run("InfiniBandParser.ParseCounter", FuzzGen.Text(Seeds, 64), text => text.Length, text =>
            InfiniBandParser.ParseCounter(text, out _) == CounterReading.Value, ciIterations: 2_000);

    [Fact]
    public void TryParseStateAndRate_AnyText_ReturnWithinBounds() =>
        FuzzCheck.Run("InfiniBandParser.TryParseState/TryParseRate", FuzzGen.Text(Seeds, 64), text => text.Length, text =>
        {
            var state = InfiniBandParser.TryParseState(text, out _, out var name);
            if (state && name.GetOffsetAndLength(text.Length).Offset > text.Length)
            {
                throw new InvalidOperationException($"name range {name} outside the text");
            }

            return InfiniBandParser.TryParseRate(text, out _) | state;
        }, ciIterations: 2_000);

    [Fact]
    public void TryParseUInt64Base0_AnyText_AgreesWithGoModel() =>
        FuzzCheck.Run("InfiniBandParser.TryParseUInt64Base0/TryParseInt64Base0", Gen.Frequency((3, Base0Text), (1, FuzzGen.Text(Seeds, 40).Select(t => t.Length > 200 ? t[..200] : t))), t => t.Length, text =>
        {
            var ok = InfiniBandParser.TryParseUInt64Base0(text, out var value);
            var expected = GoParseUint(text);
            Assert.Equal(expected is not null, ok);
            Assert.Equal(expected ?? 0, value);

            var okSigned = InfiniBandParser.TryParseInt64Base0(text, out var signed);
            var expectedSigned = GoParseInt(text);
            Assert.Equal(expectedSigned is not null, okSigned);
            Assert.Equal(expectedSigned ?? 0, okSigned ? signed : 0);
            return ok;
        }, ciIterations: 2_000, FuzzLimits.TimeOnly);

    [Fact]
    public void TryParseState_GeneratedState_ReturnsIdAndName() =>
        FuzzCheck.Run(
            "InfiniBandParser.TryParseState (generated)",
            Gen.Select(Gen.UInt, Gen.String[Gen.Char["ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"], 0, 16], Gen.OneOf("", " ", "  "), Gen.OneOf("", "\n", " \n")),
            _ => 1,
            t =>
            {
                var (id, name, blank, end) = t;
                var text = string.Create(CultureInfo.InvariantCulture, $"{blank}{id}{blank}:{blank}{name}{end}");

                Assert.True(InfiniBandParser.TryParseState(text, out var parsedId, out var range));
                Assert.Equal(id, parsedId);
                Assert.Equal(name, text[range]);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);

    [Fact]
    public void TryParseRate_GeneratedRate_ReturnsBytesPerSecond() =>
        FuzzCheck.Run(
            "InfiniBandParser.TryParseRate (generated)",
            // Quarter Gb/s steps up to 2^20 / 4: exact in a 32-bit float, so the expected product is exact too.
            Gen.Int[0, 1 << 20],
            _ => 1,
            quarters =>
            {
                var text = string.Create(CultureInfo.InvariantCulture, $"{quarters / 4}.{quarters % 4 * 25:D2} Gb/sec (4X HDR)\n");

                Assert.True(InfiniBandParser.TryParseRate(text, out var bytes));
                Assert.Equal((ulong)quarters * 125_000_000UL / 4, bytes);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);

    private static string Prefixed(ulong value, int radix) => radix switch
    {
        2 => "0b" + Convert.ToString((long)value, 2).TrimStart('0').PadLeft(1, '0'),
        8 => "0" + Convert.ToString((long)value, 8),
        16 => "0x" + value.ToString("x", CultureInfo.InvariantCulture),
        _ => value.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Go's strconv.ParseUint(s, 0, 64), underscores rejected (the agent documents that), in big integers.</summary>
    private static ulong? GoParseUint(string s)
    {
        if (s.Length == 0 || s.Contains('_', StringComparison.Ordinal))
        {
            return null;
        }

        var radix = 10;
        if (s[0] == '0')
        {
            (radix, s) = s.Length >= 3 && s[1] is 'x' or 'X' ? (16, s[2..])
                : s.Length >= 3 && s[1] is 'o' or 'O' ? (8, s[2..])
                : s.Length >= 3 && s[1] is 'b' or 'B' ? (2, s[2..])
                : (8, s[1..]);
        }

        BigInteger n = 0;
        foreach (var c in s)
        {
            var digit = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'z' ? c - 'a' + 10 : c is >= 'A' and <= 'Z' ? c - 'A' + 10 : 99;
            if (digit >= radix)
            {
                return null;
            }

            n = (n * radix) + digit;
        }

        return n <= ulong.MaxValue ? (ulong)n : null;
    }

    /// <summary>Go's strconv.ParseInt(s, 0, 64) on top of <see cref="GoParseUint"/>.</summary>
    private static long? GoParseInt(string s)
    {
        var negative = s.StartsWith('-');
        var magnitude = GoParseUint(s.Length > 0 && s[0] is '-' or '+' ? s[1..] : s);
        if (magnitude is not { } m)
        {
            return null;
        }

        var value = negative ? -(BigInteger)m : m;
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : null;
    }
}
