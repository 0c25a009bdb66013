using System.Diagnostics;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// The time collector reads this machine's clock, zone and clocksources, so its clock values have no golden: they are
/// compared with what the real node_exporter 1.5.0 serves on the same machine. Metadata (HELP, TYPE) and series
/// (names, labels) must be identical; <c>node_time_seconds</c> must lie between node_exporter's answers just before and
/// just after ours (a clock read between two others cannot be outside them); the zone and clocksources are exact.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class TimeTests
{
    [Fact]
    public async Task Time_SameSeriesAsNodeExporter_ClockBetweenItsTwoAnswers()
    {
        await using var peer = await NodeExporterPeer.StartAsync("time");
        await using var agent = await AgentProcess.StartAsync("--collector.disable-defaults", "--collector.time");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        var before = await peer.ScrapeAsync(client);
        var mine = await agent.ScrapeAsync(client);
        var after = await peer.ScrapeAsync(client);

        NodeExporterPeer.AssertSandwiched(before, mine, after, "node_time_", tolerance: 0.001);
    }
}

/// <summary>The real node_exporter 1.5.0 with one collector, on this machine, for live comparisons.</summary>
internal sealed class NodeExporterPeer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly int _port;

    private NodeExporterPeer(Process process, int port)
    {
        _process = process;
        _port = port;
    }

    public static async Task<NodeExporterPeer> StartAsync(string collector)
    {
        var exporter = ExternalTool.Require("prometheus-node-exporter", "prometheus-node-exporter");
        var port = ExternalTool.FreePort();
        var info = new ProcessStartInfo("timeout") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "120", exporter, "--collector.disable-defaults", $"--collector.{collector}", $"--web.listen-address=127.0.0.1:{port}" })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var peer = new NodeExporterPeer(process, port);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                await peer.ScrapeAsync(client);
                return peer;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }

        await peer.DisposeAsync();
        throw new InvalidOperationException("node_exporter did not start");
    }

    public Task<string> ScrapeAsync(HttpClient client) => client.GetStringAsync(new Uri($"http://127.0.0.1:{_port}/metrics"));

    /// <summary>
    /// Same HELP/TYPE and same series keys for the families under <paramref name="prefix"/>; each of our values lies
    /// between node_exporter's value before and after (widened by <paramref name="tolerance"/>).
    /// </summary>
    public static void AssertSandwiched(string before, string mine, string after, string prefix, double tolerance)
    {
        var first = PromSamples.Only(PromSamples.Parse(before), prefix);
        var ours = PromSamples.Only(PromSamples.Parse(mine), prefix);
        var last = PromSamples.Only(PromSamples.Parse(after), prefix);
        Assert.NotEmpty(first);
        Assert.Equal(first.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in ours)
        {
            var low = Math.Min(first[key], last[key]) - tolerance;
            var high = Math.Max(first[key], last[key]) + tolerance;
            Assert.True(value >= low && value <= high, $"{key}: ours {value}, node_exporter {first[key]} then {last[key]}");
        }

        PromMetadata.AssertSame(Families(before, prefix), Families(mine, prefix));
    }

    private static string Families(string text, string prefix) =>
        string.Join('\n', text.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal) || l.StartsWith("# HELP " + prefix, StringComparison.Ordinal) || l.StartsWith("# TYPE " + prefix, StringComparison.Ordinal)));

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
