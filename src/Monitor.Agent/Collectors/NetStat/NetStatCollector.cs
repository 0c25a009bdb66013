using System.Text.RegularExpressions;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.NetStat;

/// <summary>
/// node_exporter's netstat collector: untyped <c>node_netstat_&lt;Protocol&gt;_&lt;Field&gt;</c> for the fields of
/// <c>/proc/net/netstat</c> and <c>/proc/net/snmp</c> (pairs of lines, <c>TcpExt: SyncookiesSent …</c> then
/// <c>TcpExt: 0 …</c>) and <c>/proc/net/snmp6</c> (<c>Ip6InReceives 7</c>, split at its first "6") whose
/// <c>Protocol_Field</c> matches <c>--collector.netstat.fields</c>. As node_exporter 1.5.0: a missing snmp6 (no IPv6)
/// is skipped; a missing netstat or snmp, or a malformed line, fails the collector.
/// </summary>
internal sealed class NetStatCollector : ICollector
{
    /// <summary>node_exporter 1.5.0's default field pattern.</summary>
    public const string DefaultFields =
        "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

    private readonly TextFileReader _reader = new();
    private readonly FieldPositions _netstatPositions;
    private readonly FieldPositions _snmpPositions;
    private readonly FieldPositions _snmp6Positions;
    private readonly CollectorContext _context;
    private readonly Regex _fields;
    private readonly string _netstat;
    private readonly string _snmp;
    private readonly string _snmp6;

    public NetStatCollector(CollectorContext context)
    {
        _context = context;
        _netstat = context.Paths.Proc("net/netstat");
        _snmp = context.Paths.Proc("net/snmp");
        _snmp6 = context.Paths.Proc("net/snmp6");
        _fields = new Regex(context.Settings["fields"] ?? DefaultFields, RegexOptions.CultureInvariant);
        _netstatPositions = new FieldPositions(Decide);
        _snmpPositions = new FieldPositions(Decide);
        _snmp6Positions = new FieldPositions(Decide);
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "netstat", "Network statistics from /proc/net/netstat, snmp and snmp6.", true, Cadence.OnScrape, TimeSpan.Zero, c => new NetStatCollector(c),
        [new CollectorFlag("fields", DefaultFields, "Regexp of fields to return for netstat collector.", FlagKind.Regex)]);

    public void Update(CancellationToken cancellationToken)
    {
        Pairs(_netstat, _netstatPositions);
        Pairs(_snmp, _snmpPositions);
        if (_reader.TryReadAll(_snmp6, out var snmp6))
        {
            Snmp6(snmp6, _snmp6);
        }
    }

    /// <summary>A file of line pairs: the protocol's field names, then their values.</summary>
    private void Pairs(string path, FieldPositions positions)
    {
        var lines = new LineReader(_reader.ReadAll(path));
        var position = 0;
        while (lines.TryNext(out var names))
        {
            if (names.Trim().Length == 0)
            {
                continue;
            }

            if (!lines.TryNext(out var values))
            {
                throw new MalformedSourceException(path, $"no line of values after '{Head(names)}'");
            }

            var colon = names.IndexOf(':');
            if (colon <= 0 || values.IndexOf(':') != colon || !names[..colon].SequenceEqual(values[..colon]))
            {
                throw new MalformedSourceException(path, $"the lines of '{Head(names)}' do not pair up");
            }

            var protocol = names[..colon];
            var nameFields = new FieldReader(names[(colon + 1)..]);
            var valueFields = new FieldReader(values[(colon + 1)..]);
            while (nameFields.TryNext(out var name))
            {
                // Every value must be a number (node_exporter parses them all); only the exported ones are converted.
                var family = Family(positions, position++, protocol, name);
                var value = 0.0;
                if (!valueFields.TryNext(out var text) || (family is null ? !Numbers.IsDouble(text) : !Numbers.TryParseDouble(text, out value)))
                {
                    throw new MalformedSourceException(path, $"{protocol}: no number for '{name}'");
                }

                family?.Get().Set(value);
            }
        }
    }

    /// <summary><c>/proc/net/snmp6</c>: one <c>Ip6InReceives 7</c> a line; the protocol ends at the name's first "6".</summary>
    private void Snmp6(ReadOnlySpan<char> content, string path)
    {
        var lines = new LineReader(content);
        var position = 0;
        while (lines.TryNext(out var line))
        {
            var fields = new FieldReader(line);
            if (!fields.TryNext(out var stat))
            {
                continue;
            }

            var six = stat.IndexOf('6');
            var family = six > 0 ? Family(_snmp6Positions, position++, stat[..(six + 1)], stat[(six + 1)..]) : null;
            var value = 0.0;
            if (six <= 0 || !fields.TryNext(out var text) || (family is null ? !Numbers.IsDouble(text) : !Numbers.TryParseDouble(text, out value)))
            {
                throw new MalformedSourceException(path, $"malformed line '{Head(line)}'");
            }

            family?.Get().Set(value);
        }
    }

    /// <summary>The family of <c>Protocol_Field</c> found at <paramref name="position"/> of its file.</summary>
    private static MetricFamily? Family(FieldPositions positions, int position, ReadOnlySpan<char> protocol, ReadOnlySpan<char> field)
    {
        Span<char> key = stackalloc char[protocol.Length + field.Length + 1];
        protocol.CopyTo(key);
        key[protocol.Length] = '_';
        field.CopyTo(key[(protocol.Length + 1)..]);
        return positions.At(position, key);
    }

    /// <summary>The family of a <c>Protocol_Field</c> key (protocols have no '_'), or null when it is not exported.</summary>
    private MetricFamily? Decide(string key)
    {
        var underscore = key.IndexOf('_', StringComparison.Ordinal);
        return _fields.IsMatch(key) && MetricNames.IsValidMetricName("node_netstat_" + key)
            ? _context.Group.Untyped("node_netstat_" + key, $"Statistic {key[..underscore]}{key[(underscore + 1)..]}.")
            : null;
    }

    private static string Head(ReadOnlySpan<char> line) => line.Length <= 40 ? line.ToString() : string.Concat(line[..40], "…");
}
