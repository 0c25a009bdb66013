using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Kestrel's request limits for an endpoint whose legitimate clients are Prometheus and the aggregator: small GET
/// requests with a handful of headers, sent at once. Anything slower or larger is refused early and cheaply.
/// </summary>
internal static class ListenerLimits
{
    /// <summary>How long a client may take to send its request headers, from the first byte (slowloris).</summary>
    public static readonly TimeSpan RequestHeadersTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a TLS handshake may take.</summary>
    public static readonly TimeSpan TlsHandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Applies the limits.</summary>
    public static void Apply(KestrelServerLimits limits)
    {
        // Prometheus sends ~300 bytes of headers; 16 KiB leaves room for proxies' additions and long cookies.
        limits.MaxRequestHeadersTotalSize = 16 * 1024;
        limits.MaxRequestHeaderCount = 64;
        // The longest legitimate line is /api/v1/jobs?since=<cursor>.
        limits.MaxRequestLineSize = 4 * 1024;
        // Only GET and HEAD are served; a body is never read.
        limits.MaxRequestBodySize = 64 * 1024;
        // Prometheus' default scrape timeout is 10 s: headers still arriving after that belong to no useful request.
        limits.RequestHeadersTimeout = RequestHeadersTimeout;
        // The connection cap is ConnectionLimiter's, enforced at accept (Kestrel's own counts after accepting).
        limits.MaxConcurrentConnections = null;
        limits.Http2.MaxStreamsPerConnection = 20;
    }
}
