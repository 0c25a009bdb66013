using System.Globalization;
using System.Net;

namespace Monitor.Agent.Configuration;

/// <summary>A parsed <c>--web.listen-address</c>: <c>:9420</c> (every interface), <c>127.0.0.1:9420</c>, <c>[::1]:9420</c>, <c>localhost:9420</c>.</summary>
/// <param name="Host">The host part; null for every interface.</param>
/// <param name="Address">The parsed IP when the host is a literal address.</param>
/// <param name="Port">TCP port; 0 picks a free one.</param>
internal sealed record ListenAddress(string? Host, IPAddress? Address, int Port)
{
    /// <summary>Parses Go's <c>host:port</c> form; false with a reason when it is not one.</summary>
    public static bool TryParse(string text, out ListenAddress? address, out string? problem)
    {
        address = null;
        var colon = text.LastIndexOf(':');
        if (colon < 0)
        {
            problem = "expected [host]:port, e.g. :9420 or 127.0.0.1:9420";
            return false;
        }

        var host = text[..colon];
        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            problem = "the port must be a number from 0 to 65535";
            return false;
        }

        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        IPAddress? ip = null;
        if (host.Length > 0 && !host.Equals("localhost", StringComparison.OrdinalIgnoreCase) && !IPAddress.TryParse(host, out ip))
        {
            problem = $"host '{host}' is not an IP address or localhost";
            return false;
        }

        address = new ListenAddress(host.Length == 0 ? null : host, ip, port);
        problem = null;
        return true;
    }
}
