using System.Runtime.CompilerServices;
using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.NetDev;

/// <summary>The 16 counters of one <c>/proc/net/dev</c> line, in column order (see <see cref="NetDevParser.Columns"/>).</summary>
[InlineArray(NetDevParser.ColumnCount)]
internal struct NetDevCounters
{
    private ulong _element0;
}

/// <summary>One interface line of <c>/proc/net/dev</c>.</summary>
/// <param name="Name">Where the interface name lies in the parsed line.</param>
/// <param name="Counters">Receive then transmit counters, in <see cref="NetDevParser.Columns"/> order.</param>
internal readonly record struct NetDevLine(Range Name, NetDevCounters Counters);

/// <summary>
/// Parses <c>/proc/net/dev</c>: two header lines, then <c>iface: rx×8 tx×8</c>. The kernel has printed the same 16
/// columns since 2.6 (net/core/net-procfs.c), so they are fixed here rather than read from the header.
/// </summary>
internal static class NetDevParser
{
    /// <summary>Counters per line.</summary>
    public const int ColumnCount = 16;

    /// <summary>Header lines before the first interface.</summary>
    public const int HeaderLines = 2;

    /// <summary>
    /// The metric key of each column as node_exporter names it with its legacy (default) naming: the header's
    /// names prefixed with the direction, except <c>errs</c>, <c>drop</c> and <c>colls</c> kept short.
    /// </summary>
    public static readonly string[] Columns =
    [
        "receive_bytes", "receive_packets", "receive_errs", "receive_drop", "receive_fifo", "receive_frame", "receive_compressed", "receive_multicast",
        "transmit_bytes", "transmit_packets", "transmit_errs", "transmit_drop", "transmit_fifo", "transmit_colls", "transmit_carrier", "transmit_compressed",
    ];

    /// <summary>Parses one interface line; never throws.</summary>
    public static ParseResult<NetDevLine> ParseLine(ReadOnlySpan<char> line)
    {
        // Interface names may contain ':' (aliases such as eth0:1 in old kernels), so split at the last one, as procfs does.
        var colon = line.LastIndexOf(':');
        if (colon < 0)
        {
            return ParseResult<NetDevLine>.Fail("missing ':' after the interface name");
        }

        var nameSpan = line[..colon];
        var start = nameSpan.Length - nameSpan.TrimStart().Length;
        var end = nameSpan.TrimEnd().Length;
        if (end <= start)
        {
            return ParseResult<NetDevLine>.Fail("empty interface name");
        }

        var name = line[start..end];
        var counters = default(NetDevCounters);
        var fields = new FieldReader(line[(colon + 1)..]);
        for (var i = 0; i < ColumnCount; i++)
        {
            if (!fields.TryNext(out var field))
            {
                return ParseResult<NetDevLine>.Fail($"{name}: expected {ColumnCount} counters, found {i}");
            }

            if (!Numbers.TryParseUInt64(field, out counters[i]))
            {
                return ParseResult<NetDevLine>.Fail($"{name}: {Columns[i]} is not an unsigned 64-bit integer: '{field}'");
            }
        }

        if (fields.TryNext(out var extra))
        {
            return ParseResult<NetDevLine>.Fail($"{name}: more than {ColumnCount} counters ('{extra}')");
        }

        return ParseResult<NetDevLine>.Ok(new NetDevLine(new Range(start, end), counters));
    }
}
