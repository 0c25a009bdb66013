using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.MemInfo;

/// <summary>
/// node_exporter's meminfo collector: one gauge per <c>/proc/meminfo</c> field, <c>node_memory_&lt;Field&gt;_bytes</c>
/// (KiB × 1024) or <c>node_memory_&lt;Field&gt;</c> for unitless fields such as <c>HugePages_Total</c>.
/// </summary>
/// <remarks>
/// The set of fields depends on the kernel, so families are declared the first time a field is seen and then
/// found again through a span-keyed lookup, which keeps steady-state updates free of allocations.
/// </remarks>
internal sealed class MemInfoCollector : ICollector
{
    private readonly TextFileReader _reader = new();
    private readonly List<MemInfoField> _fields = new(64);
    private readonly Dictionary<string, MetricFamily?> _families = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MetricFamily?>.AlternateLookup<ReadOnlySpan<char>> _familyLookup;
    private readonly CollectorContext _context;
    private readonly string _path;

    public MemInfoCollector(CollectorContext context)
    {
        _context = context;
        _path = context.Paths.Proc("meminfo");
        _familyLookup = _families.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "meminfo", "Memory statistics from /proc/meminfo.", true, Cadence.OnScrape, TimeSpan.Zero, c => new MemInfoCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        var text = _reader.ReadAll(_path);
        MemInfoParser.Parse(text, _fields).ValueOrThrow(_path);
        foreach (var field in _fields)
        {
            var name = text[field.Name];
            if (!_familyLookup.TryGetValue(name, out var family))
            {
                family = Declare(name, field.InKibibytes);
                _familyLookup[name] = family;
            }

            // node_exporter multiplies the parsed float by 1024; doing the same keeps the value bit-identical.
            family?.Get().Set(field.InKibibytes ? field.Value * 1024.0 : field.Value);
        }
    }

    private MetricFamily? Declare(ReadOnlySpan<char> field, bool inKibibytes)
    {
        var metric = MemInfoParser.MetricName(field, inKibibytes);
        if (!MetricNames.IsValidMetricName(metric))
        {
            HostCollectorLog.MemInfoFieldSkipped(_context.Logger, field.ToString());
            return null;
        }

        // node_exporter types a field as a counter when its name ends in _total; no kernel field does, but a
        // counter must end in _total anyway, so the rule is the same as ours.
        var help = $"Memory information field {metric["node_memory_".Length..]}.";
        try
        {
            return metric.EndsWith("_total", StringComparison.Ordinal)
                ? _context.Group.Counter(metric, help)
                : _context.Group.Gauge(metric, help);
        }
        catch (ArgumentException)
        {
            // Another field already owns the name ("Active(anon)" and "Active_anon" both make node_memory_Active_anon;
            // "X_total" and "X" both claim the OpenMetrics family node_memory_X). Keep the first, as node_exporter
            // would refuse the second; without this the collector failed on every scrape.
            HostCollectorLog.MemInfoFieldSkipped(_context.Logger, field.ToString());
            return null;
        }
    }
}
