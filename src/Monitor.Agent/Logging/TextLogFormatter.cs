using System.Globalization;
using Serilog.Events;
using Serilog.Formatting;

namespace Monitor.Agent.Logging;

/// <summary>
/// The text log line: <c>2026-12-03T09:36:44.761+00:00 INFO Source: message</c>, one event per line. Values that came
/// from outside (file contents, device names, exception messages) have their control characters escaped
/// (<c>\n</c>, <c>\x1b</c>), so a hostile file can neither split one record over several lines nor forge a record of
/// its own, nor send terminal escapes to whoever reads the log.
/// </summary>
/// <remarks>
/// Strings render without quotes (Serilog's <c>:l</c>), other values as Serilog renders them. The stack trace of an
/// exception is kept as it is: its lines come from our code, and they are indented under the record they belong to.
/// </remarks>
internal sealed class TextLogFormatter : ITextFormatter
{
    public void Format(LogEvent logEvent, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        ArgumentNullException.ThrowIfNull(output);
        output.Write(logEvent.Timestamp.ToString("yyyy-MM-ddTHH:mm:ss.fffzzz", CultureInfo.InvariantCulture));
        output.Write(' ');
        output.Write(Level(logEvent.Level));
        output.Write(' ');
        if (logEvent.Properties.TryGetValue("SourceContext", out var source))
        {
            WriteValue(source, null, output);
            output.Write(": ");
        }

        foreach (var token in logEvent.MessageTemplate.Tokens)
        {
            if (token is Serilog.Parsing.PropertyToken property)
            {
                if (logEvent.Properties.TryGetValue(property.PropertyName, out var value))
                {
                    WriteValue(value, property.Format, output);
                }
                else
                {
                    WriteEscaped(property.ToString(), output);
                }
            }
            else if (token is Serilog.Parsing.TextToken text)
            {
                output.Write(text.Text);
            }
        }

        output.Write('\n');
        if (logEvent.Exception is { } exception)
        {
            WriteException(exception, output);
        }
    }

    /// <summary>Writes <paramref name="text"/> with control characters (C0, DEL, C1, line and paragraph separators) escaped.</summary>
    internal static void WriteEscaped(string text, TextWriter output)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!IsControl(c))
            {
                continue;
            }

            output.Write(text.AsSpan(start, i - start));
            output.Write(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when c < 0x100 => string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
            });
            start = i + 1;
        }

        output.Write(text.AsSpan(start));
    }

    private static bool IsControl(char c) => c < 0x20 || c is >= '\u007f' and <= '\u009f' || c is '\u2028' or '\u2029';

    private static void WriteValue(LogEventPropertyValue value, string? format, TextWriter output)
    {
        if (value is ScalarValue { Value: string text })
        {
            WriteEscaped(text, output);
            return;
        }

        using var rendered = new StringWriter(CultureInfo.InvariantCulture);
        value.Render(rendered, format, CultureInfo.InvariantCulture);
        WriteEscaped(rendered.ToString(), output);
    }

    private static void WriteException(Exception exception, TextWriter output)
    {
        // "Type: message" on one line (the message may hold file content), then the stack and inner exceptions.
        output.Write(exception.GetType().FullName);
        output.Write(": ");
        WriteEscaped(exception.Message, output);
        output.Write('\n');
        if (exception.StackTrace is { } stack)
        {
            output.Write(stack);
            output.Write('\n');
        }

        if (exception.InnerException is { } inner)
        {
            output.Write(" ---> ");
            WriteException(inner, output);
        }
    }

    private static string Level(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "VERB",
        LogEventLevel.Debug => "DBUG",
        LogEventLevel.Information => "INFO",
        LogEventLevel.Warning => "WARN",
        LogEventLevel.Error => "EROR",
        _ => "FATL",
    };
}
