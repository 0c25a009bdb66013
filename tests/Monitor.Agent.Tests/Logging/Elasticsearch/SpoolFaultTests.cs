using System.Text.Json;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging.Elasticsearch;
using Monitor.Agent.Tests.Support;
using Monitor.Testing;
using Serilog;

namespace Monitor.Agent.Tests.Logging.Elasticsearch;

/// <summary>
/// The sink against a disk that refuses operations (the spool's fault-injection seam throws what the kernel would:
/// ENOSPC, EIO, EROFS). Every failure is counted and logged once, events wait in memory bounded in bytes, nothing
/// throws out of a loop or out of shutdown, and what the disk refused is shipped from memory.
/// </summary>
public sealed class SpoolFaultTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly string _spool = Path.Join(Path.GetTempPath(), "es-fault-" + Guid.NewGuid().ToString("N"));
    private readonly CollectingLoggerFactory _log = new();

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    [Fact]
    public async Task Sink_DiskFullAndElasticsearchDown_EventsWaitInMemoryAndArriveOnceWhenBothReturn()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Available = false;
        var full = true;
        var sink = Sink(es);
        sink.Spool.FaultInjection = op =>
        {
            if (Volatile.Read(ref full) && op is SpoolOperation.Write or SpoolOperation.Create)
            {
                throw new IOException("No space left on device", 28);
            }
        };
        await using (sink)
        {
            using var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
            for (var i = 0; i < 100; i++)
            {
                logger.Information("event {N}", i);
            }

            await WaitAsync(() => sink.Pending.Count == 100 && !sink.Metrics.SpoolWritable);
            Assert.True(sink.Metrics.SpoolErrors(SpoolOperation.Write) >= 1);
            Assert.True(sink.Metrics.MemoryQueueBytes > 100 * 100);
            for (var i = 100; i < 150; i++)
            {
                logger.Information("event {N}", i);
            }

            await WaitAsync(() => sink.Pending.Count == 150);
            Volatile.Write(ref full, false);
            es.Available = true;
            await es.WaitForDocumentsAsync(150, Deadline);
            // Even when the shipper emptied the memory queue itself, the writer finds out the disk is back.
            await WaitAsync(() => sink.Metrics.SpoolWritable);
            logger.Information("event {N}", 150);
            await es.WaitForDocumentsAsync(151, Deadline);
        }

        Assert.Equal(Enumerable.Range(0, 151).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order(), Numbers(es).Order());
        Assert.Equal(151, es.Documents.Count);
        Assert.Equal(0, sink.Metrics.Dropped);
        var failed = Assert.Single(_log.Structured, e => e.Id.Id == 1306);
        Assert.Equal("write", failed.Fields["Operation"]);
        Assert.Equal("No space left on device", failed.Fields["Error"]);
        Assert.StartsWith(_spool, (string)failed.Fields["Path"]!, StringComparison.Ordinal);
        Assert.Equal("write", Assert.Single(_log.Structured, e => e.Id.Id == 1307).Fields["Operation"]);
    }

    [Fact]
    public async Task Sink_SpoolReadOnlyButElasticsearchUp_ShipsStraightFromMemory()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        var sink = Sink(es);
        sink.Spool.FaultInjection = op =>
        {
            if (op is SpoolOperation.Write or SpoolOperation.Create or SpoolOperation.Cursor or SpoolOperation.Sync)
            {
                throw new IOException("Read-only file system", 30);
            }
        };
        await using (sink)
        {
            using var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
            for (var i = 0; i < 300; i++)
            {
                logger.Information("event {N}", i);
            }

            await es.WaitForDocumentsAsync(300, Deadline);
            await WaitAsync(() => sink.Pending.Count == 0);
        }

        Assert.Equal(300, Numbers(es).Distinct().Count());
        Assert.Equal(300, sink.Metrics.Shipped);
        Assert.Equal(0, sink.Metrics.SpoolBytes);
        Assert.Equal(0, sink.Metrics.Dropped);
        Assert.Single(_log.Structured, e => e.Id.Id == 1306 && (string?)e.Fields["Operation"] == "write");
    }

    [Fact]
    public async Task Sink_MemoryQueueFull_DropsTheOldestCountsThemAndShipsTheNewest()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Available = false;
        var full = true;
        var sink = Sink(es, memory: 64 << 10);
        sink.Spool.FaultInjection = op =>
        {
            if (Volatile.Read(ref full) && op is SpoolOperation.Write or SpoolOperation.Create)
            {
                throw new IOException("No space left on device", 28);
            }
        };
        int kept;
        await using (sink)
        {
            using var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
            var padding = new string('p', 600);
            for (var i = 0; i < 500; i++)
            {
                logger.Information("event {N} {Padding}", i, padding);
            }

            await WaitAsync(() => sink.Pending.Count + sink.Metrics.DroppedSpoolUnwritable == 500);
            kept = sink.Pending.Count;
            Assert.InRange(sink.Pending.Bytes, 1, 64 << 10);
            Assert.InRange(kept, 10, 200);
            Volatile.Write(ref full, false);
            es.Available = true;
            await es.WaitForDocumentsAsync(kept, Deadline);
        }

        Assert.Equal(500 - kept, sink.Metrics.DroppedSpoolUnwritable);
        // Oldest first: what arrives is exactly the newest events.
        Assert.Equal(Enumerable.Range(500 - kept, kept).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order(), Numbers(es).Order());
        Assert.Single(_log.Structured, e => e.Id.Id == 1308);
    }

    [Theory]
    [InlineData("Write")]
    [InlineData("Create")]
    [InlineData("Sync")]
    [InlineData("Cursor")]
    [InlineData("Delete")]
    [InlineData("Read")]
    public async Task Sink_OperationFailsThenWorks_CountedLoggedOnceRecoveredOnceAndNothingLost(string name)
    {
        var operation = Enum.Parse<SpoolOperation>(name);
        await using var es = await FakeElasticsearch.StartAsync();
        var failing = true;
        // Small segments, so segments are created and deleted while the test runs.
        var sink = Sink(es, segmentBytes: 4096);
        sink.Spool.FaultInjection = op =>
        {
            if (op == operation && Volatile.Read(ref failing))
            {
                throw new IOException("Input/output error", 5);
            }
        };
        var logged = 0;
        await using (sink)
        {
            using var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
            async Task LogUntilAsync(Func<bool> condition)
            {
                var deadline = DateTime.UtcNow + Deadline;
                while (!condition())
                {
                    Assert.True(DateTime.UtcNow < deadline, $"condition not met within {Deadline}");
                    logger.Information("event {N} {Padding}", logged++, new string('p', 300));
                    await Task.Delay(20);
                }
            }

            await LogUntilAsync(() => sink.Metrics.SpoolErrors(operation) >= 3);
            Volatile.Write(ref failing, false);
            await LogUntilAsync(() => _log.Structured.Any(e => e.Id.Id == 1307));
            await es.WaitForDocumentsAsync(logged, Deadline);
        }

        Assert.Equal(logged, Numbers(es).Distinct().Count());
        Assert.Equal(logged, es.Documents.Count);
        Assert.Equal(0, sink.Metrics.Dropped);
        var failed = Assert.Single(_log.Structured, e => e.Id.Id == 1306);
        Assert.Equal(SpoolHealth.Name(operation), failed.Fields["Operation"]);
        Assert.Equal("Input/output error", failed.Fields["Error"]);
        Assert.Equal(SpoolHealth.Name(operation), Assert.Single(_log.Structured, e => e.Id.Id == 1307).Fields["Operation"]);
        Assert.Equal(LogLevel.Error, failed.Level);
    }

    [Fact]
    public async Task Dispose_DiskRefusesEverythingAndElasticsearchDown_NeverThrowsAndCountsWhatIsLost()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Available = false;
        var sink = Sink(es, shutdown: TimeSpan.FromMilliseconds(500));
        sink.Spool.FaultInjection = _ => throw new IOException("No space left on device", 28);
        using (var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger())
        {
            for (var i = 0; i < 100; i++)
            {
                logger.Information("event {N}", i);
            }
        }

        await sink.DisposeAsync();

        Assert.Equal(100, sink.Metrics.DroppedSpoolUnwritable);
        Assert.Equal(100, Assert.Single(_log.Structured, e => e.Id.Id == 1310).Fields["Count"]);
        Assert.Equal(0, sink.Metrics.InternalErrors);
    }

    [Fact]
    public async Task Dispose_DiskRefusesWritesElasticsearchBackForTheDrain_ShipsWhatWaitedInMemory()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Available = false;
        var sink = Sink(es, shutdown: TimeSpan.FromSeconds(30));
        sink.Spool.FaultInjection = op =>
        {
            if (op is SpoolOperation.Write or SpoolOperation.Create)
            {
                throw new IOException("No space left on device", 28);
            }
        };
        using (var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger())
        {
            for (var i = 0; i < 100; i++)
            {
                logger.Information("event {N}", i);
            }
        }

        await WaitAsync(() => sink.Pending.Count == 100);
        es.Available = true;
        await sink.DisposeAsync();

        Assert.Equal(100, Numbers(es).Distinct().Count());
        Assert.Equal(0, sink.Metrics.Dropped);
        Assert.DoesNotContain(_log.Structured, e => e.Id.Id == 1310);
    }

    [Fact]
    public async Task Loops_UnexpectedException_LoggedOnceCountedAndTheyCarryOn()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        var sink = Sink(es);
        var thrown = new HashSet<SpoolOperation>();
        sink.Spool.FaultInjection = op =>
        {
            if (op is SpoolOperation.Write or SpoolOperation.Read)
            {
                lock (thrown)
                {
                    if (thrown.Add(op))
                    {
                        // Not a disk error: a bug somewhere below the loops.
                        throw new InvalidOperationException("bug");
                    }
                }
            }
        };
        await using (sink)
        {
            using var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
            for (var i = 0; i < 20; i++)
            {
                logger.Information("event {N}", i);
                await Task.Delay(50);
            }

            await es.WaitForDocumentsAsync(20, Deadline);
        }

        Assert.Equal(2, sink.Metrics.InternalErrors);
        // Once per loop.
        Assert.Equal(["shipper", "writer"], _log.Structured.Where(e => e.Id.Id == 1311).Select(e => (string)e.Fields["Loop"]!).Order());
        Assert.Equal(20, Numbers(es).Distinct().Count());
    }

    private ElasticsearchSink Sink(FakeElasticsearch es, int memory = 8 << 20, long segmentBytes = 0, TimeSpan? shutdown = null)
    {
        var options = new ElasticsearchOptions
        {
            Urls = [es.Url],
            SpoolPath = _spool,
            MemoryQueueMaxBytes = memory,
            SegmentBytes = segmentBytes,
            ShutdownTimeout = shutdown ?? TimeSpan.FromSeconds(5),
            RequestTimeout = TimeSpan.FromSeconds(5),
            MaxBatchCount = 50,
        };
        // Backoff without real waiting: the tests wait for conditions, not for time.
        var sink = new ElasticsearchSink(options, "monitor-agent", "1.0", "node1", TimeProvider.System, new Random(1), (_, ct) => Task.Delay(10, ct));
        sink.SetLogger(_log.CreateLogger(ShipperLog.Category));
        return sink;
    }

    private static List<string> Numbers(FakeElasticsearch es) =>
        [.. es.ParsedDocuments().Select(d => d.GetProperty("labels").GetProperty("N").GetString()!)];

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within {Deadline}");
            await Task.Delay(10);
        }
    }
}
