using System.Diagnostics;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// <c>node_uname_info</c> is this machine's, so it has no golden file: the agent's series is compared with what the real
/// node_exporter 1.5.0 serves on the same machine at the same time, labels and value.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class UnameTests
{
    [Fact]
    public async Task UnameInfo_SameSeriesAsNodeExporter()
    {
        var exporter = ExternalTool.Require("prometheus-node-exporter", "prometheus-node-exporter");
        var port = ExternalTool.FreePort();
        var info = new ProcessStartInfo("timeout") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "120", exporter, "--collector.disable-defaults", "--collector.uname", $"--web.listen-address=127.0.0.1:{port}" })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            string? theirs = null;
            for (var attempt = 0; attempt < 100 && theirs is null; attempt++)
            {
                try
                {
                    theirs = await client.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(100);
                }
            }

            Assert.NotNull(theirs);
            await using var agent = await AgentProcess.StartAsync("--collector.disable-defaults", "--collector.uname");
            var mine = await agent.ScrapeAsync(client);

            var expected = PromSamples.Only(PromSamples.Parse(theirs), "node_uname_info");
            Assert.Single(expected);
            Assert.Equal(expected, PromSamples.Only(PromSamples.Parse(mine), "node_uname_info"));
            PromMetadata.AssertSame(Family(theirs), Family(mine));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>The HELP, TYPE and sample lines of node_uname_info.</summary>
    private static string Family(string text) =>
        string.Join('\n', text.Split('\n').Where(l => l.Contains("node_uname_info", StringComparison.Ordinal)));
}
