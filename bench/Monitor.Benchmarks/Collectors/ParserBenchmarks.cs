using BenchmarkDotNet.Attributes;
using Monitor.Agent.Tests.Collectors;
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
    private CollectorHarness _cpu = null!;
    private CollectorHarness _statCollector = null!;
    private CollectorHarness _memInfoCollector = null!;
    private CollectorHarness _diskStatsCollector = null!;
    private CollectorHarness _netDevCollector = null!;
    private CollectorHarness _pressureCollector = null!;

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
        _cpu = new CollectorHarness(CpuCollector.Descriptor, paths);
        _statCollector = new CollectorHarness(StatCollector.Descriptor, paths);
        _memInfoCollector = new CollectorHarness(MemInfoCollector.Descriptor, paths);
        _diskStatsCollector = new CollectorHarness(DiskStatsCollector.Descriptor, paths);
        _netDevCollector = new CollectorHarness(NetDevCollector.Descriptor, paths);
        _pressureCollector = new CollectorHarness(PressureCollector.Descriptor, paths);
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
    public void UpdateCpu() => _cpu.Update();

    [Benchmark]
    public void UpdateStat() => _statCollector.Update();

    [Benchmark]
    public void UpdateMemInfo() => _memInfoCollector.Update();

    [Benchmark]
    public void UpdateDiskStats() => _diskStatsCollector.Update();

    [Benchmark]
    public void UpdateNetDev() => _netDevCollector.Update();

    [Benchmark]
    public void UpdatePressure() => _pressureCollector.Update();
}
