using System.Globalization;

namespace Monitor.Core.Exposition;

/// <summary>
/// Formats doubles exactly as Prometheus' Go libraries do (<c>expfmt.writeFloat</c>: special cases for 0, ±1, NaN
/// and ±Inf, otherwise <c>strconv.AppendFloat(f, 'g', -1, 64)</c>). Output from the agent is then byte-identical
/// to node_exporter's for the same value, and every value parses back to the same double.
/// </summary>
/// <remarks>
/// Go's shortest <c>%g</c> switches to exponent notation when the decimal exponent is below −4 or at least 6
/// (<c>14933760</c> → <c>1.493376e+07</c>), and writes at least two exponent digits. .NET's "R" gives the same
/// shortest round-trip digits with a different layout, so we take its digits and re-lay them out.
/// </remarks>
public static class PrometheusFloat
{
    /// <summary>Bytes that any formatted double fits into.</summary>
    public const int MaxLength = 32;

    /// <summary>Writes <paramref name="value"/> to <paramref name="destination"/> (at least <see cref="MaxLength"/> bytes) and returns the byte count.</summary>
    public static int Format(double value, Span<byte> destination)
    {
        if (double.IsNaN(value))
        {
            return Copy("NaN"u8, destination);
        }

        if (double.IsPositiveInfinity(value))
        {
            return Copy("+Inf"u8, destination);
        }

        if (double.IsNegativeInfinity(value))
        {
            return Copy("-Inf"u8, destination);
        }

        if (value == 0)
        {
            // Go prints -0 as "-0" but expfmt special-cases f == 0 first, so both zeros print "0".
            destination[0] = (byte)'0';
            return 1;
        }

        if (value == 1)
        {
            destination[0] = (byte)'1';
            return 1;
        }

        if (value == -1)
        {
            destination[0] = (byte)'-';
            destination[1] = (byte)'1';
            return 2;
        }

        Span<char> shortest = stackalloc char[40];
        value.TryFormat(shortest, out var written, "R", CultureInfo.InvariantCulture);
        shortest = shortest[..written];

        // Decompose "-1.2345E+15" / "0.000123" / "1234500" into significant digits and decimal point position
        // (value = 0.d1d2d3... × 10^dp), the representation Go's strconv works with.
        Span<byte> digits = stackalloc byte[24];
        var nd = 0;
        var dp = 0;
        var seenPoint = false;
        var seenNonZero = false;
        var negative = false;
        var exponent = 0;
        for (var i = 0; i < shortest.Length; i++)
        {
            var c = shortest[i];
            if (c == '-')
            {
                negative = true;
            }
            else if (c == '.')
            {
                seenPoint = true;
            }
            else if (c is 'E' or 'e')
            {
                exponent = int.Parse(shortest[(i + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                break;
            }
            else if (c is >= '0' and <= '9')
            {
                if (c == '0' && !seenNonZero)
                {
                    if (seenPoint)
                    {
                        dp--;
                    }

                    continue;
                }

                seenNonZero = true;
                digits[nd++] = (byte)c;
                if (!seenPoint)
                {
                    dp++;
                }
            }
        }

        while (nd > 1 && digits[nd - 1] == '0')
        {
            nd--;
        }

        dp += exponent;
        var pos = 0;
        if (negative)
        {
            destination[pos++] = (byte)'-';
        }

        var exp10 = dp - 1;
        if (exp10 < -4 || exp10 >= 6)
        {
            destination[pos++] = digits[0];
            if (nd > 1)
            {
                destination[pos++] = (byte)'.';
                digits[1..nd].CopyTo(destination[pos..]);
                pos += nd - 1;
            }

            destination[pos++] = (byte)'e';
            destination[pos++] = exp10 < 0 ? (byte)'-' : (byte)'+';
            var absExp = Math.Abs(exp10);
            if (absExp < 10)
            {
                destination[pos++] = (byte)'0';
            }

            absExp.TryFormat(destination[pos..], out var expLen, default, CultureInfo.InvariantCulture);
            return pos + expLen;
        }

        if (dp <= 0)
        {
            destination[pos++] = (byte)'0';
            destination[pos++] = (byte)'.';
            for (var i = 0; i < -dp; i++)
            {
                destination[pos++] = (byte)'0';
            }

            digits[..nd].CopyTo(destination[pos..]);
            return pos + nd;
        }

        if (dp >= nd)
        {
            digits[..nd].CopyTo(destination[pos..]);
            pos += nd;
            for (var i = nd; i < dp; i++)
            {
                destination[pos++] = (byte)'0';
            }

            return pos;
        }

        digits[..dp].CopyTo(destination[pos..]);
        pos += dp;
        destination[pos++] = (byte)'.';
        digits[dp..nd].CopyTo(destination[pos..]);
        return pos + (nd - dp);
    }

    /// <summary>Formats to a string; for tests, logs and golden files, not the scrape path.</summary>
    public static string ToString(double value)
    {
        Span<byte> buffer = stackalloc byte[MaxLength];
        var n = Format(value, buffer);
        return System.Text.Encoding.ASCII.GetString(buffer[..n]);
    }

    /// <summary>
    /// Parses a sample value as Prometheus does (Go <c>strconv.ParseFloat</c>): decimal or exponent notation,
    /// <c>NaN</c>, <c>+Inf</c>, <c>-Inf</c> and <c>Inf</c> in any case.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out double value)
    {
        if (text.Equals("NaN", StringComparison.OrdinalIgnoreCase))
        {
            value = double.NaN;
            return true;
        }

        var unsigned = text.Length > 0 && text[0] is '+' or '-' ? text[1..] : text;
        if (unsigned.Equals("Inf", StringComparison.OrdinalIgnoreCase) || unsigned.Equals("Infinity", StringComparison.OrdinalIgnoreCase))
        {
            value = text[0] == '-' ? double.NegativeInfinity : double.PositiveInfinity;
            return true;
        }

        // Reject what .NET accepts but Go does not: whitespace, thousands separators, currency, hex.
        foreach (var c in text)
        {
            if (!(c is (>= '0' and <= '9') or '.' or 'e' or 'E' or '+' or '-'))
            {
                value = 0;
                return false;
            }
        }

        return double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out value);
    }

    private static int Copy(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        source.CopyTo(destination);
        return source.Length;
    }
}
