using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.SockStat;

/// <summary>
/// node_exporter's sockstat collector over <c>/proc/net/sockstat</c> and <c>sockstat6</c>: <c>node_sockstat_sockets_used</c>,
/// and for each protocol line (<c>TCP: inuse 37 orphan 1 tw 12 alloc 61 mem 28</c>) a gauge per known field
/// (inuse, orphan, tw, alloc, mem, memory) named <c>node_sockstat_&lt;PROTO&gt;_&lt;field&gt;</c>, plus
/// <c>_mem_bytes</c> (mem × the page size). As node_exporter 1.5.0: a missing file is skipped, an unknown field is
/// ignored, a malformed line fails the collector.
/// </summary>
internal sealed class SockStatCollector : ICollector
{
    private static readonly string[] KnownFields = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];

    private readonly TextFileReader _reader = new();
    private readonly Dictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MetricFamily>.AlternateLookup<ReadOnlySpan<char>> _familyLookup;
    private readonly CollectorContext _context;
    private readonly string _v4;
    private readonly string _v6;
    private readonly MetricFamily _socketsUsed;

    public SockStatCollector(CollectorContext context)
    {
        _context = context;
        _v4 = context.Paths.Proc("net/sockstat");
        _v6 = context.Paths.Proc("net/sockstat6");
        _socketsUsed = context.Group.Gauge("node_sockstat_sockets_used", "Number of IPv4 sockets in use.");
        _familyLookup = _families.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "sockstat", "Socket statistics from /proc/net/sockstat and sockstat6.", true, Cadence.OnScrape, TimeSpan.Zero, c => new SockStatCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        Read(_v4);
        Read(_v6);
    }

    private void Read(string path)
    {
        if (!_reader.TryReadAll(path, out var content))
        {
            return;
        }

        var lines = new LineReader(content);
        while (lines.TryNext(out var line))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                throw new MalformedSourceException(path, $"no 'protocol:' in '{line}'");
            }

            var protocol = line[..colon];
            var fields = new FieldReader(line[(colon + 1)..]);
            while (fields.TryNext(out var key))
            {
                if (!fields.TryNext(out var text) || !Numbers.TryParseInt64(text, out var value))
                {
                    throw new MalformedSourceException(path, $"{protocol}: field '{key}' has no whole number");
                }

                if (protocol.SequenceEqual("sockets"))
                {
                    if (key.SequenceEqual("used"))
                    {
                        _socketsUsed.Get().Set(value);
                    }

                    continue;
                }

                if (!IsKnown(key))
                {
                    continue;
                }

                Family(protocol, key).Get().Set(value);
                if (key.SequenceEqual("mem"))
                {
                    Family(protocol, "mem_bytes").Get().Set((double)value * Environment.SystemPageSize);
                }
            }
        }
    }

    private static bool IsKnown(ReadOnlySpan<char> key)
    {
        foreach (var known in KnownFields)
        {
            if (key.SequenceEqual(known))
            {
                return true;
            }
        }

        return false;
    }

    private MetricFamily Family(ReadOnlySpan<char> protocol, ReadOnlySpan<char> field)
    {
        Span<char> name = stackalloc char[protocol.Length + field.Length + 1];
        protocol.CopyTo(name);
        name[protocol.Length] = '_';
        field.CopyTo(name[(protocol.Length + 1)..]);
        if (!_familyLookup.TryGetValue(name, out var family))
        {
            var key = name.ToString();
            family = _context.Group.Gauge($"node_sockstat_{key}", $"Number of {protocol} sockets in state {field}.");
            _families[key] = family;
        }

        return family;
    }
}
