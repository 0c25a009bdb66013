using System.Net;
using System.Net.Sockets;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// The shipped (trimmed, single-file) agent under small file descriptor limits, as issue 22 found it: at
/// <c>ulimit -n 256</c> 200 idle connections made the runtime abort with "Out of memory." and, in another ordering,
/// left a process that failed every request for good; at 128 and 64 it failed at start with a stack trace or silently.
/// </summary>
[Trait("Category", "AgentProcess")]
[Collection(ListenerLoadGroup.Name)]
public sealed class FileDescriptorLimitTests
{
    [Fact]
    public async Task ShippedAgent_Ulimit256With200IdleConnectionsFor25s_KeepsServingAndRecovers()
    {
        var executable = await ShippedAgentBuild.GetAsync();
        await using var agent = await AgentProcess.StartExecutableAsync(executable, "ulimit -n 256");
        await agent.WaitForLogAsync("HTTP connections (--web.max-connections)", TimeSpan.FromSeconds(30));
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        var idle = new List<Socket>();
        try
        {
            for (var i = 0; i < 200; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, agent.BaseAddress.Port));
                idle.Add(socket);
            }

            // 25 s of Prometheus-style scrapes, one a second, while the 200 connections stay open and idle.
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(25);
            var scrapes = 0;
            while (DateTime.UtcNow < until)
            {
                using var response = await client.GetAsync(agent.MetricsUri);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                scrapes++;
                await Task.Delay(1000);
            }

            Assert.True(scrapes >= 20, $"only {scrapes} scrapes in 25 s");
            Assert.False(agent.HasExited, agent.Log);
        }
        finally
        {
            foreach (var socket in idle)
            {
                socket.Dispose();
            }
        }

        // After they close, every scrape succeeds, each within 2 s, on a new connection each.
        for (var i = 0; i < 5; i++)
        {
            using var fresh = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            using var response = await fresh.GetAsync(agent.MetricsUri);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.Content.ReadAsStringAsync();
            Assert.Contains("monitor_agent_http_connections_limit ", body, StringComparison.Ordinal);
        }

        Assert.False(agent.HasExited, agent.Log);
        Assert.DoesNotContain("Out of memory", agent.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", agent.Log, StringComparison.Ordinal);
        Assert.Contains("soft limit 256, hard limit 256", agent.Log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(128)]
    [InlineData(64)]
    public async Task ShippedAgent_LimitTooLowToServe_ExitsTwoWithAMessageNamingTheLimit(int limit)
    {
        var executable = await ShippedAgentBuild.GetAsync();

        var (code, log) = await AgentProcess.RunExecutableToExitAsync(executable, $"ulimit -n {limit}");

        Assert.Equal(2, code);
        Assert.Contains($"monitor-agent: error: the file descriptor limit ({limit}) is too low", log, StringComparison.Ordinal);
        Assert.Contains("LimitNOFILE=", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Out of memory", log, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShippedAgent_SoftLimitBelowHard_RaisesItToTheHardLimit()
    {
        var executable = await ShippedAgentBuild.GetAsync();
        await using var agent = await AgentProcess.StartExecutableAsync(executable, "ulimit -S -n 300 && ulimit -H -n 4096");
        await agent.WaitForLogAsync("HTTP connections (--web.max-connections)", TimeSpan.FromSeconds(30));

        Assert.Contains("soft limit 4096, hard limit 4096", agent.Log, StringComparison.Ordinal);
        var limits = await File.ReadAllLinesAsync($"/proc/{agent.AgentPid()}/limits");
        Assert.Contains(limits, l => l.StartsWith("Max open files", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3] == "4096");
    }
}
