using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.UdpQueues;

/// <summary>
/// node_exporter's udp_queues collector: <c>node_udp_queues{queue="tx|rx",ip="v4|v6"}</c>, the tx_queue and rx_queue
/// columns of every socket in <c>/proc/net/udp</c> and <c>/proc/net/udp6</c> summed (bytes).
/// </summary>
/// <remarks>
/// As node_exporter 1.5.0 with procfs v0.8.0: a missing file skips that family (both missing: no series; node_exporter
/// returns ErrNoData, we report success); a line procfs would refuse (fewer than 10 columns, a bad address, port,
/// state, queue, uid or inode) fails the collector. The files are streamed in 64 KiB chunks, not read whole: a busy host
/// has tens of thousands of UDP sockets.
/// </remarks>
internal sealed class UdpQueuesCollector : ICollector
{
    private readonly ILogger _logger;
    private readonly string _v4Path;
    private readonly string _v6Path;
    private readonly MetricFamily _queues;
    private readonly ChunkedLineReader _lines = new();
    private bool _loggedMissing;

    public UdpQueuesCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _v4Path = context.Paths.Proc("net/udp");
        _v6Path = context.Paths.Proc("net/udp6");
        _queues = context.Group.Gauge("node_udp_queues", "Number of allocated memory in the kernel for UDP datagrams in bytes.", "queue", "ip");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "udp_queues", "UDP queued bytes from /proc/net/udp and /proc/net/udp6.", true, Cadence.OnScrape, TimeSpan.Zero, c => new UdpQueuesCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        Collect(_v4Path, "v4");
        Collect(_v6Path, "v6");
    }

    private void Collect(string path, string ip)
    {
        ulong tx = 0, rx = 0;
        // On a host without IPv6: one failed open, no exception per scrape.
        if (!Sum(path, ref tx, ref rx))
        {
            SourceLog.MissingOnce(_logger, ref _loggedMissing, "udp_queues", path, ip == "v4" ? "not collecting ipv4 based metrics" : "not collecting ipv6 based metrics");
            return;
        }

        _queues.Get("tx", ip).Set(tx);
        _queues.Get("rx", ip).Set(rx);
    }

    /// <summary>
    /// Streams the file and adds each socket line's queues; false when the file does not exist. Throws
    /// MalformedSourceException for a bad line.
    /// </summary>
    private bool Sum(string path, ref ulong tx, ref ulong rx)
    {
        var state = (Path: path, Tx: 0UL, Rx: 0UL);
        var found = _lines.TryForEachLine(path, ref state, static (line, number, ref state) =>
        {
            if (number == 1)
            {
                return; // the header
            }

            var parsed = ParseLine(line);
            if (!parsed.Success)
            {
                throw new MalformedSourceException(state.Path, $"line {number}: {parsed.Error}");
            }

            state.Tx += parsed.Value.Tx;
            state.Rx += parsed.Value.Rx;
        });
        tx = state.Tx;
        rx = state.Rx;
        return found;
    }

    /// <summary>One socket line, checked as procfs v0.8.0's parseNetIPSocketLine checks it; returns its queues.</summary>
    internal static ParseResult<(ulong Tx, ulong Rx)> ParseLine(ReadOnlySpan<char> line)
    {
        var fields = new FieldReader(line);
        Span<Range> ranges = stackalloc Range[10];
        var count = 0;
        while (count < 10 && fields.TryNext(out var field))
        {
            var start = line.Length - fields.Rest.Length - field.Length;
            ranges[count++] = new Range(start, start + field.Length);
        }

        if (count < 10)
        {
            return Fail($"cannot parse net socket line as it has less then 10 columns '{line.Trim()}'");
        }

        if (!SplitColon(line[ranges[0]], out var sl, out _) || !GoUInt.TryParseBase0(sl, out _))
        {
            return Fail($"cannot parse sl field '{line[ranges[0]]}'");
        }

        for (var i = 1; i <= 2; i++)
        {
            if (!SplitColon(line[ranges[i]], out var address, out var port) || !IsIp(address) || !TryHex(port, out _))
            {
                return Fail($"cannot parse address field '{line[ranges[i]]}'");
            }
        }

        if (!TryHex(line[ranges[3]], out _))
        {
            return Fail($"cannot parse st value '{line[ranges[3]]}'");
        }

        if (!SplitColon(line[ranges[4]], out var txText, out var rxText) || !TryHex(txText, out var tx) || !TryHex(rxText, out var rx))
        {
            return Fail($"cannot parse tx/rx queues '{line[ranges[4]]}'");
        }

        if (!GoUInt.TryParseBase0(line[ranges[7]], out _))
        {
            return Fail($"cannot parse uid value '{line[ranges[7]]}'");
        }

        if (!GoUInt.TryParseBase0(line[ranges[9]], out _))
        {
            return Fail($"cannot parse inode value '{line[ranges[9]]}'");
        }

        return ParseResult<(ulong, ulong)>.Ok((tx, rx));

        static ParseResult<(ulong Tx, ulong Rx)> Fail(string error) => ParseResult<(ulong, ulong)>.Fail(error);
    }

    /// <summary>Go's strings.Split(s, ":") giving exactly two parts.</summary>
    private static bool SplitColon(ReadOnlySpan<char> text, out ReadOnlySpan<char> left, out ReadOnlySpan<char> right)
    {
        var colon = text.IndexOf(':');
        left = colon < 0 ? text : text[..colon];
        right = colon < 0 ? default : text[(colon + 1)..];
        return colon >= 0 && !right.Contains(':');
    }

    /// <summary>An address as hex.DecodeString accepts it, of 4 or 16 bytes.</summary>
    private static bool IsIp(ReadOnlySpan<char> hex)
    {
        if (hex.Length is not (8 or 32))
        {
            return false;
        }

        foreach (var c in hex)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryHex(ReadOnlySpan<char> text, out ulong value) =>
        ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
}

/// <summary>Go's <c>strconv.ParseUint(s, 0, 64)</c>: a 0x, 0o or 0b prefix, or a leading 0 for octal; else decimal.</summary>
internal static class GoUInt
{
    /// <summary>Parses as Go does with base 0 (underscores, which Go allows there, are not).</summary>
    public static bool TryParseBase0(ReadOnlySpan<char> text, out ulong value)
    {
        value = 0;
        if (text.IsEmpty)
        {
            return false;
        }

        var radix = 10u;
        if (text.Length > 1 && text[0] == '0')
        {
            radix = char.ToLowerInvariant(text[1]) switch
            {
                'x' => 16u,
                'o' => 8u,
                'b' => 2u,
                _ => 0u,
            };
            text = radix == 0 ? text[1..] : text[2..];
            radix = radix == 0 ? 8u : radix;
            if (text.IsEmpty)
            {
                return false;
            }
        }

        foreach (var c in text)
        {
            var digit = char.IsAsciiDigit(c) ? (uint)(c - '0') : char.IsAsciiLetter(c) ? (uint)(char.ToLowerInvariant(c) - 'a' + 10) : uint.MaxValue;
            if (digit >= radix)
            {
                return false;
            }

            var next = (value * radix) + digit;
            if (value > ulong.MaxValue / radix || next < value * radix)
            {
                return false;
            }

            value = next;
        }

        return true;
    }
}
