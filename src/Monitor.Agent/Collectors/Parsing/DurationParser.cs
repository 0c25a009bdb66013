using System.Globalization;

namespace Monitor.Agent.Collectors.Parsing;

/// <summary>
/// Parses durations written the way node_exporter's flags take them (Go's <c>time.ParseDuration</c>): a sequence of
/// decimal numbers with units <c>ns</c>, <c>us</c>/<c>µs</c>, <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>, such as
/// <c>500ms</c>, <c>5s</c> or <c>1m30s</c>.
/// </summary>
internal static class DurationParser
{
    /// <summary>Parses a duration; never throws.</summary>
    public static ParseResult<TimeSpan> Parse(ReadOnlySpan<char> text)
    {
        text = text.Trim();
        if (text.IsEmpty)
        {
            return ParseResult<TimeSpan>.Fail("empty duration");
        }

        if (text is "0")
        {
            return ParseResult<TimeSpan>.Ok(TimeSpan.Zero);
        }

        var negative = false;
        if (text[0] is '-' or '+')
        {
            negative = text[0] == '-';
            text = text[1..];
        }

        double totalTicks = 0;
        while (!text.IsEmpty)
        {
            var numberLength = 0;
            while (numberLength < text.Length && (char.IsAsciiDigit(text[numberLength]) || text[numberLength] == '.'))
            {
                numberLength++;
            }

            if (numberLength == 0 || !double.TryParse(text[..numberLength], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return ParseResult<TimeSpan>.Fail($"expected a number in duration '{text}'");
            }

            text = text[numberLength..];
            var unitLength = 0;
            while (unitLength < text.Length && !char.IsAsciiDigit(text[unitLength]) && text[unitLength] != '.')
            {
                unitLength++;
            }

            double ticksPerUnit = text[..unitLength] switch
            {
                "ns" => TimeSpan.TicksPerMicrosecond / 1000.0,
                "us" or "µs" or "μs" => TimeSpan.TicksPerMicrosecond,
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                "" => -1,
                _ => -2,
            };
            if (ticksPerUnit < 0)
            {
                return ParseResult<TimeSpan>.Fail(ticksPerUnit == -1 ? "missing unit in duration" : $"unknown unit '{text[..unitLength]}' in duration");
            }

            totalTicks += number * ticksPerUnit;
            text = text[unitLength..];
        }

        if (totalTicks > TimeSpan.MaxValue.Ticks)
        {
            return ParseResult<TimeSpan>.Fail("duration out of range");
        }

        var ticks = (long)totalTicks;
        return ParseResult<TimeSpan>.Ok(TimeSpan.FromTicks(negative ? -ticks : ticks));
    }
}
