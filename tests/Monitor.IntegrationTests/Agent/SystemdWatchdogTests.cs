using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Monitor.IntegrationTests.Gpu;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// The agent under systemd's service protocol, with a stand-in for systemd's notification socket: READY once the
/// listener is bound, watchdog pings at half of <c>WATCHDOG_USEC</c>, pings that go on while every GPU hangs, pings
/// that stop when the agent's own supervision loop is wedged (a test-only fault switch), and STOPPING on SIGTERM.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class SystemdWatchdogTests(FakeNvmlFixture fake) : IClassFixture<FakeNvmlFixture>
{
    /// <summary>1 s: the agent pings every 0.5 s (the rate test).</summary>
    private const string WatchdogUsec = "1000000";

    /// <summary>
    /// 2 s: pings every 1 s, each self-check allowed 1 s. For the tests about what stops the pings, so a machine busy
    /// with other tests does not withhold one for a slow self-check.
    /// </summary>
    private const string RelaxedWatchdogUsec = "2000000";

    [Fact]
    public async Task Ready_NamesTheBoundPort_ThenPingsAtHalfTheInterval_ThenStopping()
    {
        using var systemd = new NotifySocket();
        await using var agent = await AgentProcess.StartAsync(systemd.Environment(WatchdogUsec), "--collector.disable-defaults", "--collector.loadavg");

        var ready = await systemd.WaitForAsync(m => m.Text.StartsWith("READY=1", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        // The status names the port the kernel gave the listener (it asked for port 0): READY came after the bind.
        Assert.Contains($"STATUS=serving on http://127.0.0.1:{agent.BaseAddress.Port}", ready.Text, StringComparison.Ordinal);
        Assert.Equal(ready, systemd.Messages[0]);

        var from = systemd.Messages.Count;
        await Task.Delay(TimeSpan.FromSeconds(5));
        var pings = systemd.Messages.Skip(from).Where(m => m.Text == "WATCHDOG=1").ToList();
        // Every 0.5 s: 10 in 5 s; the bounds leave room for a loaded machine, not for another rate.
        Assert.InRange(pings.Count, 5, 12);
        Assert.Contains("systemd watchdog: WatchdogSec 1 s; pinging every 0.5 s", agent.Log, StringComparison.Ordinal);

        await agent.TerminateAsync(TimeSpan.FromSeconds(10));
        await systemd.WaitForAsync(m => m.Text == "STOPPING=1", TimeSpan.FromSeconds(5));
        Assert.Single(systemd.Messages, m => m.Text.StartsWith("READY=1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EveryGpuHung_PingsGoOn()
    {
        using var systemd = new NotifySocket();
        var environment = systemd.Environment(RelaxedWatchdogUsec);
        environment["FAKE_NVML_GPUS"] = "1";
        environment["FAKE_NVML_HANG"] = "0";
        await using var agent = await AgentProcess.StartAsync(
            environment, $"--nvml.library={fake.Current}", "--collector.disable-defaults", "--collector.gpu", "--collector.gpu.device-timeout=300ms");

        // The only GPU is hung: its sampler has given up on it.
        await agent.WaitForLogAsync("has not returned within", TimeSpan.FromSeconds(30));
        var from = systemd.Messages.Count;
        await Task.Delay(TimeSpan.FromSeconds(6));
        var pings = systemd.Messages.Skip(from).Count(m => m.Text == "WATCHDOG=1");

        // One a second: 6 expected. A withheld ping would show as fewer; a hung GPU never withholds one.
        Assert.InRange(pings, 4, 8);
        using var client = new HttpClient();
        Assert.Contains("gpu_sampling_stalled{gpu=\"0\"", await agent.ScrapeAsync(client), StringComparison.Ordinal);
        Assert.DoesNotContain("supervision loop last ran", agent.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SupervisionLoopWedged_PingsStop()
    {
        using var systemd = new NotifySocket();
        var environment = systemd.Environment(RelaxedWatchdogUsec);
        environment["MONITOR_AGENT_TEST_FAULT"] = "wedge-supervisor-after=1";
        await using var agent = await AgentProcess.StartAsync(environment, "--collector.disable-defaults", "--collector.loadavg");

        // The loop beats at start and stops at its first tick after 1 s; 6 s after the last beat the pings stop.
        await agent.WaitForLogAsync("Not pinging the systemd watchdog: the supervision loop last ran", TimeSpan.FromSeconds(20));
        var before = systemd.Messages.Count(m => m.Text == "WATCHDOG=1");
        // A ping sent just before the decision may still be in the socket's queue; give the reader a moment.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        var atStop = systemd.Messages.Count(m => m.Text == "WATCHDOG=1");
        await Task.Delay(TimeSpan.FromSeconds(3));
        var after = systemd.Messages.Count(m => m.Text == "WATCHDOG=1");

        Assert.True(before >= 2, $"only {before} pings before the loop was seen wedged");
        Assert.Equal(atStop, after);
        // The agent still serves: the watchdog, not the agent, decides that it must be restarted.
        using var client = new HttpClient();
        Assert.Contains("node_load1", await agent.ScrapeAsync(client), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutNotifySocket_NothingIsSent_AndTheAgentServes()
    {
        using var systemd = new NotifySocket();
        // WATCHDOG_USEC without NOTIFY_SOCKET, as when a unit's environment leaks into a shell.
        await using var agent = await AgentProcess.StartAsync(new Dictionary<string, string> { ["WATCHDOG_USEC"] = WatchdogUsec }, "--collector.disable-defaults", "--collector.loadavg");
        using var client = new HttpClient();

        Assert.Contains("node_load1", await agent.ScrapeAsync(client), StringComparison.Ordinal);
        Assert.DoesNotContain("systemd watchdog", agent.Log, StringComparison.Ordinal);
        Assert.Empty(systemd.Messages);
    }

    /// <summary>A datagram from the agent and when it came.</summary>
    private sealed record Message(string Text, TimeSpan At);

    /// <summary>systemd's end of sd_notify: a datagram socket in a temporary directory that records what arrives.</summary>
    private sealed class NotifySocket : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("monitor-notify-").FullName;
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        private readonly List<Message> _messages = [];
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly CancellationTokenSource _stop = new();

        public NotifySocket()
        {
            _socket.Bind(new UnixDomainSocketEndPoint(SocketPath));
            _ = Task.Run(ReceiveAsync);
        }

        private string SocketPath => Path.Join(_directory, "notify");

        public IReadOnlyList<Message> Messages
        {
            get
            {
                lock (_messages)
                {
                    return [.. _messages];
                }
            }
        }

        public Dictionary<string, string> Environment(string watchdogUsec) => new()
        {
            ["NOTIFY_SOCKET"] = SocketPath,
            ["WATCHDOG_USEC"] = watchdogUsec,
        };

        public async Task<Message> WaitForAsync(Func<Message, bool> match, TimeSpan timeout)
        {
            var deadline = _clock.Elapsed + timeout;
            while (true)
            {
                if (Messages.FirstOrDefault(match) is { } found)
                {
                    return found;
                }

                Assert.True(_clock.Elapsed < deadline, $"no matching datagram within {timeout}; got: {string.Join(" | ", Messages.Select(m => m.Text))}");
                await Task.Delay(20);
            }
        }

        private async Task ReceiveAsync()
        {
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    lock (_messages)
                    {
                        _messages.Add(new Message(Encoding.UTF8.GetString(buffer, 0, n), _clock.Elapsed));
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // Disposed.
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            _stop.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }
}
