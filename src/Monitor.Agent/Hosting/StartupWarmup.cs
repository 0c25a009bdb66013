using System.IO.Compression;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Runs every request path once at start: renders the metrics in both formats and gzips them, writes the jobs JSON,
/// and sends one request to the agent's own listener (through TLS when configured).
/// </summary>
/// <remarks>
/// The runtime loads an assembly (and runs a type initializer) the first time code needs it, and remembers a failure
/// for the life of the process. Loading takes file descriptors (the single-file form keeps two open on its own
/// executable per loaded assembly; docs/performance.md), so code first needed on a request path while descriptors ran
/// out used to fail that path for good: the process stayed up, listening and failing every request, and systemd
/// never restarted it. After this warm-up the descriptor count is fixed, and what is left of the limit can be handed
/// to connections. <see cref="UnrecoverableStateMonitor"/> is the backstop for anything still loaded later.
/// </remarks>
internal static class StartupWarmup
{
    /// <summary>The request paths without HTTP: exposition, gzip, jobs JSON.</summary>
    public static void RunHandlers(MetricRegistry registry, Monitor.Agent.Jobs.JobStore jobs, TimeProvider time)
    {
        using var buffer = new PooledBufferWriter(64 * 1024);
        registry.WriteTo(buffer, ExpositionFormat.Text004);
        registry.WriteTo(buffer, ExpositionFormat.OpenMetrics100);
        using (var gzip = new GZipStream(Stream.Null, CompressionLevel.Fastest))
        {
            gzip.Write(buffer.WrittenMemory.Span);
        }

        using var json = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(json))
        {
            Monitor.Agent.Jobs.JobsApi.Write(writer, jobs, Environment.MachineName, time.GetUtcNow());
        }
    }

    /// <summary>One <c>GET /healthz</c> to the listener at <paramref name="address"/>; returns the status line.</summary>
    public static async Task<string> RequestSelfAsync(string address, CancellationToken cancellationToken)
    {
        var uri = new Uri(address);
        var host = uri.Host.Trim('[', ']');
        var ip = IPAddress.TryParse(host, out var parsed) ? parsed : IPAddress.Loopback;
        if (ip.Equals(IPAddress.Any))
        {
            ip = IPAddress.Loopback;
        }
        else if (ip.Equals(IPAddress.IPv6Any))
        {
            ip = IPAddress.IPv6Loopback;
        }

        using var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(ip, uri.Port), cancellationToken).ConfigureAwait(false);
        Stream stream = new NetworkStream(socket, ownsSocket: false);
        await using (stream.ConfigureAwait(false))
        {
            if (uri.Scheme == Uri.UriSchemeHttps)
            {
                // Our own listener: the point is to run the server's handshake code, not to check our certificate.
#pragma warning disable CA5359
                var tls = new SslStream(stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
#pragma warning restore CA5359
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, cancellationToken).ConfigureAwait(false);
                stream = tls;
            }

            await stream.WriteAsync("GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: monitor-agent-warmup\r\nConnection: close\r\n\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            var response = new byte[4096];
            var length = 0;
            int read;
            while (length < response.Length && (read = await stream.ReadAsync(response.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
            {
                length += read;
            }

            var text = Encoding.ASCII.GetString(response, 0, length);
            var end = text.IndexOf('\r', StringComparison.Ordinal);
            return end < 0 ? text : text[..end];
        }
    }
}
