using System.Buffers;
using System.Text;

namespace Monitor.Core.Exposition;

/// <summary>Escaping rules of the two text formats, applied once when a family or series is created.</summary>
public static class TextEscaping
{
    /// <summary>Label values: backslash, double quote and line feed are escaped in both formats.</summary>
    public static void AppendLabelValue(StringBuilder sb, string value)
    {
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => sb.Append(@"\\"),
                '"' => sb.Append("\\\""),
                '\n' => sb.Append(@"\n"),
                _ => sb.Append(c),
            };
        }
    }

    /// <summary>HELP text: 0.0.4 escapes backslash and line feed; OpenMetrics also escapes the double quote.</summary>
    public static void AppendHelp(StringBuilder sb, string help, ExpositionFormat format)
    {
        foreach (var c in help)
        {
            _ = c switch
            {
                '\\' => sb.Append(@"\\"),
                '\n' => sb.Append(@"\n"),
                '"' when format == ExpositionFormat.OpenMetrics100 => sb.Append("\\\""),
                _ => sb.Append(c),
            };
        }
    }

    internal static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> bytes)
    {
        var span = writer.GetSpan(bytes.Length);
        bytes.CopyTo(span);
        writer.Advance(bytes.Length);
    }
}
