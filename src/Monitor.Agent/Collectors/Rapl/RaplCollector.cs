using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Configuration;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Rapl;

/// <summary>
/// node_exporter's rapl collector: <c>node_rapl_&lt;zone&gt;_joules_total{index,path}</c> (or, with
/// <c>--collector.rapl.enable-zone-label</c>, <c>node_rapl_joules_total{index,path,rapl_zone}</c>), the
/// <c>energy_uj</c> of every zone under <c>/sys/class/powercap</c> that has a <c>name</c>, in joules.
/// </summary>
/// <remarks>
/// As node_exporter 1.5.0 with procfs v0.8.0: <c>index</c> is N of a <c>name-N</c> name (<c>package-0</c>) else the
/// count of earlier zones of that name; <c>path</c> is the zone directory under <c>--path.sysfs</c>. No
/// <c>/sys/class/powercap</c>, a missing <c>max_energy_range_uj</c>, or a permission error (energy_uj is root-only since
/// Linux 5.10) stop the collector with the series read so far and success (node_exporter: ErrNoData, success 0);
/// a bad number fails it.
/// </remarks>
internal sealed partial class RaplCollector : ICollector
{
    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _root;
    private readonly MetricGroup _group;
    private readonly bool _zoneLabel;
    private readonly MetricFamily? _joules;
    private readonly Dictionary<string, MetricFamily> _perZone = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _nameUses = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private List<Zone>? _zones;
    private DateTimeOffset _listedAt;
    private bool _loggedMissing;

