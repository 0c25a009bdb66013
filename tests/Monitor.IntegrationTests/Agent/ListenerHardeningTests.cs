using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>The listener's limits against the real agent: methods, slow headers, connection floods.</summary>
[Trait("Category", "AgentProcess")]
public sealed class ListenerHardeningTests
{
    [Fact]
    public async Task Post_WithBasicAuthConfigured_Is405BeforeAuthenticationAndCostsNoVerification()
    {
        using var files = new WebConfigFiles();
        files.WriteConfig(tls: false, ("prometheus", "s3cret"));
        await using var agent = await AgentProcess.StartExecutableAsync(AgentProcess.ExecutablePath, null, $"--web.config.file={files.ConfigPath}");
        using var client = new HttpClient();

        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Options })
        {
            using var anonymous = await client.SendAsync(new HttpRequestMessage(method, agent.MetricsUri) { Content = method == HttpMethod.Post ? new StringContent("x") : null });
            Assert.Equal(HttpStatusCode.MethodNotAllowed, anonymous.StatusCode);
            Assert.Equal("GET, HEAD", string.Join(", ", anonymous.Content.Headers.Allow));
        }

        using var get = new HttpRequestMessage(HttpMethod.Get, new Uri(agent.BaseAddress, "no-such-path"));
        using var unauthorized = await client.SendAsync(get);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);

        using var head = new HttpRequestMessage(HttpMethod.Head, agent.MetricsUri);
        head.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("prometheus:s3cret")));
        using var headResponse = await client.SendAsync(head);
        Assert.Equal(HttpStatusCode.OK, headResponse.StatusCode);

        using var scrape = new HttpRequestMessage(HttpMethod.Get, agent.MetricsUri);
        scrape.Headers.Authorization = head.Headers.Authorization;
        var body = await (await client.SendAsync(scrape)).Content.ReadAsStringAsync();
        Assert.Contains("monitor_agent_http_auth_failures_total 0\n", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4 * 1024 + 1, 0, 1, "414")]      // request line over 4 KiB
    [InlineData(16, 17 * 1024, 1, "431")]        // headers over 16 KiB in total
    [InlineData(16, 8, 65, "431")]               // more than 64 headers
    [InlineData(16, 8, 60, "200")]               // within every limit
    public async Task Request_OverTheLineOrHeaderLimits_RefusedWithItsStatus(int pathLength, int headerBytes, int headerCount, string status)
    {
        await using var agent = await AgentProcess.StartExecutableAsync(AgentProcess.ExecutablePath, null);
        var request = new StringBuilder();
        request.Append("GET /metrics?").Append('a', pathLength - "/metrics?".Length).Append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (var i = 0; i < headerCount; i++)
        {
            request.Append("X-Filler-").Append(i).Append(": ").Append('b', headerBytes / headerCount).Append("\r\n");
        }

        request.Append("\r\n");
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, agent.BaseAddress.Port));
        await socket.SendAsync(Encoding.ASCII.GetBytes(request.ToString()));
        var buffer = new byte[64];
        var read = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (read < 12 && await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token) is var n and > 0)
        {
            read += n;
        }

        Assert.StartsWith($"HTTP/1.1 {status} ", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowHeaders_ConnectionThatDribblesHeaders_IsClosedByTheHeaderTimeout()
    {
        await using var agent = await AgentProcess.StartExecutableAsync(AgentProcess.ExecutablePath, null);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, agent.BaseAddress.Port));
        await socket.SendAsync("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"u8.ToArray());

        // One header byte a second, never the blank line: Kestrel's RequestHeadersTimeout (10 s) must end it.
        var closed = false;
        var buffer = new byte[4096];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (!closed && DateTime.UtcNow < deadline)
        {
            try
            {
                await socket.SendAsync("X"u8.ToArray());
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, wait.Token);
                closed = read == 0 || Encoding.ASCII.GetString(buffer, 0, read).StartsWith("HTTP/1.1 408", StringComparison.Ordinal);
            }
            catch (OperationCanceledException)
            {
                // Still open; dribble on.
            }
            catch (SocketException)
            {
                closed = true;
            }
        }

        Assert.True(closed, "a connection dribbling headers stayed open for 40 s");
    }

    [Fact]
    public async Task ConnectionFlood_MoreIdleConnectionsThanTheLimit_HeldConnectionsStayCappedAndScrapesSucceed()
    {
        await using var agent = await AgentProcess.StartExecutableAsync(AgentProcess.ExecutablePath, null, "--web.max-connections=20");
        await agent.WaitForLogAsync("at most 20 HTTP connections", TimeSpan.FromSeconds(30));
        var idle = new List<Socket>();
        try
        {
            for (var i = 0; i < 300; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, agent.BaseAddress.Port));
                // Half of them start a request and never finish it.
                if (i % 2 == 0)
                {
                    await socket.SendAsync("GET /metrics HTTP/1.1\r\nHost: x\r\n"u8.ToArray());
                }

                idle.Add(socket);
            }

            for (var i = 0; i < 10; i++)
            {
                using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
                var body = await client.GetStringAsync(agent.MetricsUri);
                var open = Sample(body, "monitor_agent_http_connections");
                Assert.InRange(open, 1, 20 + 16);
                Assert.True(Sample(body, "monitor_agent_http_connections_displaced_total") > 0);
            }
        }
        finally
        {
            foreach (var socket in idle)
            {
                socket.Dispose();
            }
        }

        Assert.Contains("All 20 connection slots were taken", agent.Log, StringComparison.Ordinal);
        Assert.False(agent.HasExited);
    }

    private static double Sample(string exposition, string series)
    {
        var line = exposition.Split('\n').Single(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
