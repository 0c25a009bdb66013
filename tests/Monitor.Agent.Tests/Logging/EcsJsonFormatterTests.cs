using System.Text.Json;
using Monitor.Agent.Logging;
using Serilog.Events;
using Serilog.Parsing;

namespace Monitor.Agent.Tests.Logging;

public sealed class EcsJsonFormatterTests
{
    [Fact]
    public void Format_InformationEvent_WritesEcsFieldsOnOneLine()
    {
        var json = Format(Event(LogEventLevel.Information, "Listening on {Address} with {Count} collectors", null,
            ("Address", new ScalarValue("http://127.0.0.1:9420")),
            ("Count", new ScalarValue(7)),
            ("SourceContext", new ScalarValue("Monitor.Agent")),
            ("EventId", new StructureValue([new LogEventProperty("Id", new ScalarValue(1000)), new LogEventProperty("Name", new ScalarValue("listening"))]))));

        Assert.EndsWith("}\n", json, StringComparison.Ordinal);
        Assert.Single(json.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal("2026-11-22T10:00:00.0000000Z", root.GetProperty("@timestamp").GetString());
        Assert.Equal("info", root.GetProperty("log.level").GetString());
        Assert.Equal("Listening on http://127.0.0.1:9420 with 7 collectors", root.GetProperty("message").GetString());
        Assert.Equal(EcsJsonFormatter.EcsVersion, root.GetProperty("ecs.version").GetString());
        Assert.Equal("monitor-agent", root.GetProperty("service.name").GetString());
        Assert.Equal("1.2.3", root.GetProperty("service.version").GetString());
        Assert.Equal("node1", root.GetProperty("host.name").GetString());
        Assert.Equal("Monitor.Agent", root.GetProperty("log.logger").GetString());
        Assert.Equal("listening", root.GetProperty("event.action").GetString());
        Assert.Equal("http://127.0.0.1:9420", root.GetProperty("labels").GetProperty("Address").GetString());
        Assert.Equal("7", root.GetProperty("labels").GetProperty("Count").GetString());
        Assert.False(root.TryGetProperty("error.type", out _));
    }

    [Fact]
    public void Format_Exception_WritesErrorFields()
    {
        var json = Format(Event(LogEventLevel.Warning, "failed", new IOException("disk \"gone\"\nreally")));

        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal("warn", root.GetProperty("log.level").GetString());
        Assert.Equal("System.IO.IOException", root.GetProperty("error.type").GetString());
        Assert.Equal("disk \"gone\"\nreally", root.GetProperty("error.message").GetString());
        Assert.Contains("IOException", root.GetProperty("error.stack_trace").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Format_EventsInTurn_ReuseNothingOfThePreviousLine()
    {
        // The formatter keeps one buffer per thread: a large line (a 100 KB message, past the retained limit), then a
        // small one, then a non-ASCII one, each must come out whole and alone.
        var large = new string('x', 100_000);
        var first = Format(Event(LogEventLevel.Error, "{Text}", null, ("Text", new ScalarValue(large))));
        var second = Format(Event(LogEventLevel.Information, "small", null));
        var third = Format(Event(LogEventLevel.Information, "GPU {Name} ready", null, ("Name", new ScalarValue("H100 µ-☃"))));

        using (var document = JsonDocument.Parse(first))
        {
            Assert.Equal(large, document.RootElement.GetProperty("message").GetString());
        }

        Assert.Equal(
            "{\"@timestamp\":\"2026-11-22T10:00:00.0000000Z\",\"log.level\":\"info\",\"message\":\"small\",\"ecs.version\":\"8.11.0\","
            + "\"service.name\":\"monitor-agent\",\"service.version\":\"1.2.3\",\"host.name\":\"node1\"}\n",
            second);
        using (var document = JsonDocument.Parse(third))
        {
            Assert.Equal("GPU H100 µ-☃ ready", document.RootElement.GetProperty("message").GetString());
        }
    }

    private static LogEvent Event(LogEventLevel level, string template, Exception? exception, params (string Name, LogEventPropertyValue Value)[] properties) =>
        new(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero), level, exception, new MessageTemplateParser().Parse(template),
            properties.Select(p => new LogEventProperty(p.Name, p.Value)));

    private static string Format(LogEvent logEvent)
    {
        using var writer = new StringWriter();
        new EcsJsonFormatter("monitor-agent", "1.2.3", "node1").Format(logEvent, writer);
        return writer.ToString();
    }
}