    public RaplCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _time = context.Time;
        _root = context.Paths.Sys("class/powercap");
        _group = context.Group;
        _zoneLabel = bool.TryParse(context.Settings["enable-zone-label"], out var zoneLabel) && zoneLabel;
        if (_zoneLabel)
        {
            _joules = context.Group.Counter("node_rapl_joules_total", "Current RAPL value in joules", "index", "path", "rapl_zone");
        }
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "rapl", "RAPL energy counters from /sys/class/powercap.", true, Cadence.OnScrape, TimeSpan.Zero, c => new RaplCollector(c),
        [new CollectorFlag("enable-zone-label", "false", "One family node_rapl_joules_total with a rapl_zone label instead of one family per zone.", FlagKind.Bool)]);

    public void Update(CancellationToken cancellationToken)
    {
        // Zones only change when the powercap driver is loaded or unloaded: listed again once a minute, not every scrape.
        if (_zones is null || _time.GetUtcNow() - _listedAt > TimeSpan.FromMinutes(1))
        {
            _zones = null;
            try
            {
                // No powercap (most VMs, AMD before 5.8): remembered until the next listing, without an exception per scrape.
                var exists = Directory.Exists(_root);
                _zones = exists ? Zones(_root, _reader, _nameUses) : [];
                _listedAt = _time.GetUtcNow();
                if (!exists)
                {
                    SourceLog.MissingOnce(_logger, ref _loggedMissing, "rapl", _root, "Platform doesn't have powercap files present");
                }
            }
            catch (Exception ex) when (SourceLog.IsMissing(ex) || ex is UnauthorizedAccessException)
            {
                SourceLog.MissingOnce(_logger, ref _loggedMissing, "rapl", _root, ex.Message);
                return;
            }
        }

        foreach (var zone in _zones)
        {
            ulong microJoules;
            try
            {
                microJoules = ReadUInt(_reader, zone.EnergyPath);
            }
            catch (UnauthorizedAccessException ex)
            {
                SourceLog.MissingOnce(_logger, ref _loggedMissing, "rapl", zone.Path, ex.Message);
                return;
            }
            catch (Exception ex) when (SourceLog.IsMissing(ex))
            {
                // Fails this round, as node_exporter; the zone may have gone with its driver: list again next time.
                _zones = null;
                throw;
            }

            var joules = microJoules / 1000000.0;
            if (_joules is not null)
            {
                _joules.Get(zone.Index, zone.Path, zone.Name).Set(joules);
            }
            else
            {
                Family(zone.Name).Get(zone.Index, zone.Path).Set(joules);
            }
        }
    }

    private MetricFamily Family(string zone)
    {
        if (!_perZone.TryGetValue(zone, out var family))
        {
            family = _group.Counter($"node_rapl_{Sanitize(zone)}_joules_total", $"Current RAPL {zone} value in joules", "index", "path");
            _perZone[zone] = family;
        }

        return family;
    }

    /// <summary>node_exporter's SanitizeMetricName: runs of invalid characters (with the underscores around them) become one underscore.</summary>
    internal static string Sanitize(string name) => InvalidRun().Replace(name, "_");

    [GeneratedRegex("_*[^0-9A-Za-z_]+_*")]
    private static partial Regex InvalidRun();

    /// <summary>A RAPL zone: its name without the -N suffix, its index label and its directory.</summary>
    internal sealed record Zone(string Name, string Index, string Path, ulong MaxMicroJoules)
    {
        /// <summary>The zone's energy counter file.</summary>
        public string EnergyPath { get; } = System.IO.Path.Join(Path, "energy_uj");
    }

    /// <summary>
    /// The zones of <paramref name="root"/> as procfs v0.8.0's GetRaplZones lists them (sorted entries with a readable
    /// <c>name</c>). Throws what a missing root or <c>max_energy_range_uj</c> throws, and MalformedSourceException.
    /// </summary>
    internal static List<Zone> Zones(string root, TextFileReader reader, Dictionary<string, int> nameUses)
    {
        nameUses.Clear();
        var zones = new List<Zone>();
        var entries = Directory.GetFileSystemEntries(root);
        Array.Sort(entries, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            string rawName;
            try
            {
                rawName = reader.ReadAll(Path.Join(entry, "name")).Trim().ToString();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            var (index, name) = IndexAndName(nameUses, rawName);
            var max = ReadUInt(reader, Path.Join(entry, "max_energy_range_uj"));
            zones.Add(new Zone(name, index.ToString(CultureInfo.InvariantCulture), entry, max));
            nameUses[name] = index + 1;
        }

        return zones;
    }

    private static (int Index, string Name) IndexAndName(Dictionary<string, int> nameUses, string name)
    {
        var parts = name.Split('-');
        if (parts.Length == 2 && int.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var index))
        {
            return (index, parts[0]);
        }

        return (nameUses.GetValueOrDefault(name), name);
    }

    private static ulong ReadUInt(TextFileReader reader, string path)
    {
        var text = reader.ReadAll(path).Trim();
        return Numbers.TryParseUInt64(text, out var value) ? value : throw new MalformedSourceException(path, $"not a whole number: '{text}'");
    }

    /// <summary>
    /// Host energy for job attribution: the package and DRAM RAPL zones' energy summed, in joules, made monotonic.
    /// </summary>
    /// <remarks>
    /// <para>Create one per consumer with the agent's <see cref="HostPaths"/> and call <see cref="TryReadTotalJoules"/>
    /// at each sampling point; attribute the difference between two calls. Zones counted: every top-level zone named
    /// <c>package-N</c> and every zone named <c>dram</c> (core/uncore/psys are left out: core and uncore are inside the
    /// package, psys overlaps both).</para>
    /// <para>Each <c>energy_uj</c> wraps at its <c>max_energy_range_uj</c> (about 60 s to 70 min depending on the zone and
    /// load); the meter adds the range whenever a zone's counter goes backwards, so the total only grows as long as it is
    /// sampled more often than the fastest wrap (once a minute is safe). The first call returns the sum of the raw
    /// counters.</para>
    /// <para>False (and 0) when the host has no RAPL or energy_uj is not readable (root-only since Linux 5.10), or a file is
    /// malformed; never throws. After such a failure the meter returns false without looking again for a minute
    /// (<see cref="RetryAfter"/>): the jobs collector asks on every tick, and on a host without RAPL, or where the agent
    /// may not read it, each look would cost a directory listing or an exception. Not thread-safe: one instance per
    /// sampling loop.</para>
    /// </remarks>
    internal sealed class EnergyMeter(HostPaths paths)
    {
        private readonly TextFileReader _reader = new();
        private readonly string _root = paths.Sys("class/powercap");
        private readonly Dictionary<string, (ulong Last, double WrapJoules)> _state = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _nameUses = new(StringComparer.Ordinal);
        private List<Zone>? _zones;
        private long _retryAt = long.MinValue;

        /// <summary>How long the meter stops looking after RAPL was missing, unreadable or malformed.</summary>
        internal static readonly TimeSpan RetryAfter = TimeSpan.FromMinutes(1);

        /// <summary>The current package + DRAM energy in joules (monotonic across counter wraps); false when unavailable.</summary>
        public bool TryReadTotalJoules(out double joules)
        {
            joules = 0;
            if (_zones is null && Environment.TickCount64 < _retryAt)
            {
                return false;
            }

            try
            {
                _zones ??= Directory.Exists(_root) ? Zones(_root, _reader, _nameUses).Where(z => z.Name is "package" or "dram").ToList() : [];
                if (_zones.Count == 0)
                {
                    Unavailable();
                    return false;
                }

                foreach (var zone in _zones)
                {
                    var now = ReadUInt(_reader, zone.EnergyPath);
                    var (last, wrap) = _state.GetValueOrDefault(zone.Path, (now, 0.0));
                    if (now < last)
                    {
                        wrap += zone.MaxMicroJoules / 1e6;
                    }

                    _state[zone.Path] = (now, wrap);
                    joules += (now / 1e6) + wrap;
                }

                return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or MalformedSourceException)
            {
                Unavailable();
                joules = 0;
                return false;
            }
        }

        private void Unavailable()
        {
            _zones = null;
            _retryAt = Environment.TickCount64 + (long)RetryAfter.TotalMilliseconds;
        }
    }
}
