using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Conntrack;

/// <summary>
/// node_exporter's conntrack collector: <c>node_nf_conntrack_entries</c> and <c>_entries_limit</c> from
/// <c>/proc/sys/net/netfilter/nf_conntrack_{count,max}</c>, and the <c>node_nf_conntrack_stat_*</c> gauges, the
/// per-CPU rows of <c>/proc/net/stat/nf_conntrack</c> (hex) summed.
/// </summary>
/// <remarks>
/// As node_exporter 1.5.0: a missing file means conntrack is not loaded (no series from that file on; node_exporter
/// returns ErrNoData, we report success, as for pressure); a bad number, or a stat row without its 17 columns, fails
/// the collector.
/// </remarks>
internal sealed class ConntrackCollector : ICollector
{
    /// <summary>Columns of a stat row, as procfs v0.8.0 requires.</summary>
    private const int StatColumns = 17;

    // Column of each exported statistic in a stat row: found, invalid, ignore, insert, insert_failed, drop, early_drop, search_restart.
    private static readonly int[] StatColumnIndex = [2, 4, 5, 8, 9, 10, 11, 16];

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _countPath;
    private readonly string _maxPath;
    private readonly string _statPath;
    private readonly MetricFamily _entries;
    private readonly MetricFamily _limit;
    private readonly MetricFamily[] _stats;
    private readonly ulong[] _sums = new ulong[8];
    private bool _loggedMissing;

    public ConntrackCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _countPath = context.Paths.Proc("sys/net/netfilter/nf_conntrack_count");
        _maxPath = context.Paths.Proc("sys/net/netfilter/nf_conntrack_max");
        _statPath = context.Paths.Proc("net/stat/nf_conntrack");
        var g = context.Group;
        _entries = g.Gauge("node_nf_conntrack_entries", "Number of currently allocated flow entries for connection tracking.");
        _limit = g.Gauge("node_nf_conntrack_entries_limit", "Maximum size of connection tracking table.");
        _stats =
        [
            g.Gauge("node_nf_conntrack_stat_found", "Number of searched entries which were successful."),
            g.Gauge("node_nf_conntrack_stat_invalid", "Number of packets seen which can not be tracked."),
            g.Gauge("node_nf_conntrack_stat_ignore", "Number of packets seen which are already connected to a conntrack entry."),
            g.Gauge("node_nf_conntrack_stat_insert", "Number of entries inserted into the list."),
            g.Gauge("node_nf_conntrack_stat_insert_failed", "Number of entries for which list insertion was attempted but failed."),
            g.Gauge("node_nf_conntrack_stat_drop", "Number of packets dropped due to conntrack failure."),
            g.Gauge("node_nf_conntrack_stat_early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."),
            g.Gauge("node_nf_conntrack_stat_search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."),
        ];
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "conntrack", "Conntrack table size and statistics from /proc/sys/net/netfilter and /proc/net/stat/nf_conntrack.", true, Cadence.OnScrape,
        TimeSpan.Zero, c => new ConntrackCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        // Same order as node_exporter: each file's series are set before the next file is read.
        if (ReadUInt(_countPath) is not { } count)
        {
            return;
        }

        _entries.Get().Set(count);
        if (ReadUInt(_maxPath) is not { } max)
        {
            return;
        }

        _limit.Get().Set(max);
        if (!_reader.TryReadAll(_statPath, out var text))
        {
            SourceLog.MissingOnce(_logger, ref _loggedMissing, "conntrack", _statPath, "conntrack probably not loaded");
            return;
        }

        ParseStat(text, _sums).ValueOrThrow(_statPath);
        for (var i = 0; i < _stats.Length; i++)
        {
            _stats[i].Get().Set(_sums[i]);
        }
    }

    /// <summary>
    /// Sums the exported columns of every row after the header into <paramref name="sums"/> (found, invalid, ignore,
    /// insert, insert_failed, drop, early_drop, search_restart), as procfs v0.8.0 reads them: 17 hex columns a row,
    /// an empty line being a row without them.
    /// </summary>
    internal static ParseResult<bool> ParseStat(ReadOnlySpan<char> text, ulong[] sums)
    {
        Array.Clear(sums);
        if (text.EndsWith("\n"))
        {
            text = text[..^1];
        }

        var lines = new LineReader(text);
        lines.TryNext(out _);
        Span<ulong> row = stackalloc ulong[StatColumns];
        var number = 1;
        while (lines.TryNext(out var line))
        {
            number++;
            var fields = new FieldReader(line);
            var n = 0;
            while (fields.TryNext(out var field))
            {
                if (n == StatColumns)
                {
                    n++;
                    break;
                }

                // procfs parses only the columns it keeps (entries and the exported ones); others may hold anything.
                if ((n == 0 || StatColumnIndex.Contains(n))
                    && !ulong.TryParse(field, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out row[n]))
                {
                    return ParseResult<bool>.Fail($"line {number}: couldn't parse '{field}' as hex");
                }

                n++;
            }

            if (n != StatColumns)
            {
                return ParseResult<bool>.Fail($"line {number}: invalid conntrackstat entry, expected {StatColumns} fields");
            }

            for (var i = 0; i < StatColumnIndex.Length; i++)
            {
                sums[i] += row[StatColumnIndex[i]];
            }
        }

        return ParseResult<bool>.Ok(true);
    }

    /// <summary>A whole number file (node_exporter's readUintFromFile); null when missing; throws when malformed.</summary>
    private ulong? ReadUInt(string path)
    {
        // Without the conntrack module: one failed open, no exception per scrape.
        if (!_reader.TryReadAll(path, out var text))
        {
            SourceLog.MissingOnce(_logger, ref _loggedMissing, "conntrack", path, "conntrack probably not loaded");
            return null;
        }

        return Numbers.TryParseUInt64(text.Trim(), out var value)
            ? value
            : throw new MalformedSourceException(path, $"not a whole number: '{text.Trim()}'");
    }
}
