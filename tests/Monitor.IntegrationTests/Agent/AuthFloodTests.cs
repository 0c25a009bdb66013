using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// Issue 20: a flood of wrong passwords must not starve Prometheus. The real agent with TLS and basic auth; 200
/// connections send wrong passwords as fast as they can for 20 s while a client with the right password scrapes once a
/// second. Every scrape must succeed (their latency is a benchmark figure: bench/listener.sh, docs/performance.md).
/// </summary>
[Trait("Category", "AgentProcess")]
[Collection(ListenerLoadGroup.Name)]
public sealed class AuthFloodTests
{
    private const string RightPassword = "Correct-Horse-9f3a";

    [Fact]
    public async Task WrongPasswordFlood_200ConnectionsFor20s_EveryScrapeWithTheRightPasswordSucceeds()
    {
        using var files = new WebConfigFiles();
        using var certificate = files.WriteServerCertificate("127.0.0.1");
        // Cost 10, as htpasswd -B makes by default: the cost the flood would burn per attempt without the limits.
        var hash = BCrypt.Net.BCrypt.HashPassword(RightPassword, 10);
        File.WriteAllText(files.ConfigPath, $"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: '{hash}'\n");
        await using var agent = await AgentProcess.StartExecutableAsync(AgentProcess.ExecutablePath, null, $"--web.config.file={files.ConfigPath}");

        using var scraperHandler = files.TrustingHandler();
        using var scraper = new HttpClient(scraperHandler) { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal(HttpStatusCode.OK, await ScrapeAsync(scraper, agent.MetricsUri, RightPassword));

        using var floodHandler = files.TrustingHandler();
        floodHandler.MaxConnectionsPerServer = 200;
        using var flood = new HttpClient(floodHandler) { Timeout = TimeSpan.FromSeconds(30) };
        using var stop = new CancellationTokenSource();
        var statuses = new long[600];
        var wrongPasswords = Enumerable.Range(0, 200).Select(i => $"wrong-{i}-{Guid.NewGuid():N}").ToArray();
        var flooders = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(agent.BaseAddress, "healthz"));
                    request.Headers.Authorization = Basic("prometheus", wrongPasswords[i]);
                    using var response = await flood.SendAsync(request, stop.Token);
                    Interlocked.Increment(ref statuses[(int)response.StatusCode]);
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref statuses[0]);
                }
            }
        })).ToArray();

        var latencies = new List<double>();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < until)
        {
            var watch = Stopwatch.StartNew();
            Assert.Equal(HttpStatusCode.OK, await ScrapeAsync(scraper, agent.MetricsUri, RightPassword));
            latencies.Add(watch.Elapsed.TotalMilliseconds);
            await Task.Delay(1000);
        }

        await stop.CancelAsync();
        await Task.WhenAll(flooders);

        Assert.True(latencies.Count >= 15, $"only {latencies.Count} scrapes in 20 s");
        Assert.True(statuses[401] > 0, "the flood never got a 401");
        Assert.True(statuses[429] > 0, "the flood was never refused with 429");
        Assert.Equal(0, statuses[200]);

        using var metrics = new HttpRequestMessage(HttpMethod.Get, agent.MetricsUri);
        metrics.Headers.Authorization = Basic("prometheus", RightPassword);
        using var response = await scraper.SendAsync(metrics);
        var body = await response.Content.ReadAsStringAsync();
        var failures = Sample(body, "monitor_agent_http_auth_failures_total");
        var backoff = Sample(body, "monitor_agent_http_auth_rejected_total{reason=\"backoff\"}");
        var busy = Sample(body, "monitor_agent_http_auth_rejected_total{reason=\"busy\"}");
        // The server may have counted requests whose answers the stopped flood never read.
        Assert.True(failures >= statuses[401], $"{failures} failures counted, {statuses[401]} answered 401");
        Assert.True(backoff + busy >= statuses[429], $"{backoff + busy} refusals counted, {statuses[429]} answered 429");
        Assert.Equal(1, Sample(body, "monitor_agent_http_auth_cache_entries"));

        // The per-address summary comes once a minute; whenever it has, it names no secret. Nothing else may either.
        foreach (var secret in wrongPasswords.Append(RightPassword))
        {
            Assert.DoesNotContain(secret, agent.Log, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes($"prometheus:{RightPassword}")), agent.Log, StringComparison.Ordinal);
        Console.WriteLine($"scrape latency during the flood: max {latencies.Max():F1} ms over {latencies.Count}; flood answers 401={statuses[401]} 429={statuses[429]} errors={statuses[0]}");
    }

    private static async Task<HttpStatusCode> ScrapeAsync(HttpClient client, Uri uri, string password)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Authorization = Basic("prometheus", password);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static double Sample(string exposition, string series)
    {
        var line = exposition.Split('\n').Single(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
}
