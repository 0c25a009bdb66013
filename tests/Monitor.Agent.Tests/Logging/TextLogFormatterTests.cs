using Monitor.Agent.Logging;
using Serilog.Events;
using Serilog.Parsing;

namespace Monitor.Agent.Tests.Logging;

public sealed class TextLogFormatterTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 3, 9, 36, 44, 761, TimeSpan.Zero);

    [Fact]
    public void Format_PlainEvent_OneLineInTheUsualShape()
    {
        var line = Format(Event("Listening on {Address} ({Count} GPUs)", ("Address", "http://127.0.0.1:9420"), ("Count", 8)));

        Assert.Equal("2026-12-03T09:36:44.761+00:00 INFO Monitor.Agent: Listening on http://127.0.0.1:9420 (8 GPUs)\n", line);
    }

    [Fact]
    public void Format_ValueWithNewlinesAndEscapes_StaysOnOneLine()
    {
        // A hostile file's content: a forged record after a newline, and a terminal escape.
        var hostile = "bad\n2026-12-03T00:00:00.000+00:00 EROR Forged: you were hacked\r\t\u001b[2J\u0085\u2028end";
        var line = Format(Event("Collector {Collector} failed: {Reason}", ("Collector", "loadavg"), ("Reason", hostile)));

        Assert.Equal(
            "2026-12-03T09:36:44.761+00:00 INFO Monitor.Agent: Collector loadavg failed: bad\\n2026-12-03T00:00:00.000+00:00 EROR Forged: you were hacked\\r\\t\\x1b[2J\\x85\\u2028end\n",
            line);
        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Format_ExceptionMessageWithNewline_EscapedAndStackKept()
    {
        Exception exception;
        try
        {
            throw new IOException("cannot read 'x\nFAKE LINE'");
        }
        catch (IOException e)
        {
            exception = e;
        }

        var logEvent = new LogEvent(At, LogEventLevel.Error, exception, new MessageTemplateParser().Parse("Failed"), []);
        var text = Format(logEvent);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("2026-12-03T09:36:44.761+00:00 EROR Failed", lines[0]);
        Assert.Equal("System.IO.IOException: cannot read 'x\\nFAKE LINE'", lines[1]);
        Assert.All(lines.Skip(2), l => Assert.StartsWith("   at ", l, StringComparison.Ordinal));
    }

    [Fact]
    public void Format_NumbersAndFormats_Invariant()
    {
        var line = Format(Event("took {Seconds:F2} s, {Ratio}", ("Seconds", 1.23456), ("Ratio", 0.5)));

        Assert.EndsWith("took 1.23 s, 0.5\n", line, StringComparison.Ordinal);
    }

    private static LogEvent Event(string template, params (string Name, object Value)[] properties) =>
        new(
            At,
            LogEventLevel.Information,
            null,
            new MessageTemplateParser().Parse(template),
            [new LogEventProperty("SourceContext", new ScalarValue("Monitor.Agent")), .. properties.Select(p => new LogEventProperty(p.Name, new ScalarValue(p.Value)))]);

    private static string Format(LogEvent logEvent)
    {
        using var output = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        new TextLogFormatter().Format(logEvent, output);
        return output.ToString();
    }
}
