using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.UdpQueues;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.PowerSupply;

/// <summary>
/// node_exporter's powersupplyclass collector: for each <c>/sys/class/power_supply/&lt;power_supply&gt;</c> not matched
/// by <c>--collector.powersupply.ignored-supplies</c>, <c>node_power_supply_&lt;property&gt;{power_supply}</c> for each
/// numeric attribute present (µA, µV, µW, µWh, µAh scaled by 1e-6; temperatures in tenths of °C by 0.1), and
/// <c>node_power_supply_info</c> labelled by the non-empty string attributes.
/// </summary>
/// <remarks>
/// Background every 5 s: ACPI battery attributes can take tens of milliseconds to read. As procfs v0.8.0, every regular
/// file of a supply is read; a missing file, EINVAL or EOPNOTSUPP leaves it out; a number Go's <c>ParseInt(s, 0, 64)</c>
/// refuses, or another read error, makes the supply unreadable. node_exporter then fails the whole collector; we skip
/// that supply and log once (event 2101). No <c>/sys/class/power_supply</c>: no series, success (node_exporter: ErrNoData).
/// </remarks>
internal sealed class PowerSupplyClassCollector : ICollector
{
    private const int Einval = 22;
    private const int Eopnotsupp = 95;

    /// <summary>sysfs attribute, metric suffix, scale; in node_exporter's three groups.</summary>
    private static readonly (string File, string Metric, double Divisor)[] Numeric =
    [
        ("authentic", "authentic", 1), ("calibrate", "calibrate", 1), ("capacity", "capacity", 1), ("capacity_alert_max", "capacity_alert_max", 1),
        ("capacity_alert_min", "capacity_alert_min", 1), ("cycle_count", "cyclecount", 1), ("online", "online", 1), ("present", "present", 1),
        ("time_to_empty_now", "time_to_empty_seconds", 1), ("time_to_full_now", "time_to_full_seconds", 1),
        ("current_boot", "current_boot", 1e6), ("current_max", "current_max", 1e6), ("current_now", "current_ampere", 1e6),
        ("energy_empty", "energy_empty", 1e6), ("energy_empty_design", "energy_empty_design", 1e6), ("energy_full", "energy_full", 1e6),
        ("energy_full_design", "energy_full_design", 1e6), ("energy_now", "energy_watthour", 1e6), ("voltage_boot", "voltage_boot", 1e6),
        ("voltage_max", "voltage_max", 1e6), ("voltage_max_design", "voltage_max_design", 1e6), ("voltage_min", "voltage_min", 1e6),
        ("voltage_min_design", "voltage_min_design", 1e6), ("voltage_now", "voltage_volt", 1e6), ("voltage_ocv", "voltage_ocv", 1e6),
        ("charge_control_limit", "charge_control_limit", 1e6), ("charge_control_limit_max", "charge_control_limit_max", 1e6),
        ("charge_counter", "charge_counter", 1e6), ("charge_empty", "charge_empty", 1e6), ("charge_empty_design", "charge_empty_design", 1e6),
        ("charge_full", "charge_full", 1e6), ("charge_full_design", "charge_full_design", 1e6), ("charge_now", "charge_ampere", 1e6),
        ("charge_term_current", "charge_term_current", 1e6), ("constant_charge_current", "constant_charge_current", 1e6),
        ("constant_charge_current_max", "constant_charge_current_max", 1e6), ("constant_charge_voltage", "constant_charge_voltage", 1e6),
        ("constant_charge_voltage_max", "constant_charge_voltage_max", 1e6), ("precharge_current", "precharge_current", 1e6),
        ("input_current_limit", "input_current_limit", 1e6), ("power_now", "power_watt", 1e6),
        ("temp", "temp_celsius", 10), ("temp_alert_max", "temp_alert_max_celsius", 10), ("temp_alert_min", "temp_alert_min_celsius", 10),
        ("temp_ambient", "temp_ambient_celsius", 10), ("temp_ambient_max", "temp_ambient_max_celsius", 10),
        ("temp_ambient_min", "temp_ambient_min_celsius", 10), ("temp_max", "temp_max_celsius", 10), ("temp_min", "temp_min_celsius", 10),
    ];

    /// <summary>Numeric attributes procfs parses (so a bad value fails the supply) but node_exporter does not export.</summary>
    private static readonly HashSet<string> ParsedOnly =
        new(["charge_avg", "current_avg", "energy_avg", "power_avg", "time_to_empty_avg", "time_to_full_avg", "voltage_avg"], StringComparer.Ordinal);

