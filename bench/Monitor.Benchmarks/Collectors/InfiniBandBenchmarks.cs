using BenchmarkDotNet.Attributes;
using Monitor.Agent.Tests.Collectors;
using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.InfiniBand;
using Monitor.Agent.Collectors.NetClass;
using Monitor.Agent.Configuration;
using Monitor.Core.Exposition;
using Monitor.Testing;

namespace Monitor.Benchmarks.Collectors;

/// <summary>
/// The infiniband and netclass collectors over the fixture tree (tests/fixtures/host: five RDMA devices with seven
/// ports and 276 files; four interfaces), warm: every series exists, so an update costs the reads, one isolated
/// thread per device and the value writes. Plus the two parsers every port runs.
/// </summary>
[MemoryDiagnoser]
public class InfiniBandBenchmarks
{
    private CollectorHarness _infiniband = null!;
    private CollectorHarness _netclass = null!;

    [GlobalSetup]
    public void Setup()
    {
        var root = Fixtures.Path("host");
        var paths = new HostPaths(Path.Join(root, "proc"), Path.Join(root, "sys"), root);
        _infiniband = new CollectorHarness(InfiniBandCollector.Descriptor, paths);
        _netclass = new CollectorHarness(NetClassCollector.Descriptor, paths);
        InfiniBandUpdate();
        NetClassUpdate();
    }

    /// <summary>A warm infiniband update: 5 devices, 7 ports, about 240 attribute reads.</summary>
    [Benchmark]
    public void InfiniBandUpdate() => _infiniband.Update();

    /// <summary>A warm netclass update: 4 interfaces, 22 attribute reads each.</summary>
    [Benchmark]
    public void NetClassUpdate() => _netclass.Update();

    /// <summary>The rate string of an NDR port.</summary>
    [Benchmark]
    public ulong InfiniBandParseRate() => InfiniBandParser.TryParseRate("400 Gb/sec (4X NDR)", out var rate) ? rate : 0;

    /// <summary>A 64-bit counter value as sysfs prints it.</summary>
    [Benchmark]
    public ulong InfiniBandParseCounter() => InfiniBandParser.ParseCounter("70245986712", out var value) == CounterReading.Value ? value : 0;
}
