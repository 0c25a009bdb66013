using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.SchedStat;

/// <summary>
/// node_exporter's schedstat collector: <c>node_schedstat_{running,waiting}_seconds_total{cpu}</c> and
/// <c>node_schedstat_timeslices_total{cpu}</c>, fields 7–9 of the <c>cpuN</c> lines of <c>/proc/schedstat</c>.
/// </summary>
/// <remarks>
/// procfs v0.8.0 matches each line against the unanchored <c>cpu(\d+)( (\d+)){9}</c> and skips lines that do not
/// match or whose numbers overflow, so no content fails the collector; only an unreadable file does. A missing file
/// (kernel without CONFIG_SCHEDSTATS) gives no series (node_exporter: ErrNoData; we report success).
/// </remarks>
internal sealed class SchedStatCollector : ICollector
{
    private readonly ChunkedLineReader _lines = new();
    private readonly ILogger _logger;
    private readonly string _path;
    private readonly MetricFamily _running;
    private readonly MetricFamily _waiting;
    private readonly MetricFamily _timeslices;
    private readonly Dictionary<string, string> _cpuLabels = new(StringComparer.Ordinal);
    private bool _loggedMissing;

    public SchedStatCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _path = context.Paths.Proc("schedstat");
        var g = context.Group;
        _running = g.Counter("node_schedstat_running_seconds_total", "Number of seconds CPU spent running a process.", "cpu");
        _waiting = g.Counter("node_schedstat_waiting_seconds_total", "Number of seconds spent by processing waiting for this CPU.", "cpu");
        _timeslices = g.Counter("node_schedstat_timeslices_total", "Number of timeslices executed by CPU.", "cpu");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "schedstat", "Task scheduler statistics from /proc/schedstat.", true, Cadence.OnScrape, TimeSpan.Zero, c => new SchedStatCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        // On a kernel without CONFIG_SCHEDSTATS: one failed open, no exception per scrape.
        var self = this;
        var found = _lines.TryForEachLine(_path, ref self, static (line, _, ref self) =>
        {
            if (TryParseCpuLine(line, out var cpu, out var running, out var waiting, out var slices))
            {
                var label = self.Label(cpu);
                self._running.Get(label).Set(running / 1e9);
                self._waiting.Get(label).Set(waiting / 1e9);
                self._timeslices.Get(label).Set(slices);
            }
        });
        if (!found)
        {
            SourceLog.MissingOnce(_logger, ref _loggedMissing, "schedstat", _path, "schedstat file does not exist");
        }
    }

    private string Label(ReadOnlySpan<char> cpu)
    {
        var lookup = _cpuLabels.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!lookup.TryGetValue(cpu, out var label))
        {
            label = cpu.ToString();
            _cpuLabels[label] = label;
        }

        return label;
    }

    /// <summary>
    /// The leftmost match of <c>cpu(\d+) (\d+) ... (\d+)</c> (nine numbers after the CPU) in <paramref name="line"/>;
    /// false when there is none or one of the last three numbers overflows a u64, as procfs v0.8.0 decides.
    /// </summary>
    internal static bool TryParseCpuLine(ReadOnlySpan<char> line, out ReadOnlySpan<char> cpu, out ulong running, out ulong waiting, out ulong slices)
    {
        cpu = default;
        running = waiting = slices = 0;
        var from = 0;
        while (true)
        {
            var at = line[from..].IndexOf("cpu");
            if (at < 0)
            {
                return false;
            }

            var start = from + at;
            from = start + 1;
            var p = start + 3;
            var cpuStart = p;
            while (p < line.Length && char.IsAsciiDigit(line[p]))
            {
                p++;
            }

            if (p == cpuStart)
            {
                continue;
            }

            var cpuEnd = p;
            Span<Range> numbers = stackalloc Range[9];
            var ok = true;
            for (var i = 0; i < 9 && ok; i++)
            {
                if (p >= line.Length || line[p] != ' ')
                {
                    ok = false;
                    break;
                }

                var numberStart = ++p;
                while (p < line.Length && char.IsAsciiDigit(line[p]))
                {
                    p++;
                }

                ok = p > numberStart;
                numbers[i] = new Range(numberStart, p);
            }

            if (!ok)
            {
                continue;
            }

            cpu = line[cpuStart..cpuEnd];
            return Numbers.TryParseUInt64(line[numbers[6]], out running)
                && Numbers.TryParseUInt64(line[numbers[7]], out waiting)
                && Numbers.TryParseUInt64(line[numbers[8]], out slices);
        }
    }
}
