using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.MemInfo;

/// <summary>One <c>/proc/meminfo</c> line.</summary>
/// <param name="Name">Where the field name (without the colon, e.g. <c>Active(anon)</c>) lies in the parsed text.</param>
/// <param name="Value">The number as written.</param>
/// <param name="InKibibytes">True when the line has the <c>kB</c> unit (which means KiB); false for counts such as <c>HugePages_Total</c>.</param>
internal readonly record struct MemInfoField(Range Name, ulong Value, bool InKibibytes);

/// <summary>
/// Parses <c>/proc/meminfo</c> (<c>MemTotal:       16318948 kB</c>). Fields are returned in file order with their
/// names as ranges into the input, so parsing allocates nothing once the caller's list has grown.
/// </summary>
/// <remarks>
/// Blank lines are skipped, as node_exporter does (some CentOS 6 kernels print them). The only unit the kernel
/// writes is <c>kB</c>; any other unit is reported as malformed instead of being guessed at.
/// </remarks>
internal static class MemInfoParser
{
    /// <summary>Clears <paramref name="fields"/> and fills it from <paramref name="text"/>; never throws. The value is the field count.</summary>
    public static ParseResult<int> Parse(ReadOnlySpan<char> text, List<MemInfoField> fields)
    {
        fields.Clear();
        var lineStart = 0;
        var lines = new LineReader(text);
        var lineNumber = 0;
        while (lines.TryNext(out var line))
        {
            lineNumber++;
            var offset = lineStart;
            lineStart += line.Length + 1;

            var reader = new FieldReader(line);
            if (!reader.TryNext(out var key))
            {
                continue;
            }

            // The reader's rest starts right after the key, which locates the key in the whole text.
            var nameStart = offset + line.Length - reader.Rest.Length - key.Length;
            if (key.Length < 2 || key[^1] != ':')
            {
                return ParseResult<int>.Fail($"line {lineNumber}: expected '<name>:', found '{key}'");
            }

            if (!reader.TryNext(out var number))
            {
                return ParseResult<int>.Fail($"line {lineNumber} ({key}): no value");
            }

            if (!Numbers.TryParseUInt64(number, out var value))
            {
                return ParseResult<int>.Fail($"line {lineNumber} ({key}): value is not an unsigned 64-bit integer: '{number}'");
            }

            var inKibibytes = false;
            if (reader.TryNext(out var unit))
            {
                if (!unit.SequenceEqual("kB"))
                {
                    return ParseResult<int>.Fail($"line {lineNumber} ({key}): unknown unit '{unit}'");
                }

                inKibibytes = true;
            }

            if (reader.TryNext(out var extra))
            {
                return ParseResult<int>.Fail($"line {lineNumber} ({key}): unexpected text '{extra}'");
            }

            fields.Add(new MemInfoField(new Range(nameStart, nameStart + key.Length - 1), value, inKibibytes));
        }

        return fields.Count == 0 ? ParseResult<int>.Fail("no fields") : ParseResult<int>.Ok(fields.Count);
    }

    /// <summary>
    /// The metric name node_exporter gives a field: <c>node_memory_</c>, the field name with a parenthesised part
    /// turned into an underscore suffix (<c>Active(anon)</c> → <c>Active_anon</c>, its regexp <c>\((.*)\)</c>), and
    /// <c>_bytes</c> when the line has a unit.
    /// </summary>
    public static string MetricName(ReadOnlySpan<char> field, bool inKibibytes)
    {
        var open = field.IndexOf('(');
        var close = field.LastIndexOf(')');
        var name = open >= 0 && close > open
            ? string.Concat(field[..open], "_", field[(open + 1)..close], field[(close + 1)..])
            : field.ToString();
        return inKibibytes ? $"node_memory_{name}_bytes" : $"node_memory_{name}";
    }
}
