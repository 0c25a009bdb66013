using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.ThermalZone;

/// <summary>Parses the integer attributes of <c>/sys/class/thermal</c> (procfs' <c>class_thermal.go</c>).</summary>
internal static class ThermalZoneParser
{
    /// <summary>
    /// Parses a signed integer attribute: a zone's <c>temp</c> in millidegrees Celsius (negative below zero), or a
    /// cooling device's <c>cur_state</c> / <c>max_state</c> (<c>cur_state</c> is -1 for intel_powerclamp when idle).
    /// </summary>
    public static ParseResult<long> ParseInteger(ReadOnlySpan<char> text)
    {
        text = text.Trim();
        if (text.IsEmpty)
        {
            return ParseResult<long>.Fail("empty value");
        }

        return Numbers.TryParseInt64(text, out var value)
            ? ParseResult<long>.Ok(value)
            : ParseResult<long>.Fail($"not a 64-bit integer: '{text}'");
    }

    /// <summary>node_exporter's zone temperature: millidegrees ÷ 1000.0.</summary>
    public static double ToCelsius(long millidegrees) => millidegrees / 1000.0;
}
