using System.Globalization;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Softnet;

/// <summary>
/// node_exporter's softnet collector: <c>node_softnet_{processed,dropped,times_squeezed}_total{cpu}</c> from the first
/// three hex columns of <c>/proc/net/softnet_stat</c>, one row per CPU, the label being the row's index (as procfs
/// v0.8.0 numbers them, not the kernel's CPU id). A row with fewer than 9 columns, or a first-three column that is not
/// a 32-bit hex number, fails the collector, as in node_exporter.
/// </summary>
internal sealed class SoftnetCollector : ICollector
{
    private const int MinColumns = 9;

    private readonly TextFileReader _reader = new();
    private readonly string _path;
    private readonly MetricFamily _processed;
    private readonly MetricFamily _dropped;
    private readonly MetricFamily _squeezed;
    private readonly List<string> _cpuLabels = [];
    private readonly List<(uint Processed, uint Dropped, uint Squeezed)> _rows = [];

    public SoftnetCollector(CollectorContext context)
    {
        _path = context.Paths.Proc("net/softnet_stat");
        var g = context.Group;
        _processed = g.Counter("node_softnet_processed_total", "Number of processed packets", "cpu");
        _dropped = g.Counter("node_softnet_dropped_total", "Number of dropped packets", "cpu");
        _squeezed = g.Counter("node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota", "cpu");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "softnet", "Per-CPU softnet packet statistics from /proc/net/softnet_stat.", true, Cadence.OnScrape, TimeSpan.Zero, c => new SoftnetCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        Parse(_reader.ReadAll(_path), _rows).ValueOrThrow(_path);
        for (var i = 0; i < _rows.Count; i++)
        {
            if (i == _cpuLabels.Count)
            {
                _cpuLabels.Add(i.ToString(CultureInfo.InvariantCulture));
            }

            var cpu = _cpuLabels[i];
            _processed.Get(cpu).Set(_rows[i].Processed);
            _dropped.Get(cpu).Set(_rows[i].Dropped);
            _squeezed.Get(cpu).Set(_rows[i].Squeezed);
        }
    }

    /// <summary>Parses the file into <paramref name="rows"/> (cleared first); never throws.</summary>
    internal static ParseResult<bool> Parse(ReadOnlySpan<char> text, List<(uint Processed, uint Dropped, uint Squeezed)> rows)
    {
        rows.Clear();
        if (text.EndsWith("\n"))
        {
            text = text[..^1];
        }

        var lines = new LineReader(text);
        Span<uint> first = stackalloc uint[3];
        while (lines.TryNext(out var line))
        {
            var fields = new FieldReader(line);
            var n = 0;
            string? error = null;
            while (fields.TryNext(out var field))
            {
                if (n < 3 && error is null && !uint.TryParse(field, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out first[n]))
                {
                    error = $"row {rows.Count}: '{field}' is not a 32-bit hex number";
                }

                n++;
            }

            if (n < MinColumns)
            {
                return ParseResult<bool>.Fail($"row {rows.Count}: {n} columns were detected, but at least {MinColumns} were expected");
            }

            if (error is not null)
            {
                return ParseResult<bool>.Fail(error);
            }

            rows.Add((first[0], first[1], first[2]));
        }

        return ParseResult<bool>.Ok(true);
    }
}
