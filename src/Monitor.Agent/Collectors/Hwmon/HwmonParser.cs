using System.Globalization;
using System.Text.RegularExpressions;
using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.Hwmon;

/// <summary>A hwmon attribute file name split as node_exporter splits it: <c>temp1_input</c> → temp, 1, input.</summary>
/// <param name="Type">The sensor type (<c>temp</c>, <c>fan</c>, <c>in</c>, <c>beep_enable</c>, ...).</param>
/// <param name="Number">The sensor number; 0 when the name has none.</param>
/// <param name="Property">The part after the first underscore following the number; empty for the bare value.</param>
internal readonly record struct SensorFileName(string Type, int Number, string Property)
{
    /// <summary>The <c>sensor</c> label: type and number, e.g. <c>temp1</c> or <c>beep_enable0</c>.</summary>
    public string Sensor => Type + Number.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Pure parsing of hwmon names and values, following node_exporter 1.5.0's hwmon_linux.go.</summary>
internal static partial class HwmonParser
{
    /// <summary>Sensor types node_exporter reads (<c>hwmonSensorTypes</c>); other files are ignored.</summary>
    public static IReadOnlySet<string> SensorTypes { get; } = new HashSet<string>(
        ["vrm", "beep_enable", "update_interval", "in", "cpu", "fan", "pwm", "temp", "curr", "power", "energy", "humidity", "intrusion"],
        StringComparer.Ordinal);

    /// <summary>
    /// Splits a file name with node_exporter's <c>^(?P&lt;type&gt;[^0-9]+)(?P&lt;id&gt;[0-9]*)?(_(?P&lt;property&gt;.+))?$</c>.
    /// The regex is kept rather than hand-written because its backtracking decides odd names (<c>beep_enable</c> is
    /// all type, <c>temp_x1</c> is type <c>temp</c> with property <c>x1</c>), and names are only split when the
    /// collector (re)builds its plan, not on every update.
    /// </summary>
    public static ParseResult<SensorFileName> ParseSensorFileName(string fileName)
    {
        var match = FileNameFormat().Match(fileName);
        if (!match.Success)
        {
            return ParseResult<SensorFileName>.Fail($"'{fileName}' is not <type><number>_<property>");
        }

        var number = 0;
        var id = match.Groups["id"].ValueSpan;
        if (!id.IsEmpty && !int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out number))
        {
            return ParseResult<SensorFileName>.Fail($"sensor number in '{fileName}' is out of range");
        }

        return ParseResult<SensorFileName>.Ok(new SensorFileName(match.Groups["type"].Value, number, match.Groups["property"].Value));
    }

    /// <summary>Parses an attribute value (Go's <c>strconv.ParseFloat</c> on the trimmed text).</summary>
    public static ParseResult<double> ParseValue(ReadOnlySpan<char> text)
    {
        text = text.TrimEnd('\n');
        return Numbers.TryParseDouble(text, out var value)
            ? ParseResult<double>.Ok(value)
            : ParseResult<double>.Fail($"not a number: '{text}'");
    }

    /// <summary>
    /// node_exporter's <c>cleanMetricName</c>: lower case, every character outside <c>[a-z0-9:_]</c> replaced by
    /// <c>_</c>, underscores trimmed from both ends (<c>coretemp.0</c> → <c>coretemp_0</c>).
    /// </summary>
    public static string CleanName(ReadOnlySpan<char> name)
    {
        Span<char> buffer = name.Length <= 256 ? stackalloc char[name.Length] : new char[name.Length];
        for (var i = 0; i < name.Length; i++)
        {
            var c = char.ToLowerInvariant(name[i]);
            buffer[i] = c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or ':' or '_' ? c : '_';
        }

        return buffer.Trim('_').ToString();
    }

    [GeneratedRegex("^(?<type>[^0-9]+)(?<id>[0-9]*)?(_(?<property>.+))?$", RegexOptions.CultureInvariant | RegexOptions.Singleline)]
    private static partial Regex FileNameFormat();
}
