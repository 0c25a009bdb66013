using System.Globalization;

namespace Monitor.Agent.Configuration;

/// <summary>
/// Prometheus-style durations (<c>500ms</c>, <c>5s</c>, <c>1m30s</c>, <c>2h</c>), the form node_exporter's flags use.
/// </summary>
internal static class Durations
{
    /// <summary>Parses a duration; false for empty text, a missing unit, an unknown unit or a negative value.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (text.IsEmpty)
        {
            return false;
        }

        var total = 0.0;
        while (!text.IsEmpty)
        {
            var digits = 0;
            while (digits < text.Length && (char.IsAsciiDigit(text[digits]) || text[digits] == '.'))
            {
                digits++;
            }

            var units = digits;
            while (units < text.Length && char.IsAsciiLetter(text[units]))
            {
                units++;
            }

            if (digits == 0 || units == digits ||
                !double.TryParse(text[..digits], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            double? scale = text[digits..units] switch
            {
                "ms" => 0.001,
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86400,
                _ => null,
            };
            if (scale is null)
            {
                return false;
            }

            total += number * scale.Value;
            text = text[units..];
        }

        if (total > TimeSpan.MaxValue.TotalSeconds)
        {
            return false;
        }

        value = TimeSpan.FromSeconds(total);
        return true;
    }

    /// <summary>Formats a duration the way <see cref="TryParse"/> reads it, e.g. <c>5s</c> or <c>250ms</c>.</summary>
    public static string Format(TimeSpan value) =>
        value.TotalMilliseconds % 1000 != 0
            ? string.Create(CultureInfo.InvariantCulture, $"{value.TotalMilliseconds}ms")
            : string.Create(CultureInfo.InvariantCulture, $"{value.TotalSeconds}s");
}
