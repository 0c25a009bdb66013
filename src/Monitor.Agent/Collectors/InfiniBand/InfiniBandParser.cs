using System.Globalization;

namespace Monitor.Agent.Collectors.InfiniBand;

/// <summary>What a counter file held.</summary>
internal enum CounterReading
{
    /// <summary>A number.</summary>
    Value,

    /// <summary><c>N/A (no PMA)</c>: the port's performance management agent does not answer; no series, not an error.</summary>
    NotAvailable,

    /// <summary>Anything else: the device is marked failed.</summary>
    Malformed,
}

/// <summary>
/// Pure parsers for the InfiniBand sysfs attributes, with procfs' (v0.8.0, node_exporter 1.5.0) semantics. They never
/// throw on malformed input.
/// </summary>
internal static class InfiniBandParser
{
    /// <summary>Bytes per second in one Gb/s, as procfs converts (<c>value * 125000000</c>).</summary>
    public const double BytesPerGigabit = 125000000;

    /// <summary>What a counter file holds when the port has no PMA (prometheus/node_exporter#966).</summary>
    public const string NoPma = "N/A (no PMA)";

    /// <summary>
    /// Parses <c>state</c> or <c>phys_state</c>, <c>"&lt;id&gt;: &lt;NAME&gt;"</c> such as <c>4: ACTIVE</c>: exactly one colon, a
    /// 32-bit unsigned decimal id before it (spaces trimmed) and the name after it.
    /// </summary>
    public static bool TryParseState(ReadOnlySpan<char> text, out uint id, out Range name)
    {
        id = 0;
        name = default;
        var colon = text.IndexOf(':');
        if (colon < 0 || text[(colon + 1)..].Contains(':'))
        {
            return false;
        }

        var start = colon + 1;
        while (start < text.Length && char.IsWhiteSpace(text[start]))
        {
            start++;
        }

        var end = text.Length;
        while (end > start && char.IsWhiteSpace(text[end - 1]))
        {
            end--;
        }

        name = start..end;
        return uint.TryParse(text[..colon].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out id);
    }

    /// <summary>
    /// Parses <c>rate</c>, such as <c>400 Gb/sec (4X NDR)</c>, into bytes per second: the number before the first
    /// space, in Gb/s, rounded to a 32-bit float and multiplied by 125000000, truncated to an integer, exactly as
    /// procfs does (<c>strconv.ParseFloat(s, 32)</c>, <c>uint64(value * 125000000)</c>).
    /// </summary>
    public static bool TryParseRate(ReadOnlySpan<char> text, out ulong bytesPerSecond)
    {
        bytesPerSecond = 0;
        var space = text.IndexOf(' ');
        if (space < 0)
        {
            return false;
        }

        if (!float.TryParse(text[..space], NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out var gigabits) || !float.IsFinite(gigabits) || gigabits < 0)
        {
            return false;
        }

        bytesPerSecond = (ulong)(gigabits * BytesPerGigabit);
        return true;
    }

    /// <summary>
    /// Parses a counter file: an unsigned 64-bit integer in Go's base-0 syntax (procfs' <c>ParseUint(s, 0, 64)</c>:
    /// decimal, <c>0x</c> hex, <c>0o</c> or leading-zero octal, <c>0b</c> binary), surrounding white space trimmed.
    /// </summary>
    public static CounterReading ParseCounter(ReadOnlySpan<char> text, out ulong value)
    {
        text = text.Trim();
        if (TryParseUInt64Base0(text, out value))
        {
            return CounterReading.Value;
        }

        return text.Contains(NoPma, StringComparison.Ordinal) ? CounterReading.NotAvailable : CounterReading.Malformed;
    }

    /// <summary>Go's <c>strconv.ParseUint(s, 0, 64)</c> (underscores, which Go allows only with a prefix, are rejected).</summary>
    public static bool TryParseUInt64Base0(ReadOnlySpan<char> text, out ulong value)
    {
        value = 0;
        if (text.IsEmpty)
        {
            return false;
        }

        var radix = 10;
        if (text.Length > 1 && text[0] == '0')
        {
            radix = (text[1] | 0x20) switch
            {
                'x' => 16,
                'o' => 8,
                'b' => 2,
                _ => 0,
            };
            text = radix == 0 ? text[1..] : text[2..];
            radix = radix == 0 ? 8 : radix;
            if (text.IsEmpty)
            {
                return false;
            }
        }

        foreach (var c in text)
        {
            var digit = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'z' => c - 'a' + 10,
                >= 'A' and <= 'Z' => c - 'A' + 10,
                _ => int.MaxValue,
            };
            if (digit >= radix)
            {
                value = 0;
                return false;
            }

            var next = unchecked((value * (ulong)radix) + (ulong)digit);
            if (value > (ulong.MaxValue - (ulong)digit) / (ulong)radix)
            {
                value = 0;
                return false;
            }

            value = next;
        }

        return true;
    }

    /// <summary>Go's <c>strconv.ParseInt(s, 0, 64)</c>: an optional sign, then <see cref="TryParseUInt64Base0"/>.</summary>
    public static bool TryParseInt64Base0(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        var negative = false;
        if (!text.IsEmpty && (text[0] == '-' || text[0] == '+'))
        {
            negative = text[0] == '-';
            text = text[1..];
        }

        if (!TryParseUInt64Base0(text, out var magnitude) || magnitude > (negative ? (ulong)long.MaxValue + 1 : long.MaxValue))
        {
            return false;
        }

        value = negative ? unchecked(-(long)magnitude) : (long)magnitude;
        return true;
    }
}
