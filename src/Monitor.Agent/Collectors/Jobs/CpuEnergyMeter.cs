using System.Globalization;

namespace Monitor.Agent.Collectors.Jobs;

/// <summary>
/// The node's CPU energy between two refreshes of the jobs collector, from RAPL through the rapl collector's
/// <see cref="Rapl.RaplCollector.EnergyMeter"/>: every package zone plus its DRAM subzone, each counter's
/// wrap undone. Core and uncore subzones are parts of their package and <c>psys</c> covers the whole platform, so those
/// are left out to count nothing twice.
/// </summary>
/// <remarks>
/// Since Linux 5.10 (CVE-2020-8694) <c>energy_uj</c> is readable by root only; an agent running as another user finds
/// no readable zone and attributes no CPU energy.
/// </remarks>
internal sealed class CpuEnergyMeter
{
    private readonly Rapl.RaplCollector.EnergyMeter _rapl;
    private double? _last;

    /// <summary>A meter over <paramref name="paths"/> (the agent's <c>--path.sysfs</c>).</summary>
    public CpuEnergyMeter(Configuration.HostPaths paths) => _rapl = new Rapl.RaplCollector.EnergyMeter(paths);

    /// <summary>
    /// Joules the package and DRAM zones used since the previous call; null on the first call, and when the zones
    /// cannot be read now or could not at the previous call (that interval is then unknown, not zero).
    /// </summary>
    public double? Advance()
    {
        double? now = _rapl.TryReadTotalJoules(out var joules) ? joules : null;
        var delta = now - _last;
        _last = now;
        return delta;
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
}
