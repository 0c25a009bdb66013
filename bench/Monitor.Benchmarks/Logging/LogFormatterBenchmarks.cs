extern alias agent;

using agent::Monitor.Agent.Logging;
using BenchmarkDotNet.Attributes;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Parsing;

namespace Monitor.Benchmarks.Logging;

/// <summary>
/// One log line, as the console sink writes it with <c>--log.format=json</c>: our ECS formatter against
/// Serilog.Formatting.Compact 3.0.0's CLEF formatters (issue 19: could the package replace ours?). The event is the
/// agent's "listening" line with its two properties, its logger and its event id.
/// </summary>
[MemoryDiagnoser]
public class LogFormatterBenchmarks
{
    private static readonly LogEvent Listening = new(
        new DateTimeOffset(2026, 11, 22, 14, 32, 3, 131, TimeSpan.Zero),
        LogEventLevel.Information,
        null,
        new MessageTemplateParser().Parse("Listening on {Address} (monitor-agent {Version})"),
        [
            new LogEventProperty("Address", new ScalarValue("http://127.0.0.1:9420")),
            new LogEventProperty("Version", new ScalarValue("0.1.0")),
            new LogEventProperty("SourceContext", new ScalarValue("Monitor.Agent")),
            new LogEventProperty("EventId", new StructureValue([new LogEventProperty("Id", new ScalarValue(1000)), new LogEventProperty("Name", new ScalarValue("Listening"))])),
        ]);

    private readonly StringWriter _output = new();
    private readonly ITextFormatter _ecs = new EcsJsonFormatter("monitor-agent", "0.1.0", "node1");
    private readonly ITextFormatter _compact = new CompactJsonFormatter();
    private readonly ITextFormatter _renderedCompact = new RenderedCompactJsonFormatter();

    [Benchmark(Baseline = true)]
    public int Ecs() => Format(_ecs);

    [Benchmark]
    public int Compact() => Format(_compact);

    [Benchmark]
    public int RenderedCompact() => Format(_renderedCompact);

    private int Format(ITextFormatter formatter)
    {
        var builder = _output.GetStringBuilder();
        builder.Clear();
        formatter.Format(Listening, _output);
        return builder.Length;
    }
}
