namespace Monitor.Testing;

/// <summary>Waiting on a running agent's scrapes.</summary>
public static class AgentScrapes
{
    /// <summary>
    /// Scrapes <paramref name="agent"/> until <paramref name="condition"/> holds on the parsed samples (30 s unless
    /// <paramref name="timeout"/> says otherwise); the timeout error carries the last scrape and the agent's log.
    /// </summary>
    public static async Task<Dictionary<string, double>> ScrapeUntilAsync(
        this AgentProcess agent, HttpClient client, Func<Dictionary<string, double>, bool> condition, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var body = await agent.ScrapeAsync(client);
            var samples = PromSamples.Parse(body);
            if (condition(samples))
            {
                return samples;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"condition not met within {limit.TotalSeconds} s; last scrape:\n{body}\nlog:\n{agent.Log}");
            }

            await Task.Delay(100);
        }
    }
}