    /// <summary>The info labels, sorted; <c>power_supply</c> is the directory name, the others string attributes.</summary>
    private static readonly string[] InfoLabels =
        ["capacity_level", "charge_type", "health", "manufacturer", "model_name", "power_supply", "scope", "serial_number", "status", "technology", "type", "usb_type"];

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _root;
    private readonly Regex _ignored;
    private readonly MetricFamily[] _numeric;
    private readonly Dictionary<string, int> _numericIndex = new(StringComparer.Ordinal);
    private readonly MetricFamily _info;
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly double?[] _values = new double?[Numeric.Length];
    private readonly string[] _infoValues = new string[InfoLabels.Length];
    private bool _loggedMissing;

    public PowerSupplyClassCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _root = context.Paths.Sys("class/power_supply");
        // node_exporter's regexp.MatchString: unanchored.
        _ignored = new Regex(context.Settings["ignored-supplies"] is { Length: > 0 } pattern ? pattern : "^$", RegexOptions.CultureInvariant);
        var g = context.Group;
        _numeric = new MetricFamily[Numeric.Length];
        for (var i = 0; i < Numeric.Length; i++)
        {
            var metric = Numeric[i].Metric;
            _numeric[i] = g.Gauge($"node_power_supply_{metric}", $"{metric} value of /sys/class/power_supply/<power_supply>.", "power_supply");
            _numericIndex[Numeric[i].File] = i;
        }

        _info = g.Gauge("node_power_supply_info", "info of /sys/class/power_supply/<power_supply>.", InfoLabels);
        _info.OmitEmptyLabelValues = true;
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "powersupplyclass", "Power supplies and batteries from /sys/class/power_supply.", true, Cadence.Background, TimeSpan.FromSeconds(5),
        c => new PowerSupplyClassCollector(c),
        [new CollectorFlag("ignored-supplies", "^$", "Regexp of power supplies to ignore for powersupplyclass collector.", FlagKind.Regex)]);

    public void Update(CancellationToken cancellationToken)
    {
        string[] supplies;
        try
        {
            supplies = Directory.GetFileSystemEntries(_root);
        }
        catch (Exception ex) when (SourceLog.IsMissing(ex))
        {
            SourceLog.MissingOnce(_logger, ref _loggedMissing, "powersupplyclass", _root, "no power supply class");
            return;
        }

        foreach (var directory in supplies)
        {
            var name = Path.GetFileName(directory);
            if (_ignored.IsMatch(name))
            {
                continue;
            }

            if (Read(directory, name) is { } problem)
            {
                if (_warned.Add(name))
                {
                    HostCollectorLog.EntrySkipped(_logger, directory, problem);
                }
                else
                {
                    HostCollectorLog.EntrySkippedAgain(_logger, directory, problem);
                }

                continue;
            }

            for (var i = 0; i < _values.Length; i++)
            {
                if (_values[i] is { } value)
                {
                    _numeric[i].Get(name).Set(value / Numeric[i].Divisor);
                }
            }

            _info.Get(_infoValues).Set(1);
        }
    }

    /// <summary>Reads one supply into <see cref="_values"/> and <see cref="_infoValues"/>; the problem, or null.</summary>
    private string? Read(string directory, string name)
    {
        Array.Clear(_values);
        Array.Fill(_infoValues, "");
        _infoValues[Array.IndexOf(InfoLabels, "power_supply")] = name;
        IEnumerable<string> files;
        try
        {
            files = Directory.EnumerateFiles(directory).ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex.Message;
        }

        foreach (var path in files)
        {
            if (new FileInfo(path).LinkTarget is not null)
            {
                continue;
            }

            var file = Path.GetFileName(path);
            ReadOnlySpan<char> text;
            try
            {
                text = _reader.ReadAttribute(path).Trim();
            }
            catch (Exception ex) when (SourceLog.IsMissing(ex) || (ex is IOException io && io.HResult is Einval or Eopnotsupp))
            {
                continue;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return $"{path}: {ex.Message}";
            }

            if (_numericIndex.TryGetValue(file, out var index) || ParsedOnly.Contains(file))
            {
                if (!TryParseGoInt64(text, out var value))
                {
                    return $"{path}: not an integer: '{text}'";
                }

                if (index >= 0 && !ParsedOnly.Contains(file))
                {
                    _values[index] = value;
                }
            }
            else if (Array.IndexOf(InfoLabels, file) is var label and >= 0 && file != "power_supply")
            {
                _infoValues[label] = Dmi.DmiCollector.ToValidUtf8(System.Text.Encoding.Latin1.GetBytes(text.ToString()));
            }
        }

        return null;
    }

    /// <summary>Go's <c>strconv.ParseInt(s, 0, 64)</c>.</summary>
    internal static bool TryParseGoInt64(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        var negative = !text.IsEmpty && text[0] == '-';
        if (!text.IsEmpty && text[0] is '-' or '+')
        {
            text = text[1..];
        }

        if (!GoUInt.TryParseBase0(text, out var magnitude) || magnitude > (negative ? 1UL << 63 : long.MaxValue))
        {
            return false;
        }

        value = negative ? (long)(0 - magnitude) : (long)magnitude;
        return true;
    }
}
