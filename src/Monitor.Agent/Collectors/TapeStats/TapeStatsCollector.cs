using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.InfiniBand;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.TapeStats;

/// <summary>
/// node_exporter's tapestats collector: I/O statistics of SCSI tape drives from
/// <c>/sys/class/scsi_tape/st&lt;n&gt;/stats/*</c> (only <c>^st[0-9]+$</c>, as procfs: the n/a/l/m variants are the same
/// drive). A missing counter file reads 0; times are nanoseconds × 1e-9. No <c>/sys/class/scsi_tape</c>: no series.
/// A drive with a bad counter is skipped (logged); 1.5.0 fails the collector then.
/// </summary>
internal sealed partial class TapeStatsCollector : ICollector
{
    private const string DefaultIgnored = "^$";

    // (file, metric, help, is counter, scale)
    private static readonly (string File, string Metric, string Help, bool Counter, double Scale)[] Stats =
    [
        ("in_flight", "io_now", "The number of I/Os currently outstanding to this device.", false, 1),
        ("io_ns", "io_time_seconds_total", "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used.", true, 0.000000001),
        ("other_cnt", "io_others_total", "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total", true, 1),
        ("read_byte_cnt", "read_bytes_total", "The number of bytes read from the tape drive.", true, 1),
        ("read_cnt", "reads_completed_total", "The number of read requests issued to the tape drive.", true, 1),
        ("read_ns", "read_time_seconds_total", "The amount of time spent waiting for read requests to complete.", true, 0.000000001),
        ("resid_cnt", "residual_total", "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape.", true, 1),
        ("write_byte_cnt", "written_bytes_total", "The number of bytes written to the tape drive.", true, 1),
        ("write_cnt", "writes_completed_total", "The number of write requests issued to the tape drive.", true, 1),
        ("write_ns", "write_time_seconds_total", "The amount of time spent waiting for write requests to complete.", true, 0.000000001),
    ];

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _classPath;
    private readonly Regex? _ignored;
    private readonly MetricFamily[] _families;
    private readonly Dictionary<string, string[]?> _drives = new(StringComparer.Ordinal);
    private readonly ulong[] _values = new ulong[Stats.Length];
    private bool _loggedMissing;
    private bool _warnedSkip;

    public TapeStatsCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _classPath = context.Paths.Sys("class/scsi_tape");
        var pattern = context.Settings["ignored-devices"] ?? DefaultIgnored;
        _ignored = pattern == DefaultIgnored ? null : new Regex(pattern, RegexOptions.CultureInvariant);
        _families = [.. Stats.Select(s => s.Counter
            ? context.Group.Counter("node_tape_" + s.Metric, s.Help, "device")
            : context.Group.Gauge("node_tape_" + s.Metric, s.Help, "device"))];
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "tapestats", "SCSI tape drive I/O statistics from /sys/class/scsi_tape.", true, Cadence.OnScrape, TimeSpan.Zero, c => new TapeStatsCollector(c),
        [new CollectorFlag("ignored-devices", DefaultIgnored, "Regexp of devices to ignore for tapestats.", FlagKind.Regex)]);

    [GeneratedRegex("^st[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex ValidDevice();

    public void Update(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_classPath))
        {
            // Most hosts have no tape drive: a stat, not an exception per scrape.
            SubsystemSkip.MissingOnce(_logger, ref _loggedMissing, "tapestats", _classPath);
            return;
        }

        try
        {
            foreach (var dir in Directory.EnumerateFileSystemEntries(_classPath))
            {
                var name = Path.GetFileName(dir);
                if (!_drives.TryGetValue(name, out var paths))
                {
                    // null: not a drive we report (a variant such as nst0, or an ignored device).
                    paths = ValidDevice().IsMatch(name) && _ignored?.IsMatch(name) != true ? [.. Stats.Select(s => Path.Join(dir, "stats", s.File))] : null;
                    _drives[name] = paths;
                }

                if (paths is null)
                {
                    continue;
                }

                try
                {
                    Read(name, paths);
                }
                catch (Exception ex) when (SubsystemSkip.IsReadFailure(ex))
                {
                    SubsystemSkip.Skipped(_logger, ref _warnedSkip, "tapestats", dir, ex.Message);
                }
            }
        }
        catch (Exception ex) when (SourceLog.IsMissing(ex) && !Directory.Exists(_classPath))
        {
            SubsystemSkip.MissingOnce(_logger, ref _loggedMissing, "tapestats", _classPath);
        }
    }

    private void Read(string name, string[] paths)
    {
        if (!Directory.Exists(Path.GetDirectoryName(paths[0])))
        {
            throw new DirectoryNotFoundException($"no stats directory: {Path.GetDirectoryName(paths[0])}");
        }

        for (var i = 0; i < paths.Length; i++)
        {
            ReadOnlySpan<char> text;
            try
            {
                text = _reader.ReadAttribute(paths[i]).Trim();
            }
            catch (Exception ex) when (SourceLog.IsMissing(ex))
            {
                _values[i] = 0;
                continue;
            }

            _values[i] = InfiniBandParser.TryParseUInt64Base0(text, out var v)
                ? v
                : throw new MalformedSourceException(paths[i], $"not an unsigned integer: '{text}'");
        }

        for (var i = 0; i < paths.Length; i++)
        {
            _families[i].Get(name).Set(Stats[i].Scale == 1 ? _values[i] : _values[i] * Stats[i].Scale);
        }
    }
}
