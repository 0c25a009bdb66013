using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Arp;

/// <summary>
/// node_exporter's arp collector: <c>node_arp_entries{device}</c>, the entries of <c>/proc/net/arp</c> counted by
/// their device (the sixth column; the first line is the header). A line without six columns fails the collector.
/// </summary>
internal sealed class ArpCollector : ICollector
{
    private readonly TextFileReader _reader = new();
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _countLookup;
    private readonly string _path;
    private readonly MetricFamily _entries;

    public ArpCollector(CollectorContext context)
    {
        _path = context.Paths.Proc("net/arp");
        _entries = context.Group.Gauge("node_arp_entries", "ARP entries by device", "device");
        _countLookup = _counts.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "arp", "ARP entries by device from /proc/net/arp.", true, Cadence.OnScrape, TimeSpan.Zero, c => new ArpCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        foreach (var device in _counts.Keys)
        {
            _counts[device] = 0;
        }

        var lines = new LineReader(_reader.ReadAll(_path));
        var header = true;
        while (lines.TryNext(out var line))
        {
            if (header || line.Trim().Length == 0)
            {
                header = false;
                continue;
            }

            var fields = new FieldReader(line);
            ReadOnlySpan<char> device = default;
            var count = 0;
            while (fields.TryNext(out var field))
            {
                if (++count == 6)
                {
                    device = field;
                }
            }

            if (count < 6)
            {
                throw new MalformedSourceException(_path, $"expected 6 columns, found {count}");
            }

            _countLookup[device] = _countLookup.TryGetValue(device, out var seen) ? seen + 1 : 1;
        }

        List<string>? gone = null;
        foreach (var (device, count) in _counts)
        {
            if (count > 0)
            {
                _entries.Get(device).Set(count);
            }
            else
            {
                (gone ??= []).Add(device);
            }
        }

        // A device with no entry left (a veth that went away) is forgotten, so the table stays the size of today's.
        foreach (var device in gone ?? [])
        {
            _counts.Remove(device);
        }
    }
}
