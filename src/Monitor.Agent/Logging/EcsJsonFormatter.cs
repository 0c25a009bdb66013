using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Parsing;

namespace Monitor.Agent.Logging;

/// <summary>
/// Writes each Serilog event as one line of Elastic Common Schema JSON (<c>@timestamp</c>, <c>log.level</c>,
/// <c>message</c>, <c>ecs.version</c>, <c>service.*</c>, <c>host.name</c>, <c>log.logger</c>, <c>event.action</c>,
/// <c>error.*</c>, <c>labels.*</c>), the shape Filebeat and Kibana understand without mapping work. Written by hand
/// because Serilog's ECS formatter packages do not restore here (docs/dependencies.md).
/// </summary>
internal sealed class EcsJsonFormatter : ITextFormatter
{
    /// <summary>The ECS version the documents follow.</summary>
    public const string EcsVersion = "8.11.0";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly string _service;
    private readonly string _version;
    private readonly string _host;

    public EcsJsonFormatter(string service, string version, string host)
    {
        _service = service;
        _version = version;
        _host = host;
    }

    public void Format(LogEvent logEvent, TextWriter output)
    {
        using var stream = new MemoryStream(512);
        using (var json = new Utf8JsonWriter(stream, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("@timestamp", logEvent.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
            json.WriteString("log.level", Level(logEvent.Level));
            json.WriteString("message", RenderMessage(logEvent));
            json.WriteString("ecs.version", EcsVersion);
            json.WriteString("service.name", _service);
            json.WriteString("service.version", _version);
            json.WriteString("host.name", _host);
            if (logEvent.Properties.TryGetValue("SourceContext", out var source) && source is ScalarValue { Value: string logger })
            {
                json.WriteString("log.logger", logger);
            }

            if (logEvent.Properties.TryGetValue("EventId", out var eventId) && eventId is StructureValue structure)
            {
                foreach (var property in structure.Properties)
                {
                    if (property.Name == "Name" && property.Value is ScalarValue { Value: string name })
                    {
                        json.WriteString("event.action", name);
                    }
                }
            }

            if (logEvent.Exception is { } exception)
            {
                json.WriteString("error.type", exception.GetType().FullName);
                json.WriteString("error.message", exception.Message);
                json.WriteString("error.stack_trace", exception.ToString());
            }

            var wroteLabels = false;
            foreach (var (name, value) in logEvent.Properties)
            {
                if (name is "SourceContext" or "EventId" || value is not ScalarValue { Value: not null } scalar)
                {
                    continue;
                }

                if (!wroteLabels)
                {
                    json.WriteStartObject("labels");
                    wroteLabels = true;
                }

                json.WriteString(name, scalar.Value is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : scalar.Value.ToString());
            }

            if (wroteLabels)
            {
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        output.Write(System.Text.Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length));
        output.Write('\n');
    }

    /// <summary>Renders the message with string values unquoted (Serilog's default quotes them), as <c>{Message:l}</c> does.</summary>
    internal static string RenderMessage(LogEvent logEvent)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        foreach (var token in logEvent.MessageTemplate.Tokens)
        {
            if (token is PropertyToken property && logEvent.Properties.TryGetValue(property.PropertyName, out var value) && value is ScalarValue { Value: string text })
            {
                writer.Write(text);
            }
            else
            {
                token.Render(logEvent.Properties, writer, CultureInfo.InvariantCulture);
            }
        }

        return writer.ToString();
    }

    private static string Level(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "trace",
        LogEventLevel.Debug => "debug",
        LogEventLevel.Information => "info",
        LogEventLevel.Warning => "warn",
        LogEventLevel.Error => "error",
        _ => "fatal",
    };
}
