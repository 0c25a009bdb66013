using System.Globalization;

namespace Monitor.Agent.Collectors.Parsing;

/// <summary>Culture-invariant number parsing for kernel text.</summary>
internal static class Numbers
{
    /// <summary>Parses an unsigned decimal integer (kernel counters); rejects signs, spaces and overflow.</summary>
    public static bool TryParseUInt64(ReadOnlySpan<char> text, out ulong value) =>
        ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    /// <summary>Parses a signed decimal integer.</summary>
    public static bool TryParseInt64(ReadOnlySpan<char> text, out long value) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    /// <summary>Parses a decimal number such as <c>0.52</c>; rejects NaN, infinities and thousands separators.</summary>
    public static bool TryParseDouble(ReadOnlySpan<char> text, out double value) =>
        double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out value)
        && double.IsFinite(value);

    /// <summary>
    /// Whether <see cref="TryParseDouble"/> would accept <paramref name="text"/>, without converting it when it is a
    /// plain integer of up to 20 digits (a kernel counter): for values that are checked but not exported.
    /// </summary>
    public static bool IsDouble(ReadOnlySpan<char> text)
    {
        var digits = text.Length > 0 && text[0] is '-' or '+' ? text[1..] : text;
        if (digits.Length is > 0 and <= 20 && !digits.ContainsAnyExceptInRange('0', '9'))
        {
            return true;
        }

        return TryParseDouble(text, out _);
    }
}
