using System.Text.RegularExpressions;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.VmStat;

/// <summary>
/// node_exporter's vmstat collector: one untyped <c>node_vmstat_&lt;field&gt;</c> per line of <c>/proc/vmstat</c> whose
/// name matches <c>--collector.vmstat.fields</c> (default <c>^(oom_kill|pgpg|pswp|pg.*fault).*</c>, matched anywhere
/// in the name as Go's MatchString does). As node_exporter 1.5.0: a value that is not a number fails the collector.
/// </summary>
internal sealed class VmStatCollector : ICollector
{
    /// <summary>node_exporter 1.5.0's default field pattern.</summary>
    public const string DefaultFields = "^(oom_kill|pgpg|pswp|pg.*fault).*";

    private readonly TextFileReader _reader = new();
    private readonly FieldPositions _positions;
    private readonly CollectorContext _context;
    private readonly Regex _fields;
    private readonly string _path;

    public VmStatCollector(CollectorContext context)
    {
        _context = context;
        _path = context.Paths.Proc("vmstat");
        _fields = new Regex(context.Settings["fields"] ?? DefaultFields, RegexOptions.CultureInvariant);
        _positions = new FieldPositions(Decide);
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "vmstat", "Virtual memory statistics from /proc/vmstat.", true, Cadence.OnScrape, TimeSpan.Zero, c => new VmStatCollector(c),
        [new CollectorFlag("fields", DefaultFields, "Regexp of fields to return for vmstat collector.", FlagKind.Regex)]);

    public void Update(CancellationToken cancellationToken)
    {
        var lines = new LineReader(_reader.ReadAll(_path));
        var position = 0;
        while (lines.TryNext(out var line))
        {
            var fields = new FieldReader(line);
            if (!fields.TryNext(out var name))
            {
                continue;
            }

            // Every value must be a number (node_exporter parses them all); only the exported ones are converted.
            var family = _positions.At(position++, name);
            var value = 0.0;
            if (!fields.TryNext(out var text) || (family is null ? !Numbers.IsDouble(text) : !Numbers.TryParseDouble(text, out value)))
            {
                throw new MalformedSourceException(_path, $"field '{name}' has no number");
            }

            family?.Get().Set(value);
        }
    }

    private MetricFamily? Decide(string name) =>
        _fields.IsMatch(name) && MetricNames.IsValidMetricName($"node_vmstat_{name}")
            ? _context.Group.Untyped($"node_vmstat_{name}", $"/proc/vmstat information field {name}.")
            : null;
}
