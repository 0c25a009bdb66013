namespace Monitor.Agent.Collectors.Cpu;

/// <summary>The sysfs attributes the cpu collector reads for one <c>devices/system/cpu/cpuN</c> directory, built once.</summary>
/// <param name="PhysicalPackageId"><c>topology/physical_package_id</c>.</param>
/// <param name="CoreId"><c>topology/core_id</c>.</param>
/// <param name="CoreThrottleCount"><c>thermal_throttle/core_throttle_count</c>.</param>
/// <param name="PackageThrottleCount"><c>thermal_throttle/package_throttle_count</c>.</param>
internal sealed record CpuSysfsPaths(string PhysicalPackageId, string CoreId, string CoreThrottleCount, string PackageThrottleCount)
{
    /// <summary>
    /// The <c>cpu[0-9]*</c> directories under <paramref name="cpuDirectory"/> (node_exporter's glob), ordered by name;
    /// none when the directory is missing.
    /// </summary>
    public static CpuSysfsPaths[] Discover(string cpuDirectory)
    {
        if (!Directory.Exists(cpuDirectory))
        {
            return [];
        }

        return [.. Directory.EnumerateDirectories(cpuDirectory, "cpu*")
            .Where(d => Path.GetFileName(d) is { Length: > 3 } name && char.IsAsciiDigit(name[3]))
            .Order(StringComparer.Ordinal)
            .Select(d => new CpuSysfsPaths(
                Path.Join(d, "topology", "physical_package_id"),
                Path.Join(d, "topology", "core_id"),
                Path.Join(d, "thermal_throttle", "core_throttle_count"),
                Path.Join(d, "thermal_throttle", "package_throttle_count")))];
    }
}
