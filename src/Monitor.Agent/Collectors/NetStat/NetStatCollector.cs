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
    private readonly Dictionary<string, MetricFamily?> _families = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MetricFamily?>.AlternateLookup<ReadOnlySpan<char>> _familyLookup;
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
        _familyLookup = _families.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "netstat", "Network statistics from /proc/net/netstat, snmp and snmp6.", true, Cadence.OnScrape, TimeSpan.Zero, c => new NetStatCollector(c),
        [new CollectorFlag("fields", DefaultFields, "Regexp of fields to return for netstat collector.", FlagKind.Regex)]);

    public void Update(CancellationToken cancellationToken)
    {
        Pairs(_netstat);
        Pairs(_snmp);
        if (_reader.TryReadAll(_snmp6, out var snmp6))
        {
            Snmp6(snmp6, _snmp6);
        }
    }

    /// <summary>A file of line pairs: the protocol's field names, then their values.</summary>
    private void Pairs(string path)
    {
        var lines = new LineReader(_reader.ReadAll(path));
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
                if (!valueFields.TryNext(out var text) || !Numbers.TryParseDouble(text, out var value))
                {
                    throw new MalformedSourceException(path, $"{protocol}: no number for '{name}'");
                }

                Family(protocol, name)?.Get().Set(value);
            }
        }
    }

    /// <summary><c>/proc/net/snmp6</c>: one <c>Ip6InReceives 7</c> a line; the protocol ends at the name's first "6".</summary>
    private void Snmp6(ReadOnlySpan<char> content, string path)
    {
        var lines = new LineReader(content);
        while (lines.TryNext(out var line))
        {
            var fields = new FieldReader(line);
            if (!fields.TryNext(out var stat))
            {
                continue;
            }

            var six = stat.IndexOf('6');
            if (six <= 0 || !fields.TryNext(out var text) || !Numbers.TryParseDouble(text, out var value))
            {
                throw new MalformedSourceException(path, $"malformed line '{Head(line)}'");
            }

            Family(stat[..(six + 1)], stat[(six + 1)..])?.Get().Set(value);
        }
    }

    private MetricFamily? Family(ReadOnlySpan<char> protocol, ReadOnlySpan<char> field)
    {
        Span<char> key = stackalloc char[protocol.Length + field.Length + 1];
        protocol.CopyTo(key);
        key[protocol.Length] = '_';
        field.CopyTo(key[(protocol.Length + 1)..]);
        if (!_familyLookup.TryGetValue(key, out var family))
        {
            // Decided once per field: the pattern and the name do not change.
            var text = key.ToString();
            family = _fields.IsMatch(text) && MetricNames.IsValidMetricName("node_netstat_" + text)
                ? _context.Group.Untyped("node_netstat_" + text, $"Statistic {protocol}{field}.")
                : null;
            _families[text] = family;
        }

        return family;
    }

    private static string Head(ReadOnlySpan<char> line) => line.Length <= 40 ? line.ToString() : string.Concat(line[..40], "…");
}
