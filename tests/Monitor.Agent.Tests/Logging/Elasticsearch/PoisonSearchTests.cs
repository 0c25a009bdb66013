using System.Net;
using System.Text;
using System.Text.Json;
using Monitor.Agent.Logging.Elasticsearch;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Logging.Elasticsearch;

/// <summary>A whole-request 4xx starts a split search for the documents Elasticsearch refuses; the answer table of docs/agent.md.</summary>
public sealed class PoisonSearchTests : IDisposable
{
    private readonly string _spool = Path.Join(Path.GetTempPath(), "es-poison-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    [Theory]
    [InlineData(100, new[] { 37 })]
    [InlineData(1000, new[] { 0, 500, 999 })]
    [InlineData(64, new[] { 10, 11, 12, 13 })]
    public async Task ShipAsync_PoisonDocumentsInABatch_OnlyTheyAreDeadLetteredAndTheRestStored(int count, int[] poison)
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Poison = source => source.Contains("\"poison\"", StringComparison.Ordinal);
        var (shipper, metrics, spool) = Shipper(es);
        using (spool)
        using (shipper)
        {
            var records = Records(count, poison);
            Assert.True(await shipper.ShipAsync(records, CancellationToken.None));

            Assert.Equal(records.Where((_, i) => !poison.Contains(i)).Select(r => r.Id).Order(), es.Documents.Keys.Order());
            Assert.Equal(poison.Length, metrics.DeadLettered);
            var dead = File.ReadAllLines(shipper.DeadLetterPath).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(poison.Select(i => records[i].Id).Order(), dead.Select(d => d.GetProperty("_id").GetString()).Order());
            Assert.All(dead, d =>
            {
                Assert.Equal(400, d.GetProperty("status").GetInt32());
                Assert.Equal("illegal_argument_exception", d.GetProperty("error.type").GetString());
                Assert.Equal("request body refused by the filtering proxy", d.GetProperty("error.reason").GetString());
                Assert.True(d.GetProperty("document").GetProperty("poison").GetBoolean());
            });
            // A depth-first halving: about 2·log2(n) requests per poison document, not one per document.
            var bound = 1 + (poison.Length * 2 * (int)Math.Ceiling(Math.Log2(count)));
            Assert.InRange(es.RequestCount, 2, bound);
        }
    }

    [Fact]
    public async Task ShipAsync_EveryRequestRefused_NothingDeadLetteredAndItBacksOff()
    {
        // A proxy (or a wrong path) that refuses every request: the endpoint is at fault, not the documents.
        await using var es = await FakeElasticsearch.StartAsync();
        es.Poison = _ => true;
        var waits = new List<TimeSpan>();
        var (shipper, metrics, spool) = Shipper(es, (w, _) =>
        {
            waits.Add(w);
            return Task.CompletedTask;
        });
        using (spool)
        using (shipper)
        {
            var records = Records(1000, []);
            Assert.False(await shipper.ShipAsync(records, CancellationToken.None));
            Assert.Equal(BulkShipper.ProbeLimit, es.RequestCount);
            Assert.False(await shipper.ShipAsync(records, CancellationToken.None));

            Assert.Equal(2 * BulkShipper.ProbeLimit, es.RequestCount);
            Assert.Empty(es.Documents);
            Assert.Equal(0, metrics.DeadLettered);
            Assert.False(File.Exists(shipper.DeadLetterPath));
            Assert.Equal(2, waits.Count);
            Assert.False(metrics.Up);
        }
    }

