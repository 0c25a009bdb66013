using System.Text.Json;
using System.Text.RegularExpressions;
using Monitor.Testing;
using YamlDotNet.RepresentationModel;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// The claim that node_exporter's dashboards and alerts work unchanged on the agent, tested with a real Prometheus:
/// every query of Node Exporter Full (tests/fixtures/node-exporter-full) that returns data for node_exporter 1.5.0
/// returns data for the agent, both at their defaults on this machine; and every series the node-mixin's rules
/// (alerts/node.rules.yml) read exists when the agent serves the fixture tree, where those rules also fire.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed partial class NodeExporterFullTests
{
    /// <summary>Grafana's <c>$__rate_interval</c> for a 1 s scrape interval at a short time range, rounded up.</summary>
    private const string RateInterval = "10s";

    [Fact]
    public async Task EveryDashboardQueryWithNodeExporterData_HasAgentData()
    {
        var textfiles = Directory.CreateTempSubdirectory("monitor-nef-");
        try
        {
            await File.WriteAllTextAsync(Path.Join(textfiles.FullName, "site.prom"), "# HELP site_ok A site metric.\n# TYPE site_ok gauge\nsite_ok 1\n");
            var directory = $"--collector.textfile.directory={textfiles.FullName}";
            await using var peer = await NodeExporterProcess.StartAsync(directory);
            await using var agent = await AgentProcess.StartAsync(directory);
            await using var prometheus = await PrometheusServer.StartAsync(
                $$"""
                  - job_name: node
                    static_configs: [{ targets: ['{{peer.BaseAddress.Authority}}'] }]
                  - job_name: monitor-agent
                    static_configs: [{ targets: ['{{agent.BaseAddress.Authority}}'] }]

                """);

            // Enough scrapes of each for rate() over the rate interval.
            await prometheus.WaitUntilAsync(
                async () => (await prometheus.QueryAsync("min(count_over_time(up[1m])) >= 12 and count(up == 1) == 2")).Count == 1,
                TimeSpan.FromSeconds(90),
                "Prometheus did not scrape both targets 12 times within 90 s");

            // The dashboard's variables, resolved as Grafana does: job, then nodename, then the instance.
            var (peerNode, peerName) = await NodeVariablesAsync(prometheus, "node");
            var (agentNode, agentName) = await NodeVariablesAsync(prometheus, "monitor-agent");
            Assert.Equal(peerName, agentName);

            var at = DateTimeOffset.UtcNow;
            var compared = 0;
            var missing = new List<string>();
            foreach (var line in await File.ReadAllLinesAsync(Fixtures.Path("node-exporter-full", "queries.jsonl")))
            {
                using var query = JsonDocument.Parse(line);
                var expr = query.RootElement.GetProperty("expr").GetString()!;
                var panel = $"{query.RootElement.GetProperty("row").GetString()} / {query.RootElement.GetProperty("panel").GetString()}";
                var (peerCount, peerError) = await prometheus.CountAsync(Resolve(expr, "node", peerNode), at);
                Assert.True(peerError is null, $"{panel}: {peerError}");
                if (peerCount == 0)
                {
                    continue;
                }

                compared++;
                var (agentCount, agentError) = await prometheus.CountAsync(Resolve(expr, "monitor-agent", agentNode), at);
                if (agentCount == 0)
                {
                    missing.Add($"{panel}: {expr} ({agentError ?? "no data"})");
                }
            }

            Assert.True(missing.Count == 0, $"{missing.Count} of {compared} queries with node_exporter data have none for the agent:\n" + string.Join('\n', missing));
            Assert.True(compared >= 150, $"only {compared} queries had node_exporter data");
        }
        finally
        {
            textfiles.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task NodeMixinRules_EverySeriesTheyReadExists_AndTheyFireOnTheFixture()
    {
        var rules = Path.Join(Fixtures.RepositoryRoot, "alerts", "node.rules.yml");
        await using var agent = await AgentProcess.StartAsync(FixtureTreeTests.FixtureArgs);
        await using var prometheus = await PrometheusServer.StartAsync(
            $$"""
              - job_name: monitor-agent
                static_configs: [{ targets: ['{{agent.BaseAddress.Authority}}'] }]

            """,
            [rules]);
        await prometheus.WaitUntilAsync(
            async () => (await prometheus.QueryAsync("count_over_time(up{job=\"monitor-agent\"}[1m]) >= 5")).Count == 1,
            TimeSpan.FromSeconds(60),
            "Prometheus did not scrape the agent 5 times within 60 s");

        var (names, records) = RuleSeries(rules);
        var absent = new List<string>();
        foreach (var name in names)
        {
            // Over the last minute, not at this instant: one scrape that times out (1 s here) on a loaded machine makes
            // every series stale at once, which says nothing about which series the agent exports.
            if ((await prometheus.QueryAsync($"count(last_over_time({name}{{job=\"monitor-agent\"}}[1m]))")).Count == 0)
            {
                absent.Add(name);
            }
        }

        if (absent.Count > 0)
        {
            var up = await prometheus.QueryAsync("up");
            Assert.Fail($"series the node-mixin reads and the agent does not export: {string.Join(", ", absent)}\nup: {string.Join(", ", up.Select(r => r.Value))}; agent exited: {agent.HasExited}{(agent.HasExited ? $" ({agent.ExitCode})" : "")}; agent log:\n{agent.Log}");
        }

        // Every recording rule produces data.
        await prometheus.WaitUntilAsync(
            async () =>
            {
                foreach (var record in records)
                {
                    if ((await prometheus.QueryAsync(record)).Count == 0)
                    {
                        return false;
                    }
                }

                return true;
            },
            TimeSpan.FromSeconds(30),
            "a node-mixin recording rule produced nothing: " + string.Join(", ", records));

        // The fixture tree has a broken textfile, so this one fires (it has no 'for').
        await prometheus.WaitUntilAsync(
            async () => (await prometheus.QueryAsync("ALERTS{alertname=\"NodeTextFileCollectorScrapeError\",alertstate=\"firing\",team=\"oncall\"}")).Count == 1,
            TimeSpan.FromSeconds(30),
            "NodeTextFileCollectorScrapeError did not fire on the fixture tree");
    }

    /// <summary>The node_* series names the rules' expressions read, and the names the recording rules write.</summary>
    internal static (SortedSet<string> Names, List<string> Records) RuleSeries(string file)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(file)));
        var names = new SortedSet<string>(StringComparer.Ordinal);
        var records = new List<string>();
        foreach (YamlMappingNode group in (YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["groups"])
        {
            foreach (YamlMappingNode rule in (YamlSequenceNode)group["rules"])
            {
                foreach (Match match in SeriesName().Matches(((YamlScalarNode)rule["expr"]).Value!))
                {
                    names.Add(match.Value);
                }

                if (rule.Children.TryGetValue("record", out var record))
                {
                    records.Add(((YamlScalarNode)record).Value!);
                }
            }
        }

        return (names, records);
    }

    private static async Task<(string Instance, string Nodename)> NodeVariablesAsync(PrometheusServer prometheus, string job)
    {
        Assert.Contains(job, await prometheus.LabelValuesAsync("job", "node_uname_info"));
        var nodename = Assert.Single(await prometheus.LabelValuesAsync("nodename", $"node_uname_info{{job=\"{job}\"}}"));
        var instance = Assert.Single(await prometheus.LabelValuesAsync("instance", $"node_uname_info{{job=\"{job}\",nodename=\"{nodename}\"}}"));
        return (instance, nodename);
    }

    private static string Resolve(string expr, string job, string instance) =>
        expr.Replace("$__rate_interval", RateInterval, StringComparison.Ordinal)
            .Replace("$node", instance, StringComparison.Ordinal)
            .Replace("$job", job, StringComparison.Ordinal);

    /// <summary>A node_* metric name that is not part of a recording rule's name (level:metric:operations).</summary>
    [GeneratedRegex(@"(?<![:\w])node_[A-Za-z0-9_]+(?![:\w])")]
    private static partial Regex SeriesName();
}
