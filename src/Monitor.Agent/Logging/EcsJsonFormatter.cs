using System.Buffers;
using System.Globalization;
using System.Text;
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

    /// <summary>The largest per-thread buffer kept between events.</summary>
    private const int RetainedBufferLimit = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_bytes;

    [ThreadStatic]
    private static Utf8JsonWriter? t_json;

    private readonly string _service;
    private readonly string _version;
    private readonly string _host;
    private readonly string? _dataset;

    /// <summary>Creates the formatter.</summary>
    /// <param name="service">ECS <c>service.name</c>.</param>
    /// <param name="version">ECS <c>service.version</c>.</param>
    /// <param name="host">ECS <c>host.name</c>.</param>
    /// <param name="dataset">
    /// ECS <c>event.dataset</c> (the data stream's dataset). When set, documents also carry <c>event.*</c> and the typed
    /// node-event objects; the console keeps the shorter shape without it.
    /// </param>
    public EcsJsonFormatter(string service, string version, string host, string? dataset = null)
    {
        _service = service;
        _version = version;
        _host = host;
        _dataset = dataset;
    }

    public void Format(LogEvent logEvent, TextWriter output)
    {
        // One buffer and one writer per thread, reset for each event: a fresh Utf8JsonWriter grows its buffer by 4 KiB
        // at once, which made every line cost ~7 KB of garbage (docs/dependencies.md, "ECS JSON log formatter").
        var bytes = t_bytes ??= new ArrayBufferWriter<byte>(1024);
        bytes.ResetWrittenCount();
        var json = t_json ??= new Utf8JsonWriter(bytes, WriterOptions);
        json.Reset(bytes);
        Write(json, logEvent);
        json.Flush();

        var written = bytes.WrittenSpan;
        var chars = ArrayPool<char>.Shared.Rent(Encoding.UTF8.GetMaxCharCount(written.Length) + 1);
        try
        {
            var count = Encoding.UTF8.GetChars(written, chars);
            chars[count++] = '\n';
            output.Write(chars, 0, count);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
            if (bytes.Capacity > RetainedBufferLimit)
            {
                // A rare large event (a long stack trace) does not pin its buffer to the thread for good.
                t_bytes = null;
                t_json = null;
            }
        }
    }

    /// <summary>Options for writers that feed <see cref="Write"/>: relaxed escaping, as Kibana shows the text verbatim.</summary>
    internal static JsonWriterOptions JsonOptions => WriterOptions;

    /// <summary>
    /// Writes one ECS document for <paramref name="logEvent"/>. Our own node events (see docs/events.md) also get
    /// <c>event.*</c> and typed <c>gpu.*</c>, <c>infiniband.*</c> or <c>job.*</c> objects; every other scalar property
    /// goes to <c>labels.*</c> as text, so a property never changes type under a fixed mapping.
    /// </summary>
    public void Write(Utf8JsonWriter json, LogEvent logEvent)
    {
        json.WriteStartObject();
        Span<char> timestamp = stackalloc char[28];
        logEvent.Timestamp.UtcDateTime.TryFormat(timestamp, out var length, "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
        json.WriteString("@timestamp", timestamp[..length]);
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

        var eventId = -1;
        if (logEvent.Properties.TryGetValue("EventId", out var eventIdValue) && eventIdValue is StructureValue structure)
        {
            foreach (var property in structure.Properties)
            {
                if (property.Name == "Name" && property.Value is ScalarValue { Value: string name })
                {
                    json.WriteString("event.action", name);
                }
                else if (property.Name == "Id" && property.Value is ScalarValue { Value: int id })
                {
                    eventId = id;
                }
            }
        }

        var node = EcsEvents.Classify(eventId, logEvent);
        if (_dataset is not null)
        {
            json.WriteString("event.dataset", _dataset);
            json.WriteString("event.kind", node.Kind);
            json.WriteStartArray("event.category");
            json.WriteStringValue(node.Category);
            json.WriteEndArray();
            json.WriteStartArray("event.type");
            json.WriteStringValue(node.Type);
            if (node.Type2 is not null)
            {
                json.WriteStringValue(node.Type2);
            }

            json.WriteEndArray();
            json.WriteNumber("event.severity", (int)logEvent.Level);
            if (eventId >= 0)
            {
                json.WriteString("event.code", node.Code ?? eventId.ToString(CultureInfo.InvariantCulture));
            }

            if (node.Outcome is not null)
            {
                json.WriteString("event.outcome", node.Outcome);
            }
        }

        if (logEvent.Exception is { } exception)
        {
            json.WriteString("error.type", exception.GetType().FullName);
            json.WriteString("error.message", exception.Message);
            json.WriteString("error.stack_trace", exception.ToString());
        }

        if (_dataset is not null && node.Namespace is not null)
        {
            EcsEvents.WriteTyped(json, node.Namespace, logEvent);
        }

        var wroteLabels = false;
        foreach (var (name, value) in logEvent.Properties)
        {
            if (name is "SourceContext" or "EventId" || value is not ScalarValue { Value: not null } scalar
                || (_dataset is not null && node.Namespace is not null))
            {
                continue;
            }

            if (!wroteLabels)
            {
                json.WriteStartObject("labels");
                wroteLabels = true;
            }

            json.WriteString(EcsEvents.LabelKey(name), scalar.Value is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : scalar.Value.ToString());
        }

        if (wroteLabels)
        {
            json.WriteEndObject();
        }

        json.WriteEndObject();
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

    internal static string Level(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "trace",
        LogEventLevel.Debug => "debug",
        LogEventLevel.Information => "info",
        LogEventLevel.Warning => "warn",
        LogEventLevel.Error => "error",
        _ => "fatal",
    };
}
