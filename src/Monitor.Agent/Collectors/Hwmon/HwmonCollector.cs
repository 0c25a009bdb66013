using System.Text;
using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Hwmon;

/// <summary>
/// node_exporter's hwmon collector (1.5.0 output): every sensor attribute under <c>/sys/class/hwmon/hwmon*/</c> and
/// its <c>device/</c> directory as <c>node_hwmon_*{chip,sensor}</c> in base units, plus
/// <c>node_hwmon_chip_names{chip,chip_name}</c> and <c>node_hwmon_sensor_label{chip,label,sensor}</c>.
/// </summary>
/// <remarks>
/// Each chip's directory listing, naming and family lookup happen once, when the chip first appears; an update
/// reads each attribute with one <c>read</c> (some drivers block or return EAGAIN on a second read) and sets the
/// series. A chip or attribute that fails to read is skipped alone, where node_exporter fails the whole collector
/// on a chip it cannot name.
/// </remarks>
internal sealed class HwmonCollector : ICollector
{
    private static readonly string[] SensorLabels = ["chip", "sensor"];

    private readonly TextFileReader _reader = new();
    private readonly string _classDirectory;
    private readonly MetricGroup _group;
    private readonly ILogger _logger;
    private readonly Dictionary<string, HwmonChip?> _chips = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HwmonChip?>.AlternateLookup<ReadOnlySpan<char>> _chipLookup;
    private readonly Dictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);
    private readonly List<string> _stale = [];
    private readonly MetricFamily _chipNames;
    private readonly MetricFamily _sensorLabel;
    private long _generation;

    public HwmonCollector(CollectorContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _classDirectory = context.Paths.Sys("class/hwmon");
        _group = context.Group;
        _logger = context.Logger;
        _chipLookup = _chips.GetAlternateLookup<ReadOnlySpan<char>>();
        _chipNames = _group.Gauge("node_hwmon_chip_names", "Annotation metric for human-readable chip names", "chip", "chip_name");
        _sensorLabel = _group.Gauge("node_hwmon_sensor_label", "Label for given chip and sensor", "chip", "sensor", "label");
    }

    /// <summary>Registration: enabled by default; sampled in the background because some hwmon drivers are slow to read.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "hwmon", "Hardware sensors from /sys/class/hwmon.", true, Cadence.Background, TimeSpan.FromSeconds(5), c => new HwmonCollector(c), []);

    /// <inheritdoc/>
    public void Update(CancellationToken cancellationToken)
    {
        var generation = ++_generation;
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(_classDirectory);
        }
        catch (DirectoryNotFoundException)
        {
            // No hwmon on this machine (node_exporter's ErrNoData): nothing to export, nothing failed.
            return;
        }

        foreach (var entry in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chip = Resolve(entry);
            if (chip is null)
            {
                continue;
            }

            chip.LastSeen = generation;
            UpdateChip(chip);
        }

        Prune(generation);
    }

    private HwmonChip? Resolve(string entry)
    {
        var name = Path.GetFileName(entry.AsSpan());
        if (_chipLookup.TryGetValue(name, out var known))
        {
            if (known is not null)
            {
                return known;
            }

            // Entries that are not chips are retried each time, cheaply: they are rare and may become chips.
        }

        var chip = Build(entry);
        _chips[entry[(entry.Length - name.Length)..]] = chip;
        return chip;
    }

    private HwmonChip? Build(string directory)
    {
        // node_exporter: Lstat, follow a symlink, keep only directories.
        if (!Directory.Exists(directory))
        {
            return null;
        }

        var chipName = HwmonChip.ChipName(directory);
        if (chipName is null)
        {
            HwmonLog.Unnamed(_logger, directory);
            return null;
        }

        // sensor → property → file; files in device/ override the chip directory's, as in node_exporter.
        var sensors = new Dictionary<string, (string Type, Dictionary<string, string> Files)>(StringComparer.Ordinal);
        AddFiles(directory, sensors);
        var device = Path.Join(directory, "device");
        if (Directory.Exists(device))
        {
            AddFiles(device, sensors);
        }

        var readings = new List<HwmonReading>();
        var labels = new List<(string, string)>();
        foreach (var (sensor, (type, files)) in sensors.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (files.TryGetValue("label", out var labelPath))
            {
                labels.Add((sensor, labelPath));
            }

            var hasBare = files.ContainsKey(string.Empty);
            foreach (var (property, path) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                var rule = HwmonMetricRule.For(type, property, hasBare);
                if (rule is not null && FamilyFor(rule) is { } family)
                {
                    readings.Add(new HwmonReading(path, sensor, rule, family));
                }
            }
        }

        return new HwmonChip(chipName, HwmonChip.HumanReadableName(directory), readings, labels);
    }

    private static void AddFiles(string directory, Dictionary<string, (string Type, Dictionary<string, string> Files)> sensors)
    {
        foreach (var path in Directory.EnumerateFiles(directory))
        {
            var parsed = HwmonParser.ParseSensorFileName(Path.GetFileName(path));
            if (!parsed.Success || !HwmonParser.SensorTypes.Contains(parsed.Value.Type))
            {
                continue;
            }

            var sensor = parsed.Value.Sensor;
            if (!sensors.TryGetValue(sensor, out var entry))
            {
                entry = (parsed.Value.Type, new Dictionary<string, string>(StringComparer.Ordinal));
                sensors.Add(sensor, entry);
            }

            entry.Files[parsed.Value.Property] = path;
        }
    }

    private MetricFamily? FamilyFor(HwmonMetricRule rule)
    {
        if (_families.TryGetValue(rule.Name, out var family))
        {
            // node_exporter would fail the scrape on a second HELP for the same name; we keep the first.
            return family;
        }

        try
        {
            family = rule.IsCounter ? _group.Counter(rule.Name, rule.Help, SensorLabels) : _group.Gauge(rule.Name, rule.Help, SensorLabels);
        }
        catch (ArgumentException)
        {
            return null;
        }

        _families.Add(rule.Name, family);
        return family;
    }

    private void UpdateChip(HwmonChip chip)
    {
        if (chip.HumanName is not null)
        {
            _chipNames.Get(chip.Name, chip.HumanName).Set(1);
        }

        Span<byte> bytes = stackalloc byte[128];
        Span<char> chars = stackalloc char[128];
        foreach (var (sensor, path) in chip.Labels)
        {
            if (TryRead(path, out var raw))
            {
                // sysfs gives bytes; node_exporter exports them as UTF-8 with invalid sequences replaced.
                var text = raw.Length <= bytes.Length ? raw : raw[..bytes.Length];
                var n = Encoding.Latin1.GetBytes(text, bytes);
                var m = Encoding.UTF8.GetChars(bytes[..n], chars);
                _sensorLabel.Get(chip.Name, sensor, chars[..m]).Set(1);
            }
        }

        foreach (var reading in chip.Readings)
        {
            if (TryRead(reading.Path, out var raw) && reading.Rule.TryConvert(raw, out var value))
            {
                reading.Family.Get(chip.Name, reading.Sensor).Set(value);
            }
        }
    }

    private bool TryRead(string path, out ReadOnlySpan<char> text)
    {
        try
        {
            text = _reader.ReadAttribute(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            text = default;
            return false;
        }
    }

    private void Prune(long generation)
    {
        _stale.Clear();
        foreach (var (name, chip) in _chips)
        {
            if (chip is null || chip.LastSeen != generation)
            {
                _stale.Add(name);
            }
        }

        foreach (var name in _stale)
        {
            _chips.Remove(name);
        }
    }
}