    [Fact]
    public async Task ShipAsync_PoisonAloneThenWithCompany_DeadLetteredOnlyOnceAnotherDocumentWasAccepted()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Poison = source => source.Contains("\"poison\"", StringComparison.Ordinal);
        var (shipper, metrics, spool) = Shipper(es);
        using (spool)
        using (shipper)
        {
            var records = Records(3, [0]);
            Assert.False(await shipper.ShipAsync(records[..1], CancellationToken.None));
            Assert.Equal(0, metrics.DeadLettered);
            var before = es.RequestCount;

            // The batch read again with newer events: those go first, are accepted, and that convicts the poison.
            Assert.True(await shipper.ShipAsync(records, CancellationToken.None));

            Assert.Equal(1, es.RequestCount - before);
            Assert.Equal([records[1].Id, records[2].Id], es.Documents.Keys.Order());
            Assert.Equal(1, metrics.DeadLettered);
            Assert.Equal(records[0].Id, JsonDocument.Parse(Assert.Single(File.ReadAllLines(shipper.DeadLetterPath))).RootElement.GetProperty("_id").GetString());
        }
    }

    [Fact]
    public async Task ShipAsync_OneDocumentLargerThanTheServerTakes_413SplitsAndDeadLettersOnlyIt()
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.MaxBodyBytes = 4096;
        var (shipper, metrics, spool) = Shipper(es);
        using (spool)
        using (shipper)
        {
            var records = Records(20, []).ToList();
            records[7] = records[7] with { Document = Encoding.UTF8.GetBytes($"{{\"@timestamp\":\"2026-11-29T00:00:00Z\",\"big\":\"{new string('x', 5000)}\"}}") };
            Assert.True(await shipper.ShipAsync(records, CancellationToken.None));

            Assert.Equal(19, es.Documents.Count);
            Assert.DoesNotContain(records[7].Id, es.Documents.Keys);
            var dead = JsonDocument.Parse(Assert.Single(File.ReadAllLines(shipper.DeadLetterPath))).RootElement;
            Assert.Equal(413, dead.GetProperty("status").GetInt32());
            Assert.Equal(1, metrics.DeadLettered);
        }
    }

    [Theory]
    [InlineData(408)]
    [InlineData(429)]
    [InlineData(502)]
    [InlineData(503)]
    public async Task ShipAsync_RetryableWholeRequestStatus_RetriedWithBackoffNothingDeadLettered(int status)
    {
        await using var es = await FakeElasticsearch.StartAsync();
        es.Script(new Fault(Status: status), new Fault(Status: status));
        var waits = new List<TimeSpan>();
        var (shipper, metrics, spool) = Shipper(es, (w, _) =>
        {
            waits.Add(w);
            return Task.CompletedTask;
        });
        using (spool)
        using (shipper)
        {
            Assert.True(await shipper.ShipAsync(Records(10, []), CancellationToken.None));

            Assert.Equal(2, waits.Count);
            Assert.Equal(10, es.Documents.Count);
            Assert.Equal(0, metrics.DeadLettered);
            Assert.Equal(2, metrics.RequestsFailed);
        }
    }

    [Fact]
    public async Task ShipAsync_UnusableAnswers_RetriedInsteadOfFaultingTheShipper()
    {
        // Answers no Elasticsearch gives but a broken proxy might: each is a failed request, retried; none escapes.
        var answers = new Queue<HttpResponseMessage>(
        [
            new(HttpStatusCode.OK) { Content = new StringContent("<html>gateway</html>") },
            new(HttpStatusCode.OK) { Content = new StringContent("{\"errors\":true,\"items\":\"none\"}") },
            new(HttpStatusCode.OK) { Content = new StringContent("{\"errors\":true,\"items\":[1,{\"create\":[]}]}") },
            new(HttpStatusCode.OK) { Content = new StringContent("[]") },
            new(HttpStatusCode.TemporaryRedirect) { Headers = { Location = new Uri("http://elsewhere/") } },
            new(HttpStatusCode.OK) { Content = new StringContent("{\"errors\":false,\"items\":[{\"create\":{\"status\":201}},{\"create\":{\"status\":201}}]}") },
        ]);
        var waits = 0;
        var metrics = new ShipperMetrics();
        var options = new ElasticsearchOptions { Urls = [new Uri("http://127.0.0.1:9/")], SpoolPath = _spool };
        using var spool = new Spool(_spool, options.SpoolMaxBytes, options.SpoolMaxAge, options.EffectiveSegmentBytes, TimeProvider.System, metrics);
        using var shipper = new BulkShipper(options, spool, metrics, TimeProvider.System, new Random(1), (_, _) =>
        {
            waits++;
            return Task.CompletedTask;
        }, new CannedHandler(answers));

        Assert.True(await shipper.ShipAsync(Records(2, []), CancellationToken.None));

        // Four unusable answers are failed requests; the one with malformed items retries those items.
        Assert.Equal(5, waits);
        Assert.Equal(4, metrics.RequestsFailed);
        Assert.Equal(2, metrics.Retried - 4 * 2);
        Assert.Equal(2, metrics.Shipped);
        Assert.True(metrics.Up);
    }

    [Theory]
    [InlineData("{\"error\":{\"type\":\"illegal_argument_exception\",\"reason\":\"bad\"},\"status\":400}", "illegal_argument_exception", "bad")]
    [InlineData("{\"error\":\"Incorrect HTTP method\"}", "unknown", "Incorrect HTTP method")]
    [InlineData("<html>\n<h1>400 Bad Request</h1></html>", "unknown", "<html> <h1>400 Bad Request</h1></html>")]
    [InlineData("", "unknown", "")]
    public void DescribeError_AnyBody_TypeAndReason(string body, string type, string reason)
    {
        Assert.Equal((type, reason), BulkShipper.DescribeError(Encoding.UTF8.GetBytes(body)));
    }

    private (BulkShipper Shipper, ShipperMetrics Metrics, Spool Spool) Shipper(FakeElasticsearch es, Func<TimeSpan, CancellationToken, Task>? delay = null)
    {
        var metrics = new ShipperMetrics();
        var options = new ElasticsearchOptions { Urls = [es.Url], SpoolPath = _spool, RequestTimeout = TimeSpan.FromSeconds(5) };
        var spool = new Spool(_spool, options.SpoolMaxBytes, options.SpoolMaxAge, options.EffectiveSegmentBytes, TimeProvider.System, metrics);
        return (new BulkShipper(options, spool, metrics, TimeProvider.System, new Random(3), delay ?? ((_, _) => Task.CompletedTask)), metrics, spool);
    }

    private static SpoolRecord[] Records(int count, int[] poison) =>
        [.. Enumerable.Range(0, count).Select(i => new SpoolRecord($"id-{i}", 1, Encoding.UTF8.GetBytes(
            $"{{\"@timestamp\":\"2026-11-29T00:00:00Z\",\"message\":\"m{i}\"{(poison.Contains(i) ? ",\"poison\":true" : string.Empty)}}}")))];

    private sealed class CannedHandler(Queue<HttpResponseMessage> answers) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(answers.Dequeue());
    }
}
