using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.ThermalZone;

/// <summary>
/// node_exporter's thermal_zone collector: <c>node_thermal_zone_temp{zone,type}</c> in °C for every
/// <c>/sys/class/thermal/thermal_zone[0-9]*</c>, and <c>node_cooling_device_{cur,max}_state{name,type}</c> for every
/// <c>cooling_device[0-9]*</c>.
/// </summary>
/// <remarks>
/// As in procfs, a zone needs readable <c>type</c>, <c>policy</c> and <c>temp</c>. A zone or device that fails to
/// read (ENODATA from a sensor that is off, a missing file) is skipped alone; node_exporter skips only ENODATA and
/// fails the whole collector otherwise.
/// </remarks>
internal sealed class ThermalZoneCollector : ICollector
{
    private const string ZonePrefix = "thermal_zone";
    private const string CoolingPrefix = "cooling_device";

    private readonly TextFileReader _reader = new();
    private readonly string _classDirectory;
    private readonly ILogger _logger;
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _stale = [];
    private readonly MetricFamily _zoneTemp;
    private readonly MetricFamily _curState;
    private readonly MetricFamily _maxState;
    private long _generation;

    public ThermalZoneCollector(CollectorContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _classDirectory = context.Paths.Sys("class/thermal");
        _logger = context.Logger;
        _zoneTemp = context.Group.Gauge("node_thermal_zone_temp", "Zone temperature in Celsius", "zone", "type");
        _curState = context.Group.Gauge("node_cooling_device_cur_state", "Current throttle state of the cooling device", "name", "type");
        _maxState = context.Group.Gauge("node_cooling_device_max_state", "Maximum throttle state of the cooling device", "name", "type");
    }

    /// <summary>Registration: enabled by default; in the background because ACPI zones can take milliseconds to read.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "thermal_zone", "Thermal zones and cooling devices from /sys/class/thermal.", true, Cadence.Background, TimeSpan.FromSeconds(5),
        c => new ThermalZoneCollector(c), []);

    /// <inheritdoc/>
    public void Update(CancellationToken cancellationToken)
    {
        var generation = ++_generation;
        IEnumerable<string> paths;
        try
        {
            paths = Directory.EnumerateFileSystemEntries(_classDirectory);
        }
        catch (DirectoryNotFoundException)
        {
            return;
        }

        foreach (var path in paths)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!_entries.TryGetValue(path, out var entry))
            {
                entry = Entry.For(path);
                _entries.Add(path, entry);
            }

            entry.LastSeen = generation;
            try
            {
                if (entry.IsZone)
                {
                    UpdateZone(entry);
                }
                else if (entry.IsCoolingDevice)
                {
                    UpdateCoolingDevice(entry);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                ThermalZoneLog.ReadFailed(_logger, path, ex.Message);
            }
        }

        Prune(generation);
    }

    private void UpdateZone(Entry zone)
    {
        var type = zone.CacheType(_reader.ReadAttribute(zone.TypePath));
        _reader.ReadAttribute(zone.PolicyPath);
        var temp = ThermalZoneParser.ParseInteger(_reader.ReadAttribute(zone.TempPath));
        if (!temp.Success)
        {
            ThermalZoneLog.ReadFailed(_logger, zone.TempPath, temp.Error!);
            return;
        }

        _zoneTemp.Get(zone.Name, type).Set(ThermalZoneParser.ToCelsius(temp.Value));
    }

    private void UpdateCoolingDevice(Entry device)
    {
        var type = device.CacheType(_reader.ReadAttribute(device.TypePath));
        var max = ThermalZoneParser.ParseInteger(_reader.ReadAttribute(device.MaxStatePath));
        var cur = ThermalZoneParser.ParseInteger(_reader.ReadAttribute(device.CurStatePath));
        if (!max.Success || !cur.Success)
        {
            ThermalZoneLog.ReadFailed(_logger, device.Path, max.Error ?? cur.Error!);
            return;
        }

        _curState.Get(device.Name, type).Set(cur.Value);
        _maxState.Get(device.Name, type).Set(max.Value);
    }

    private void Prune(long generation)
    {
        _stale.Clear();
        foreach (var (path, entry) in _entries)
        {
            if (entry.LastSeen != generation)
            {
                _stale.Add(path);
            }
        }

        foreach (var path in _stale)
        {
            _entries.Remove(path);
        }
    }

    /// <summary>One entry of <c>/sys/class/thermal</c> with its attribute paths, built once.</summary>
    private sealed class Entry
    {
        private Entry(string path, bool isZone, bool isCoolingDevice, string name)
        {
            Path = path;
            IsZone = isZone;
            IsCoolingDevice = isCoolingDevice;
            Name = name;
            TypePath = System.IO.Path.Join(path, "type");
            PolicyPath = System.IO.Path.Join(path, "policy");
            TempPath = System.IO.Path.Join(path, "temp");
            MaxStatePath = System.IO.Path.Join(path, "max_state");
            CurStatePath = System.IO.Path.Join(path, "cur_state");
        }

        public string Path { get; }

        public bool IsZone { get; }

        public bool IsCoolingDevice { get; }

        /// <summary>The <c>zone</c> or <c>name</c> label: the entry name without its prefix (<c>thermal_zone0</c> → <c>0</c>).</summary>
        public string Name { get; }

        public string TypePath { get; }

        public string PolicyPath { get; }

        public string TempPath { get; }

        public string MaxStatePath { get; }

        public string CurStatePath { get; }

        public long LastSeen { get; set; }

        /// <summary>The last <c>type</c> read; kept so an unchanged value is not turned into a new string.</summary>
        public string Type { get; private set; } = string.Empty;

        /// <summary>Returns <paramref name="type"/> as a string, reusing the previous one when equal.</summary>
        public string CacheType(ReadOnlySpan<char> type)
        {
            if (!type.SequenceEqual(Type))
            {
                Type = type.ToString();
            }

            return Type;
        }

        /// <summary>Classifies an entry with procfs' globs <c>thermal_zone[0-9]*</c> and <c>cooling_device[0-9]*</c>.</summary>
        public static Entry For(string path)
        {
            var fileName = System.IO.Path.GetFileName(path);
            var isZone = MatchesGlob(fileName, ZonePrefix);
            var isCooling = !isZone && MatchesGlob(fileName, CoolingPrefix);
            var name = isZone ? fileName[ZonePrefix.Length..] : isCooling ? fileName[CoolingPrefix.Length..] : string.Empty;
            return new Entry(path, isZone, isCooling, name);
        }

        private static bool MatchesGlob(string fileName, string prefix) =>
            fileName.Length > prefix.Length && fileName.StartsWith(prefix, StringComparison.Ordinal) && char.IsAsciiDigit(fileName[prefix.Length]);
    }
}
