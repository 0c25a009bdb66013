using BenchmarkDotNet.Attributes;
using Monitor.Agent.Tests.Collectors;
using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.Filesystem;
using Monitor.Agent.Collectors.Hwmon;
using Monitor.Agent.Collectors.ThermalZone;
using Monitor.Agent.Configuration;
using Monitor.Core.Exposition;
using Monitor.Testing;

namespace Monitor.Benchmarks.Collectors;

/// <summary>
/// Host collectors over the fixture tree (tests/fixtures/host): mountinfo parsing over in-memory content, and
/// warm hwmon / thermal_zone updates, which should allocate little once every series exists.
/// </summary>
[MemoryDiagnoser]
public class FilesystemBenchmarks
{
    private string _mountInfo = string.Empty;
    private CollectorHarness _hwmon = null!;
    private CollectorHarness _thermal = null!;

    [GlobalSetup]
    public void Setup()
    {
        var root = Fixtures.Path("host");
        _mountInfo = File.ReadAllText(Path.Join(root, "proc", "1", "mountinfo"));
        var paths = new HostPaths(Path.Join(root, "proc"), Path.Join(root, "sys"), root);
        _hwmon = new CollectorHarness(HwmonCollector.Descriptor, paths);
        _thermal = new CollectorHarness(ThermalZoneCollector.Descriptor, paths);
        HwmonUpdate();
        ThermalZoneUpdate();
    }

    /// <summary>Parses the 20-line fixture mountinfo into entries (the first-sight path of the collector).</summary>
    [Benchmark]
    public int MountInfoParse() => MountInfoParser.Parse(_mountInfo).Value!.Count;

    /// <summary>A warm hwmon update over five chips.</summary>
    [Benchmark]
    public void HwmonUpdate() => _hwmon.Update();

    /// <summary>A warm thermal_zone update over three zones and two cooling devices.</summary>
    [Benchmark]
    public void ThermalZoneUpdate() => _thermal.Update();
}
