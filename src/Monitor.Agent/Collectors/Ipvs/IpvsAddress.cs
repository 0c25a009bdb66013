using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.Ipvs;

/// <summary>The <c>IP:Port</c> fields of <c>/proc/net/ip_vs</c>, parsed as procfs 0.8.0 and printed as Go prints <c>net.IP</c>.</summary>
internal static class IpvsAddress
{
    /// <summary>
    /// <c>C0A80016:0CEA</c> (13 chars: 8 hex digits of IPv4, a colon, a hex port) or <c>[2620:0000:...:0001]:0050</c>
    /// (46 chars: a full IPv6 address in brackets). Anything else fails, as in procfs.
    /// </summary>
    public static ParseResult<IpvsCollector.IpPort> ParseIpPort(ReadOnlySpan<char> s)
    {
        string address;
        switch (s.Length)
        {
            case 13:
                Span<byte> v4 = stackalloc byte[4];
                for (var i = 0; i < 4; i++)
                {
                    if (!IpvsCollector.TryParseHex(s.Slice(i * 2, 2), 8, out var b))
                    {
                        return ParseResult<IpvsCollector.IpPort>.Fail($"invalid IPv4 address: '{s[..8]}'");
                    }

                    v4[i] = (byte)b;
                }

                address = string.Create(CultureInfo.InvariantCulture, $"{v4[0]}.{v4[1]}.{v4[2]}.{v4[3]}");
                break;
            case 46:
                var text = s[1..40];
                if (text.Contains('%') || !IPAddress.TryParse(text, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
                {
                    return ParseResult<IpvsCollector.IpPort>.Fail($"invalid IPv6 address: {text}");
                }

                address = FormatLikeGo(ip);
                break;
            default:
                return ParseResult<IpvsCollector.IpPort>.Fail($"unexpected IP:Port: {s}");
        }

        var portText = s[^4..];
        if (!IpvsCollector.TryParseHex(portText, 16, out var port))
        {
            return ParseResult<IpvsCollector.IpPort>.Fail($"invalid port: '{portText}'");
        }

        return ParseResult<IpvsCollector.IpPort>.Ok(new(address, port.ToString(CultureInfo.InvariantCulture)));
    }

    /// <summary>
    /// Go's <c>net.IP.String</c> for a 16-byte address: IPv4-mapped (<c>::ffff:a.b.c.d</c>) as dotted IPv4, otherwise
    /// lower-case hex groups without leading zeros, the longest run of two or more zero groups (the first on a tie)
    /// written <c>::</c>. .NET's own formatting differs for IPv4-compatible addresses (<c>::1.2.3.4</c>).
    /// </summary>
    public static string FormatLikeGo(IPAddress ip)
    {
        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out _);
        if (bytes[..10].IndexOfAnyExcept((byte)0) < 0 && bytes[10] == 0xff && bytes[11] == 0xff)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{bytes[12]}.{bytes[13]}.{bytes[14]}.{bytes[15]}");
        }

        Span<int> groups = stackalloc int[8];
        for (var i = 0; i < 8; i++)
        {
            groups[i] = (bytes[2 * i] << 8) | bytes[(2 * i) + 1];
        }

        int bestStart = -1, bestLength = 0;
        for (var i = 0; i < 8;)
        {
            if (groups[i] != 0)
            {
                i++;
                continue;
            }

            var j = i;
            while (j < 8 && groups[j] == 0)
            {
                j++;
            }

            if (j - i >= 2 && j - i > bestLength)
            {
                bestStart = i;
                bestLength = j - i;
            }

            i = j;
        }

        var sb = new StringBuilder(39);
        for (var i = 0; i < 8; i++)
        {
            if (i == bestStart)
            {
                sb.Append("::");
                i += bestLength - 1;
                continue;
            }

            if (i > 0 && i != bestStart + bestLength)
            {
                sb.Append(':');
            }

            sb.Append(groups[i].ToString("x", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }
}
