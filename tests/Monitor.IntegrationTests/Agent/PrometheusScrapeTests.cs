using System.Globalization;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>Two agents and a real Prometheus scraping both every second, shared by the tests of the class.</summary>
public sealed class PrometheusFixture : IAsyncLifetime
{
    public AgentProcess Live { get; private set; } = null!;

    public AgentProcess Fixture { get; private set; } = null!;

    public PrometheusServer Prometheus { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Live = await AgentProcess.StartAsync();
        Fixture = await AgentProcess.StartAsync(FixtureTreeTests.FixtureArgs);
        Prometheus = await PrometheusServer.StartAsync(
            $$"""
              - job_name: live
                static_configs: [{ targets: ['{{Live.BaseAddress.Authority}}'] }]
              - job_name: fixture
                static_configs: [{ targets: ['{{Fixture.BaseAddress.Authority}}'] }]

            """);

        // Three scrapes of each target: enough for rate() over two samples, and for scrape_samples_scraped to settle.
        await Prometheus.WaitUntilAsync(
            async () => (await Prometheus.QueryAsync("min(sum by (job) (monitor_agent_scrapes_total)) >= 3")).Count == 1,
            TimeSpan.FromSeconds(60),
            "Prometheus did not scrape both agents three times within 60 s");
    }

    /// <summary>Whether each agent still runs, and the fixture agent's log: for failure messages.</summary>
    public string Describe() =>
        $"live agent exited: {Live.HasExited}{(Live.HasExited ? $" ({Live.ExitCode})" : "")}; fixture agent exited: {Fixture.HasExited}{(Fixture.HasExited ? $" ({Fixture.ExitCode})" : "")}; fixture log:\n{Fixture.Log}";

    public async Task DisposeAsync()
    {
        await Prometheus.DisposeAsync();
        await Live.DisposeAsync();
        await Fixture.DisposeAsync();
    }
}

/// <summary>
/// A real Prometheus (the Debian package) scrapes two agents, one on this machine's /proc and one on the fixture
/// tree, and the tests query what it stored. Prometheus 2.42 asks for OpenMetrics first, so this also proves the
/// OpenMetrics output is accepted by a real scraper.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class PrometheusScrapeTests(PrometheusFixture fixture) : IClassFixture<PrometheusFixture>
{
    private PrometheusServer Prometheus => fixture.Prometheus;

    [Fact]
    public async Task Up_IsOneForBothAgents()
    {
        var up = await Prometheus.QueryAsync("up");

        Assert.Equal(2, up.Count);
        Assert.True(up.All(r => r.Value == 1), $"up: {string.Join(", ", up.Select(r => r.Value))}; {fixture.Describe()}");
    }

    [Fact]
    public async Task ScrapeSamplesScraped_EqualsSeriesCountOfTheFixtureAgent()
    {
        using var client = new HttpClient();
        var ours = PromSamples.Parse(await fixture.Fixture.ScrapeAsync(client)).Count;

        var scraped = await Prometheus.QueryAsync("scrape_samples_scraped{job=\"fixture\"}");

        Assert.Equal(ours, Assert.Single(scraped).Value);
    }

    [Fact]
    public async Task RateOfCpuSeconds_ReturnsAValuePerCpuAndMode()
    {
        var rates = await Prometheus.QueryAsync("rate(node_cpu_seconds_total{job=\"live\"}[1m])");

        Assert.True(rates.Count >= Environment.ProcessorCount * 8, $"{rates.Count} rates for {Environment.ProcessorCount} cpus");
        Assert.All(rates, r => Assert.InRange(r.Value, 0, 1.05));
        Assert.Contains(rates, r => r.Value > 0);
    }

    [Fact]
    public async Task Prometheus_NegotiatedOpenMetrics()
    {
        var scrapes = await Prometheus.QueryAsync("monitor_agent_scrapes_total{job=\"live\"}");

        var byFormat = scrapes.ToDictionary(r => r.Labels["format"], r => r.Value);
        Assert.True(byFormat["openmetrics"] >= 2, string.Create(CultureInfo.InvariantCulture, $"openmetrics scrapes: {byFormat["openmetrics"]}"));
        Assert.Equal(0, byFormat["text"]);
    }
}
