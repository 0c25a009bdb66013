using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.Cpu;
using Monitor.Agent.Collectors.DiskStats;
using Monitor.Agent.Collectors.MemInfo;
using Monitor.Agent.Collectors.NetDev;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Collectors.Pressure;
using Monitor.Agent.Collectors.Stat;
using Monitor.Agent.Configuration;
using Monitor.Core.Exposition;
using Monitor.Testing;

namespace Monitor.Benchmarks.Collectors;

/// <summary>
/// The procfs parsers over the fixture files held in memory, and each collector's update over the fixture tree
/// (<c>tests/fixtures/host</c>). Steady-state updates should allocate only file handles and, for diskstats, the
/// lookup keys of its info series.
/// </summary>
[MemoryDiagnoser]
public class ParserBenchmarks
{
    private readonly List<CpuTicks> _cpus = new(64);
    private readonly List<MemInfoField> _memInfo = new(64);
    private string _stat = "";
    private string _meminfo = "";
    private string _diskstats = "";
    private string _netdev = "";
    private string _pressure = "";
    private (MetricGroup Group, ICollector Collector) _cpu;
    private (MetricGroup Group, ICollector Collector) _statCollector;
    private (MetricGroup Group, ICollector Collector) _memInfoCollector;
    private (MetricGroup Group, ICollector Collector) _diskStatsCollector;
    private (MetricGroup Group, ICollector Collector) _netDevCollector;
    private (MetricGroup Group, ICollector Collector) _pressureCollector;

    [GlobalSetup]
    public void Setup()
    {
        // BenchmarkDotNet runs a generated project under bin/, inside the repository, so the fixture tree is found from there.
        var root = Fixtures.Path("host");
        _stat = File.ReadAllText(Path.Join(root, "proc", "stat"));
        _meminfo = File.ReadAllText(Path.Join(root, "proc", "meminfo"));
        _diskstats = File.ReadAllText(Path.Join(root, "proc", "diskstats"));
        _netdev = File.ReadAllText(Path.Join(root, "proc", "net", "dev"));
        _pressure = File.ReadAllText(Path.Join(root, "proc", "pressure", "io"));

        var paths = new HostPaths(Path.Join(root, "proc"), Path.Join(root, "sys"), root);
        _cpu = Create(CpuCollector.Descriptor, paths);
        _statCollector = Create(StatCollector.Descriptor, paths);
        _memInfoCollector = Create(MemInfoCollector.Descriptor, paths);
        _diskStatsCollector = Create(DiskStatsCollector.Descriptor, paths);
        _netDevCollector = Create(NetDevCollector.Descriptor, paths);
        _pressureCollector = Create(PressureCollector.Descriptor, paths);
    }

    [Benchmark]
    public int ParseCpu() => CpuParser.Parse(_stat, _cpus).Value;

    [Benchmark]
    public ulong ParseStat() => StatParser.Parse(_stat).Value.ContextSwitches;

    [Benchmark]
    public int ParseMemInfo() => MemInfoParser.Parse(_meminfo, _memInfo).Value;

    [Benchmark]
    public ulong ParseDiskStats()
    {
        ulong sum = 0;
        var lines = new LineReader(_diskstats);
        while (lines.TryNext(out var line))
        {
            var parsed = DiskStatsParser.ParseLine(line);
            if (parsed.Success)
            {
                sum += parsed.Value.Counters[0];
            }
        }

        return sum;
    }

    [Benchmark]
    public ulong ParseNetDev()
    {
        ulong sum = 0;
        var lines = new LineReader(_netdev);
        lines.TryNext(out _);
        lines.TryNext(out _);
        while (lines.TryNext(out var line))
        {
            var parsed = NetDevParser.ParseLine(line);
            if (parsed.Success)
            {
                sum += parsed.Value.Counters[0];
            }
        }

        return sum;
    }

    [Benchmark]
    public ulong ParsePressure() => PressureParser.Parse(_pressure).Value.SomeTotalMicroseconds;

    [Benchmark]
    public void UpdateCpu() => Update(_cpu);

    [Benchmark]
    public void UpdateStat() => Update(_statCollector);

    [Benchmark]
    public void UpdateMemInfo() => Update(_memInfoCollector);

    [Benchmark]
    public void UpdateDiskStats() => Update(_diskStatsCollector);

    [Benchmark]
    public void UpdateNetDev() => Update(_netDevCollector);

    [Benchmark]
    public void UpdatePressure() => Update(_pressureCollector);

    private static void Update((MetricGroup Group, ICollector Collector) target)
    {
        target.Group.BeginUpdate();
        target.Collector.Update(CancellationToken.None);
        target.Group.EndUpdate();
    }

    private static (MetricGroup, ICollector) Create(CollectorDescriptor descriptor, HostPaths paths)
    {
        var group = new MetricGroup(descriptor.Name);
        var settings = new ConfigurationBuilder().Build().GetSection($"Collectors:{descriptor.Name}");
        var collector = descriptor.Create(new CollectorContext(group, paths, settings, NullLogger.Instance, TimeProvider.System));

        // Warm up: the first update creates families, series and caches; the benchmark measures the steady state.
        var target = (group, collector);
        Update(target);
        return target;
    }
}
