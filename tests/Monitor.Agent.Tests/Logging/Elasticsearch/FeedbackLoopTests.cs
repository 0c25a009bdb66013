using System.Text.Json;
using Monitor.Agent.Logging.Elasticsearch;
using Monitor.Testing;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace Monitor.Agent.Tests.Logging.Elasticsearch;

/// <summary>
/// The shipper's own events never reach the shipping path, so an Elasticsearch that rejects everything cannot keep
/// it busy (issue 22: each rejection used to log event 1304, which was shipped, rejected and logged again).
/// </summary>
public sealed class FeedbackLoopTests : IDisposable
{
    private readonly string _spool = Path.Join(Path.GetTempPath(), "es-loop-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    [Fact]
    public async Task Sink_ElasticsearchRejectsEveryDocument_OnlyTheUsersEventsAreEverSentAndDeadLettered()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.RejectEveryDocument = true;
        var options = new ElasticsearchOptions { Urls = [es.Url], SpoolPath = _spool, ShutdownTimeout = TimeSpan.FromSeconds(10) };
        var sink = new ElasticsearchSink(options, "monitor-agent", "1.0", "node1", TimeProvider.System, new Random(1), (_, ct) => Task.Delay(10, ct));
        var console = new CollectingSink();
        // Wired as in the agent: the shipper logs through the same Serilog pipeline that feeds the sink.
        using var serilog = new LoggerConfiguration().WriteTo.Sink(sink).WriteTo.Sink(console).CreateLogger();
        using var factory = new SerilogLoggerFactory(serilog);
        sink.SetLogger(factory.CreateLogger(ShipperLog.Category));
        var logger = factory.CreateLogger("Monitor.Agent.Tests");
        for (var i = 0; i < 10; i++)
        {
#pragma warning disable CA1848 // A test's own events.
            Microsoft.Extensions.Logging.LoggerExtensions.LogInformation(logger, "event {N}", i);
#pragma warning restore CA1848
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (sink.Metrics.DeadLettered < 10)
        {
            Assert.True(DateTime.UtcNow < deadline, "the ten events were not dead-lettered within 60 s");
            await Task.Delay(10);
        }

        // The drain ships whatever is left: with a feedback loop the shipper's own 1304 events would be in it.
        await sink.DisposeAsync();

        var dead = File.ReadAllLines(sink.Shipper.DeadLetterPath).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(10, dead.Count);
        Assert.All(dead, d => Assert.Equal("Monitor.Agent.Tests", d.GetProperty("document").GetProperty("log.logger").GetString()));
        Assert.Equal(10, sink.Metrics.DeadLettered);
        Assert.Equal(10, es.Requests.Sum(r => r.Count));
        // The console still has the shipper's summary, one line per rejected batch.
        var summaries = console.Events.Where(e => e.Properties.TryGetValue("EventId", out var id) && id.ToString().Contains("1304", StringComparison.Ordinal)).ToList();
        Assert.InRange(summaries.Count, 1, es.Requests.Count);
        Assert.Equal(10, summaries.Sum(e => (int)((ScalarValue)e.Properties["Count"]).Value!));
    }

    private sealed class CollectingSink : ILogEventSink
    {
        private readonly List<LogEvent> _events = [];

        public IReadOnlyList<LogEvent> Events
        {
            get
            {
                lock (_events)
                {
                    return [.. _events];
                }
            }
        }

        public void Emit(LogEvent logEvent)
        {
            lock (_events)
            {
                _events.Add(logEvent);
            }
        }
    }
}
