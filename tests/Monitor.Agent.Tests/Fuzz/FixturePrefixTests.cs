using System.Text;
using Monitor.Agent.Collectors.Cpu;
using Monitor.Agent.Collectors.DiskStats;
using Monitor.Agent.Collectors.Filesystem;
using Monitor.Agent.Collectors.Hwmon;
using Monitor.Agent.Collectors.InfiniBand;
using Monitor.Agent.Collectors.LoadAvg;
using Monitor.Agent.Collectors.MemInfo;
using Monitor.Agent.Collectors.NetDev;
using Monitor.Agent.Collectors.Pressure;
using Monitor.Agent.Collectors.Stat;
using Monitor.Agent.Collectors.ThermalZone;
using Monitor.Core.Exposition;
using Monitor.Testing;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// Every real file in tests/fixtures/host cut at every length (a read that raced a writer, a short read of a
/// sysfs attribute), through the parser that reads it: no exception but the documented one, and no allocation
/// beyond <see cref="FuzzLimits.Default"/>'s bound. Deterministic: it tries every prefix, not a sample of them.
/// </summary>
public sealed class FixturePrefixTests
{
    /// <summary>Fixture file (or folder of files) → the parser that reads it; returns whether the prefix was accepted.</summary>
    private static readonly Dictionary<string, Func<string, bool>> Parsers = new(StringComparer.Ordinal)
    {
        ["proc/stat"] = text => CpuParser.Parse(text, []).Success & StatParser.Parse(text).Success,
        ["proc/meminfo"] = text => MemInfoParser.Parse(text, []).Success,
        ["proc/loadavg"] = text => LoadAvgParser.Parse(text).Success,
        ["proc/diskstats"] = text => Lines(text).All(line => DiskStatsParser.ParseLine(line).Success),
        ["proc/net/dev"] = text => Lines(text).Skip(NetDevParser.HeaderLines).All(line => NetDevParser.ParseLine(line).Success),
        ["proc/pressure"] = text => PressureParser.Parse(text).Success,
        ["proc/1/mountinfo"] = text => MountInfoParser.Parse(text).Success,
        ["run/udev/data"] = text => UdevDataParser.Parse(text) is not null,
        ["sys/devices/system/cpu/online"] = text => CpuParser.ParseCpuList(text, []).Success,
        ["sys/devices/system/cpu/isolated"] = text => CpuParser.ParseCpuList(text, []).Success,
        ["sys/class/infiniband/mlx5_0/ports/1/counters"] = text => InfiniBandParser.ParseCounter(text, out _) == CounterReading.Value,
        ["sys/class/infiniband/mlx5_0/ports/1/rate"] = text => InfiniBandParser.TryParseRate(text, out _),
        ["sys/class/infiniband/mlx5_0/ports/1/state"] = text => InfiniBandParser.TryParseState(text, out _, out _),
        ["sys/class/infiniband/mlx5_0/ports/1/phys_state"] = text => InfiniBandParser.TryParseState(text, out _, out _),
        ["sys/devices/virtual/thermal/thermal_zone0/temp"] = text => ThermalZoneParser.ParseInteger(text).Success,
        ["sys/devices/platform/nct6775.656/hwmon/hwmon2"] = text => HwmonParser.ParseValue(text).Success,
        ["golden"] = text => TryParseExposition(text),
    };

    public static TheoryData<string> Sources => [.. Parsers.Keys];

    [Theory]
    [MemberData(nameof(Sources))]
    public void Parse_EveryPrefixOfFixture_StaysWithinTheRule(string source)
    {
        var parse = Parsers[source];
        var path = Fixtures.Path("host", source);
        var files = File.Exists(path) ? [path] : Directory.EnumerateFiles(path).Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        var accepted = 0;
        foreach (var file in files)
        {
            var text = Encoding.Latin1.GetString(File.ReadAllBytes(file));
            for (var length = 0; length <= text.Length; length++)
            {
                var prefix = text[..length];
                var before = GC.GetAllocatedBytesForCurrentThread();
                accepted += parse(prefix) ? 1 : 0;
                var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (allocated > FuzzLimits.Default.AllowedBytes(length))
                {
                    // Measure again without first-call costs or a GC's share before calling it a failure.
                    allocated = FuzzCheck.LeastAllocated(() => parse(prefix));
                    Assert.True(allocated <= FuzzLimits.Default.AllowedBytes(length), $"{file} cut at {length}: allocated {allocated} B");
                }
            }
        }

        // The whole file is among the prefixes: a parser that rejected everything would be a broken test.
        Assert.True(accepted >= files.Length, $"{source}: only {accepted} prefixes accepted");
    }

    private static IEnumerable<string> Lines(string text) => text.Split('\n').Where(line => line.Length > 0);

    private static bool TryParseExposition(string text)
    {
        try
        {
            return TextParser.Parse(text, ExpositionFormat.Text004).Count >= 0;
        }
        catch (ExpositionParseException)
        {
            return false;
        }
    }
}
