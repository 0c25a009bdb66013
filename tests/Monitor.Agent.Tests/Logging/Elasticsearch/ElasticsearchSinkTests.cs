using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Monitor.Agent.Logging.Elasticsearch;
using Monitor.Testing;
using Serilog;

namespace Monitor.Agent.Tests.Logging.Elasticsearch;

public sealed class ElasticsearchSinkTests : IDisposable
{
    private readonly string _spool = Path.Join(Path.GetTempPath(), "es-spool-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    [Fact]
    public async Task Sink_OutageThenRecovery_EveryEventArrivesExactlyOnce()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Available = false;
        var waited = TimeSpan.Zero;
        var waits = new List<TimeSpan>();
        // The injected wait: no real sleeping; Elasticsearch comes back after an hour of (virtual) backoff.
        Task Delay(TimeSpan wait, CancellationToken ct)
        {
            lock (waits)
            {
                waits.Add(wait);
                waited += wait;
                if (waited > TimeSpan.FromHours(1))
                {
                    es.Available = true;
                }
            }

            return Task.Delay(5, ct);
        }

        var sink = new ElasticsearchSink(Options(es), "monitor-agent", "1.0", "node1", TimeProvider.System, new Random(1), Delay);
        await using (sink)
        {
            using var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
            for (var i = 0; i < 2000; i++)
            {
                logger.Information("event {N}", i);
            }

            await es.WaitForDocumentsAsync(2000, TimeSpan.FromSeconds(60));
        }

        var numbers = es.ParsedDocuments().Select(d => d.GetProperty("labels").GetProperty("N").GetString()).ToList();
        Assert.Equal(2000, numbers.Distinct().Count());
        Assert.Equal(0, es.Conflicts);
        Assert.True(waited > TimeSpan.FromHours(1));
        Assert.All(waits, w => Assert.InRange(w, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60)));
        Assert.Equal(2000, sink.Metrics.Shipped);
        Assert.Equal(0, sink.Metrics.Dropped);
    }

    [Fact]
    public async Task ShipAsync_ItemFailuresInside200_OnlyFailedItemsAreResent()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Script(new Fault(ItemStatus: i => (i % 3) switch { 0 => 429, 1 => 503, _ => null }));
        var (shipper, metrics, spool) = Shipper(es);
        using (spool)
        using (shipper)
        {
            var records = Records(30);
            Assert.True(await shipper.ShipAsync(records, CancellationToken.None));

            var requests = es.Requests;
            Assert.Equal(2, requests.Count);
            Assert.Equal(records.Select(r => r.Id), requests[0]);
            Assert.Equal(records.Where((_, i) => i % 3 != 2).Select(r => r.Id), requests[1]);
            Assert.Equal(30, es.Documents.Count);
            Assert.Equal(20, metrics.Retried);
            Assert.Equal(30, metrics.Shipped);
        }
    }

    [Fact]
    public async Task ShipAsync_413_SplitsTheBatch()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Script(new Fault(Status: 413));
        var (shipper, _, spool) = Shipper(es);
        using (spool)
        using (shipper)
        {
            var records = Records(20);
            Assert.True(await shipper.ShipAsync(records, CancellationToken.None));

            Assert.Equal([10, 10], es.Requests.Select(r => r.Count));
            Assert.Equal(20, es.Documents.Count);
        }
    }

    [Fact]
    public async Task ShipAsync_MappingConflict_GoesToDeadLetterWithReason()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        var (shipper, metrics, spool) = Shipper(es);
        using (spool)
        using (shipper)
        {
            SpoolRecord[] records =
            [
                new("a1", 1, Encoding.UTF8.GetBytes("{\"@timestamp\":\"2026-11-29T00:00:00Z\",\"gpu\":{\"index\":0}}")),
                new("a2", 1, Encoding.UTF8.GetBytes("{\"@timestamp\":\"2026-11-29T00:00:00Z\",\"gpu\":\"oops\"}")),
            ];
            Assert.True(await shipper.ShipAsync(records, CancellationToken.None));

            Assert.Equal(["a1"], es.Documents.Keys);
            Assert.Equal(1, metrics.DeadLettered);
            var line = Assert.Single(File.ReadAllLines(shipper.DeadLetterPath));
            using var dead = JsonDocument.Parse(line);
            Assert.Equal("a2", dead.RootElement.GetProperty("_id").GetString());
            Assert.Equal(400, dead.RootElement.GetProperty("status").GetInt32());
            Assert.Equal("document_parsing_exception", dead.RootElement.GetProperty("error.type").GetString());
            Assert.Contains("[gpu]", dead.RootElement.GetProperty("error.reason").GetString(), StringComparison.Ordinal);
            Assert.Equal("oops", dead.RootElement.GetProperty("document").GetProperty("gpu").GetString());
        }
    }

    [Fact]
    public async Task ShipAsync_Unauthorized_WaitsTheLongestBackoffAndKeepsTheEvents()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.RequiredAuthorization = "ApiKey right";
        var waits = new List<TimeSpan>();
        var (shipper, metrics, spool) = Shipper(es, (w, _) =>
        {
            waits.Add(w);
            es.RequiredAuthorization = null;
            return Task.CompletedTask;
        });
        using (spool)
        using (shipper)
        {
            Assert.True(await shipper.ShipAsync(Records(5), CancellationToken.None));
            Assert.Equal([TimeSpan.FromSeconds(60)], waits);
            Assert.Equal(5, es.Documents.Count);
            Assert.Equal(1, metrics.RequestsFailed);
        }
    }

    [Fact]
    public async Task ShipAsync_RequestLevel500Then429_BacksOffAndStoresEachEventOnce()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Script(new Fault(Status: 500), new Fault(Status: 429));
        var waits = new List<TimeSpan>();
        var (shipper, _, spool) = Shipper(es, (w, _) =>
        {
            waits.Add(w);
            return Task.CompletedTask;
        });
        using (spool)
        using (shipper)
        {
            Assert.True(await shipper.ShipAsync(Records(5), CancellationToken.None));

            // Two failed requests, two waits within full jitter's first bounds (1 s, then up to 2 s), then one that stores.
            Assert.Equal(2, waits.Count);
            Assert.InRange(waits[0], TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
            Assert.InRange(waits[1], TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
            Assert.Single(es.Requests); // scripted failures are answered before the stand-in records a request
            Assert.Equal(5, es.Documents.Count);
        }
    }

    [Fact]
    public async Task ShipAsync_StallPastTheRequestTimeout_RetriesAndStoresEachEventOnce()
    {
        // The stand-in stores the batch only after stalling past the client's timeout: the retry meets 409s, not copies.
        await using var es = await FakeElasticsearch.StartAsync();
        es.Script(new Fault(Stall: TimeSpan.FromSeconds(2)));
        var waits = new List<TimeSpan>();
        var metrics = new ShipperMetrics();
        var options = Options(es, requestTimeout: TimeSpan.FromMilliseconds(300));
        using var spool = new Spool(_spool, options.SpoolMaxBytes, options.SpoolMaxAge, options.EffectiveSegmentBytes, TimeProvider.System, metrics);
        using var shipper = new BulkShipper(options, spool, metrics, TimeProvider.System, new Random(3), async (w, token) =>
        {
            waits.Add(w);
            await Task.Delay(TimeSpan.FromSeconds(2.5), token);
        });

        Assert.True(await shipper.ShipAsync(Records(5), CancellationToken.None));

        Assert.Single(waits);
        Assert.Equal(5, es.Documents.Count);
        Assert.Equal(1, metrics.RequestsFailed);
    }

    [Fact]
    public void Backoff_FullJitter_StaysWithinBounds()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), new Random(7));
        var waits = Enumerable.Range(0, 200).Select(_ => backoff.Next()).ToList();
        for (var n = 0; n < waits.Count; n++)
        {
            var ceiling = TimeSpan.FromSeconds(Math.Min(60, Math.Pow(2, Math.Min(n, 30))));
            Assert.InRange(waits[n], TimeSpan.FromSeconds(1), ceiling);
        }

        Assert.Contains(waits, w => w > TimeSpan.FromSeconds(30));
        Assert.Contains(waits.Skip(10), w => w < TimeSpan.FromSeconds(30));
        backoff.Reset();
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Next());
    }

    [Fact]
    public void Spool_Full_DropsTheOldestEventsAndCountsThem()
    {
        var metrics = new ShipperMetrics();
        using var spool = new Spool(_spool, maxBytes: 1 << 20, TimeSpan.FromDays(7), segmentBytes: 64 << 10, TimeProvider.System, metrics);
        var padding = new string('x', 400);
        for (var i = 0; i < 5000; i++)
        {
            spool.Append(Encoding.UTF8.GetBytes($"{i:D32} 1 {{\"n\":{i},\"p\":\"{padding}\"}}\n"));
        }

        spool.Flush(toDisk: false);
        Assert.True(metrics.SpoolBytes <= 1 << 20);
        Assert.True(metrics.DroppedSpoolFull > 0);
        var left = new List<SpoolRecord>();
        while (true)
        {
            var batch = spool.ReadBatch(1000, 1 << 20);
            if (batch.Records.Count == 0)
            {
                break;
            }

            left.AddRange(batch.Records);
            spool.Commit(batch.End);
        }

        Assert.Equal(5000, left.Count + metrics.DroppedSpoolFull);
        Assert.Equal(metrics.DroppedSpoolFull, long.Parse(left[0].Id, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("4999", left[^1].Id.TrimStart('0'));
    }

    [Fact]
    public void Spool_Restart_ResumesFromTheCursor()
    {
        var metrics = new ShipperMetrics();
        using (var spool = new Spool(_spool, 1 << 30, TimeSpan.FromDays(7), 1 << 20, TimeProvider.System, metrics))
        {
            for (var i = 0; i < 10; i++)
            {
                spool.Append(Encoding.UTF8.GetBytes($"id{i} 1 {{\"n\":{i}}}\n"));
            }

            spool.Flush(toDisk: true);
            var batch = spool.ReadBatch(4, 1 << 20);
            spool.Commit(batch.End);
            // A torn record from a crash mid-write.
            spool.Append("id10 1 {\"n\":"u8);
            spool.Flush(toDisk: true);
        }

        using var again = new Spool(_spool, 1 << 30, TimeSpan.FromDays(7), 1 << 20, TimeProvider.System, metrics);
        var rest = again.ReadBatch(100, 1 << 20);
        Assert.Equal(["id4", "id5", "id6", "id7", "id8", "id9"], rest.Records.Select(r => r.Id));
        again.Commit(rest.End);
        Assert.Empty(again.ReadBatch(100, 1 << 20).Records);
        Assert.Equal(1, metrics.DroppedCorrupt);
    }

    [Fact]
    public async Task Dispose_ElasticsearchDown_DrainsWithinItsBoundAndLeavesTheRestOnDisk()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Available = false;
        var options = Options(es, shutdown: TimeSpan.FromSeconds(1));
        var sink = new ElasticsearchSink(options, "monitor-agent", "1.0", "node1", TimeProvider.System);
        using (var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger())
        {
            for (var i = 0; i < 100; i++)
            {
                logger.Information("event {N}", i);
            }
        }

        var watch = Stopwatch.StartNew();
        await sink.DisposeAsync();
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(2.5));

        using var spool = new Spool(_spool, 1 << 30, TimeSpan.FromDays(7), 1 << 20, TimeProvider.System, new ShipperMetrics());
        Assert.Equal(100, spool.ReadBatch(1000, 1 << 20).Records.Count);
    }

    [Fact]
    public async Task Sink_ElasticsearchRefusesConnections_StartupAndLoggingDoNotWait()
    {
        using var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var options = new ElasticsearchOptions { Urls = [new Uri($"http://127.0.0.1:{port}/")], SpoolPath = _spool, ShutdownTimeout = TimeSpan.FromMilliseconds(200) };

        var watch = Stopwatch.StartNew();
        var sink = new ElasticsearchSink(options, "monitor-agent", "1.0", "node1", TimeProvider.System);
        await using (sink)
        {
            using var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
            for (var i = 0; i < 1000; i++)
            {
                logger.Information("event {N}", i);
            }

            // Well under the 10 s connect timeout and the 1 s first backoff: nothing here waited for the network.
            Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(2));
        }

        Assert.Equal(0, sink.Metrics.Dropped);
    }

    private ElasticsearchOptions Options(FakeElasticsearch es, TimeSpan? shutdown = null, TimeSpan? requestTimeout = null) => new()
    {
        Urls = [es.Url],
        SpoolPath = _spool,
        ShutdownTimeout = shutdown ?? TimeSpan.FromSeconds(5),
        RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(5),
        MaxBatchCount = 250,
    };

    private (BulkShipper Shipper, ShipperMetrics Metrics, Spool Spool) Shipper(FakeElasticsearch es, Func<TimeSpan, CancellationToken, Task>? delay = null)
    {
        var metrics = new ShipperMetrics();
        var options = Options(es);
        var spool = new Spool(_spool, options.SpoolMaxBytes, options.SpoolMaxAge, options.EffectiveSegmentBytes, TimeProvider.System, metrics);
        return (new BulkShipper(options, spool, metrics, TimeProvider.System, new Random(3), delay ?? ((_, _) => Task.CompletedTask)), metrics, spool);
    }

    private static SpoolRecord[] Records(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new SpoolRecord($"id-{i}", 1, Encoding.UTF8.GetBytes($"{{\"@timestamp\":\"2026-11-29T00:00:00Z\",\"message\":\"m{i}\"}}")))];
}
