using System.Globalization;

namespace Monitor.Agent.Jobs;

/// <summary>
/// The node's CPU energy from RAPL (<c>/sys/class/powercap/intel-rapl:*</c>): every package zone plus its DRAM
/// subzone, each counter's wrap-around undone with its own <c>max_energy_range_uj</c>. Core and uncore subzones are
/// parts of their package and <c>psys</c> covers the whole platform, so those are left out to count nothing twice.
/// </summary>
/// <remarks>
/// Since Linux 5.10 (CVE-2020-8694) <c>energy_uj</c> is readable by root only; an agent running as another user finds
/// no readable zone and attributes no CPU energy (<see cref="Available"/> is false).
/// </remarks>
internal sealed class CpuEnergyMeter
{
    private readonly string _powercap;
    private Zone[]? _zones;
    private bool _primed;

    /// <summary>A meter over <paramref name="sysfs"/> (the agent's <c>--path.sysfs</c>).</summary>
    public CpuEnergyMeter(string sysfs) => _powercap = Path.Join(sysfs, "class", "powercap");

    /// <summary>Whether at least one zone could be read at the last <see cref="Advance"/>.</summary>
    public bool Available { get; private set; }

    /// <summary>
    /// Joules the package and DRAM zones used since the previous call; null on the first call, when no zone can be
    /// read, or when a zone failed this time (that interval is then unknown, not zero).
    /// </summary>
    public double? Advance()
    {
        _zones ??= Discover();
        double joules = 0;
        var complete = _zones.Length > 0;
        foreach (var zone in _zones)
        {
            var now = Read(zone.EnergyPath);
            if (now is null)
            {
                complete = false;
                zone.Last = null;
                continue;
            }

            if (zone.Last is { } last)
            {
                // A counter that went back wrapped at max_energy_range_uj.
                var delta = now.Value >= last ? now.Value - last : now.Value + zone.RangeMicrojoules - last;
                joules += delta / 1e6;
            }
            else
            {
                complete = false;
            }

            zone.Last = now;
        }

        Available = _zones.Any(z => z.Last is not null);
        var primed = _primed;
        _primed = Available;
        return primed && complete ? joules : null;
    }

    /// <summary>
    /// The number of online CPUs from <c>devices/system/cpu/online</c> (<c>0-63</c>, <c>0-3,8-11</c>); null when it
    /// cannot be read. Not <see cref="Environment.ProcessorCount"/>, which the agent's own affinity limits.
    /// </summary>
    public static int? OnlineCpus(string sysfs)
    {
        if (ReadText(Path.Join(sysfs, "devices", "system", "cpu", "online")) is not { Length: > 0 } text)
        {
            return null;
        }

        var count = 0;
        foreach (var range in text.Split(','))
        {
            var dash = range.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                count += int.TryParse(range, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? 1 : 0;
            }
            else if (int.TryParse(range[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
                     && int.TryParse(range[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var last) && last >= first)
            {
                count += last - first + 1;
            }
            else
            {
                return null;
            }
        }

        return count > 0 ? count : null;
    }

    private Zone[] Discover()
    {
        var zones = new List<Zone>();
        if (!Directory.Exists(_powercap))
        {
            return [];
        }

        foreach (var directory in Directory.GetDirectories(_powercap).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(directory);
            if (!name.StartsWith("intel-rapl:", StringComparison.Ordinal))
            {
                continue;
            }

            var label = ReadText(Path.Join(directory, "name"));
            var subzone = name.Count(c => c == ':') == 2;
            var counts = subzone ? label == "dram" : label is not null && label.StartsWith("package", StringComparison.Ordinal);
            if (counts && Read(Path.Join(directory, "max_energy_range_uj")) is { } range && range > 0)
            {
                zones.Add(new Zone(Path.Join(directory, "energy_uj"), range));
            }
        }

        return [.. zones];
    }

    private static double? Read(string path) =>
        ReadText(path) is { } text && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static string? ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private sealed class Zone(string energyPath, double rangeMicrojoules)
    {
        public string EnergyPath { get; } = energyPath;

        public double RangeMicrojoules { get; } = rangeMicrojoules;

        public double? Last { get; set; }
    }
}
