using System.Net;
using System.Net.Http.Headers;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>One agent on this machine's real /proc and /sys, shared by the HTTP tests.</summary>
public sealed class LiveAgentFixture : IAsyncLifetime
{
    public AgentProcess Agent { get; private set; } = null!;

    public HttpClient Client { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public async Task InitializeAsync() => Agent = await AgentProcess.StartAsync();

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Agent.DisposeAsync();
    }
}

/// <summary>The agent's HTTP surface on the real host: formats, compression, health, concurrency, promtool.</summary>
[Trait("Category", "AgentProcess")]
public sealed class AgentHttpTests(LiveAgentFixture fixture) : IClassFixture<LiveAgentFixture>
{
    private const string PrometheusAccept =
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    [Fact]
    public async Task Metrics_DefaultAccept_IsText004AndPassesPromtool()
    {
        using var response = await fixture.Client.GetAsync(fixture.Agent.MetricsUri);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Contains("# TYPE node_load1 gauge", body, StringComparison.Ordinal);
        Assert.DoesNotContain("# EOF", body, StringComparison.Ordinal);
        await Promtool.AssertCleanAsync(body);
    }

    [Fact]
    public async Task Metrics_PrometheusAcceptHeader_IsOpenMetricsWithEof()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, fixture.Agent.MetricsUri);
        request.Headers.TryAddWithoutValidation("Accept", PrometheusAccept);
        using var response = await fixture.Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal("application/openmetrics-text; version=1.0.0; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.EndsWith("# EOF\n", body, StringComparison.Ordinal);
        Assert.Contains("# TYPE process_cpu_seconds counter\n", body, StringComparison.Ordinal);
        Assert.Contains("\nprocess_cpu_seconds_total ", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_AcceptEncodingGzip_IsCompressedAndIdenticalFamilies()
    {
        using var handler = new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None };
        using var raw = new HttpClient(handler);
        using var request = new HttpRequestMessage(HttpMethod.Get, fixture.Agent.MetricsUri);
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        using var response = await raw.SendAsync(request);
        var compressed = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("gzip", Assert.Single(response.Content.Headers.ContentEncoding));
        Assert.Equal(0x1f, compressed[0]);
        Assert.Equal(0x8b, compressed[1]);
        await using var gzip = new System.IO.Compression.GZipStream(new MemoryStream(compressed), System.IO.Compression.CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        var text = await reader.ReadToEndAsync();
        Assert.Equal(FamilyNames(await fixture.Agent.ScrapeAsync(fixture.Client)), FamilyNames(text));
    }

    [Fact]
    public async Task Metrics_FortyConcurrentScrapes_AllSucceedWithIdenticalFamilies()
    {
        // Forty: --web.max-requests' default. More in flight at once get 503 by design (RequestLimiterTests), which on a
        // loaded machine fifty did.
        var bodies = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => fixture.Agent.ScrapeAsync(fixture.Client)));

        var expected = FamilyNames(bodies[0]);
        Assert.Contains("node_load1", expected);
        Assert.All(bodies, body => Assert.Equal(expected, FamilyNames(body)));
    }

    [Fact]
    public async Task Healthz_Returns200()
    {
        using var response = await fixture.Client.GetAsync(new Uri(fixture.Agent.BaseAddress, "healthz"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Root_LinksToMetrics_UnknownPathIs404_PostIs405()
    {
        var root = await fixture.Client.GetStringAsync(fixture.Agent.BaseAddress);
        using var missing = await fixture.Client.GetAsync(new Uri(fixture.Agent.BaseAddress, "nope"));
        using var post = await fixture.Client.PostAsync(fixture.Agent.MetricsUri, new StringContent(string.Empty));

        Assert.Contains("href=\"/metrics\"", root, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
    }

    [Fact]
    public async Task Metrics_CollectorSelfMetrics_ReportSuccessForEveryEnabledCollector()
    {
        var samples = PromSamples.Parse(await fixture.Agent.ScrapeAsync(fixture.Client));

        Assert.Equal(1, samples["monitor_agent_collector_success{collector=\"loadavg\"}"]);
        Assert.Equal(1, samples["monitor_agent_collector_success{collector=\"self\"}"]);
        Assert.True(samples["process_resident_memory_bytes"] > 1_000_000);
        Assert.Contains(samples.Keys, k => k.StartsWith("monitor_agent_build_info{", StringComparison.Ordinal));
    }

    internal static string[] FamilyNames(string exposition) =>
        [.. exposition.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2])];
}
