using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace Monitor.Agent.Collectors;

/// <summary>
/// node_exporter's <c>device_filter.go</c>: a device is ignored when it matches the exclude pattern or does not
/// match the include pattern. Patterns are unanchored, as in Go (the defaults carry their own <c>^…$</c>), and an
/// empty pattern means "not set".
/// </summary>
/// <remarks>
/// node_exporter refuses to start when both patterns are set; we apply both, which gives the same answer whenever
/// node_exporter would accept the flags and lets an include pattern be combined with a packaged default exclude.
/// Decisions are cached per device name (looked up by span, so a scrape does not allocate); the cache is dropped
/// when it grows past <see cref="MaxCachedDevices"/>, which bounds it on hosts that churn through veth devices.
/// </remarks>
internal sealed class DeviceFilter
{
    /// <summary>Most device decisions kept before the cache is cleared.</summary>
    public const int MaxCachedDevices = 4096;

    private readonly Regex? _exclude;
    private readonly Regex? _include;
    private readonly Dictionary<string, bool> _ignored = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    /// <summary>Compiles the patterns; an invalid pattern throws <see cref="ArgumentException"/> (startup validation catches it first).</summary>
    public DeviceFilter(string? exclude, string? include)
    {
        _exclude = Compile(exclude);
        _include = Compile(include);
        _lookup = _ignored.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>
    /// The filter configured by a collector's <c>device-exclude</c> and <c>device-include</c> settings; a setting
    /// that is absent takes its default, one set to the empty string disables that pattern.
    /// </summary>
    public static DeviceFilter FromSettings(IConfigurationSection settings, string defaultExclude, string defaultInclude = "") =>
        new(settings["device-exclude"] ?? defaultExclude, settings["device-include"] ?? defaultInclude);

    /// <summary>The collector flags that configure this filter, with node_exporter's help texts.</summary>
    public static CollectorFlag[] Flags(string collector, string defaultExclude, string defaultInclude = "") =>
    [
        new("device-exclude", defaultExclude, $"Regexp of {collector} devices to exclude (mutually exclusive to device-include in node_exporter).", FlagKind.Regex),
        new("device-include", defaultInclude, $"Regexp of {collector} devices to include (mutually exclusive to device-exclude in node_exporter).", FlagKind.Regex),
    ];

    /// <summary>True when <paramref name="device"/> must not be reported.</summary>
    public bool IsIgnored(ReadOnlySpan<char> device)
    {
        if (_exclude is null && _include is null)
        {
            return false;
        }

        if (_lookup.TryGetValue(device, out var ignored))
        {
            return ignored;
        }

        ignored = (_exclude?.IsMatch(device) ?? false) || (_include is not null && !_include.IsMatch(device));
        if (_ignored.Count >= MaxCachedDevices)
        {
            _ignored.Clear();
        }

        _lookup[device] = ignored;
        return ignored;
    }

    private static Regex? Compile(string? pattern) =>
        string.IsNullOrEmpty(pattern) ? null : new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
}
