using System.Globalization;
using System.Text;
using CsCheck;
using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.Cpu;
using Monitor.Agent.Collectors.DiskStats;
using Monitor.Agent.Collectors.Filesystem;
using Monitor.Agent.Collectors.Hwmon;
using Monitor.Agent.Collectors.InfiniBand;
using Monitor.Agent.Collectors.LoadAvg;
using Monitor.Agent.Collectors.MemInfo;
using Monitor.Agent.Collectors.NetClass;
using Monitor.Agent.Collectors.NetDev;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Collectors.Pressure;
using Monitor.Agent.Collectors.Stat;
using Monitor.Agent.Collectors.ThermalZone;
using Monitor.Agent.Tests.Collectors;
using Monitor.Core.Exposition;
using Monitor.Testing;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// Every host collector over a copy of tests/fixtures/host in which one of its files, per case, is replaced by a
/// mutation of itself or by random bytes (the parsing that lives inside collectors, such as sysfs attributes, label
/// values and metric names made from file content, is reached only this way). An update either succeeds or throws
/// the <see cref="MalformedSourceException"/> a collector documents for a malformed source, and what the collector
/// then serves is always valid exposition text. The same collector instance serves every case, so what a bad file
/// leaves behind (caches, families, devices) is exercised too.
/// </summary>
public sealed class CollectorFuzzTests : IDisposable
{
    private readonly TempTree _tree = new();

    public CollectorFuzzTests() => CopyTree(Fixtures.Path("host"), _tree.Root);

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Cpu_AnyFileContent_UpdatesOrThrowsMalformed() => Run(CpuCollector.Descriptor, "proc/stat", "sys/devices/system/cpu");

    [Fact]
    public void Stat_AnyFileContent_UpdatesOrThrowsMalformed() => Run(StatCollector.Descriptor, "proc/stat");

    [Fact]
    public void MemInfo_AnyFileContent_UpdatesOrThrowsMalformed() => Run(MemInfoCollector.Descriptor, "proc/meminfo");

    [Fact]
    public void MemInfo_FieldNamesThatCollide_UpdatesOrThrowsMalformed()
    {
        // Field names from a small alphabet, so two of them map to one metric name ("A(b)" and "A_b") or to a
        // counter and a gauge that claim one OpenMetrics family ("X_total" and "X").
        var names = Gen.String[Gen.Char["AXb_()"], 1, 7].Select(n => n.Length > 1 && n.EndsWith('_') ? n + "total" : n);
        var files = Gen.Select(names, Gen.UInt, Gen.Bool).Array[1, 12].Select(lines =>
            string.Concat(lines.Select(l => string.Create(CultureInfo.InvariantCulture, $"{l.Item1}: {l.Item2}{(l.Item3 ? " kB" : "")}\n"))));
        Run(MemInfoCollector.Descriptor, ["proc/meminfo"], files.Select(text => (0, text)), "meminfo (colliding names)");
    }

    [Fact]
    public void MemInfo_TwoFieldsOneMetricName_KeepsTheFirstAndServesTheRest()
    {
        using var tree = new TempTree();
        tree.Write("proc/meminfo", "Active(anon): 1 kB\nActive_anon: 2 kB\nX_total: 3\nX: 4\nMemFree: 5 kB\n");
        var harness = CollectorHarness.ForTree(MemInfoCollector.Descriptor, tree.Root);

        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(1024, samples["node_memory_Active_anon_bytes"]);
        Assert.Equal(3, samples["node_memory_X_total"]);
        Assert.Equal(5120, samples["node_memory_MemFree_bytes"]);
        Assert.DoesNotContain("node_memory_X", samples.Keys);
    }

    [Fact]
    public void LoadAvg_AnyFileContent_UpdatesOrThrowsMalformed() => Run(LoadAvgCollector.Descriptor, "proc/loadavg");

    [Fact]
    public void DiskStats_AnyFileContent_UpdatesOrThrowsMalformed() => Run(DiskStatsCollector.Descriptor, "proc/diskstats", "run/udev/data", "sys/block");

    [Fact]
    public void Filesystem_AnyFileContent_UpdatesOrThrowsMalformed() => Run(FilesystemCollector.Descriptor, "proc/1/mountinfo");

    [Fact]
    public void NetDev_AnyFileContent_UpdatesOrThrowsMalformed() => Run(NetDevCollector.Descriptor, "proc/net/dev");

    [Fact]
    public void Pressure_AnyFileContent_UpdatesOrThrowsMalformed() => Run(PressureCollector.Descriptor, "proc/pressure");

    [Fact]
    public void Hwmon_AnyFileContent_UpdatesOrThrowsMalformed() => Run(HwmonCollector.Descriptor, "sys/devices/platform", "sys/devices/pci0000:00", "sys/devices/virtual/hwmon", "sys/devices/virtual/thermal/thermal_zone0/hwmon3");

    [Fact]
    public void ThermalZone_AnyFileContent_UpdatesOrThrowsMalformed() => Run(ThermalZoneCollector.Descriptor, "sys/devices/virtual/thermal");

    [Fact]
    public void NetClass_AnyFileContent_UpdatesOrThrowsMalformed() => Run(NetClassCollector.Descriptor, "sys/class/net");

    [Fact]
    public void InfiniBand_AnyFileContent_UpdatesOrThrowsMalformed() => Run(InfiniBandCollector.Descriptor, "sys/class/infiniband");

    private void Run(CollectorDescriptor descriptor, params string[] sources)
    {
        var files = Files(sources);
        var originals = files.Select(f => Encoding.Latin1.GetString(File.ReadAllBytes(_tree.Path(f)))).ToArray();
        var perFile = originals.Select(o => FuzzGen.Text([o], 128)).ToArray();
        Run(descriptor, files, Gen.Int[0, files.Length - 1].SelectMany(i => perFile[i].Select(text => (i, text))), descriptor.Name);
    }

    private void Run(CollectorDescriptor descriptor, string[] files, Gen<(int File, string Text)> cases, string name)
    {
        var originals = files.Select(f => File.ReadAllBytes(_tree.Path(f))).ToArray();
        var harness = CollectorHarness.ForTree(descriptor, _tree.Root);
        FuzzCheck.Run(
            $"collector {name} (mutated fixture files)",
            cases,
            c => c.Text.Length,
            c =>
            {
                var path = _tree.Path(files[c.File]);
                File.WriteAllBytes(path, c.Text.Any(ch => ch > '\u00ff') ? Encoding.UTF8.GetBytes(c.Text) : Encoding.Latin1.GetBytes(c.Text));
                try
                {
                    var updated = true;
                    try
                    {
                        harness.Update();
                    }
                    catch (MalformedSourceException)
                    {
                        // What the collector documents for a malformed file: the runner marks it failed and logs once.
                        updated = false;
                    }

                    // Whatever happened, the collector's series render as valid exposition text.
                    _ = TextParser.Parse(harness.Render(), ExpositionFormat.Text004);
                    return updated;
                }
                finally
                {
                    File.WriteAllBytes(path, originals[c.File]);
                }
            },
            ciIterations: 150,
            FuzzLimits.TimeOnly,
            threads: 1,
            longRunShare: 0.02);
    }

    /// <summary>The regular files under each source (a file or a folder) of the copied tree, symlinks not followed.</summary>
    private string[] Files(string[] sources) =>
    [
        .. sources.SelectMany(source =>
        {
            var path = _tree.Path(source);
            return File.Exists(path)
                ? [source]
                : new DirectoryInfo(path).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
                    .Where(f => f.LinkTarget is null && f.Name != ".gitkeep")
                    .Select(f => Path.GetRelativePath(_tree.Root, f.FullName));
        }).Order(StringComparer.Ordinal),
    ];

    /// <summary>Copies a folder, keeping symlinks as symlinks (sysfs class folders are links into devices/).</summary>
    private static void CopyTree(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var entry in new DirectoryInfo(source).EnumerateFileSystemInfos())
        {
            var target = Path.Join(destination, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                if (entry is DirectoryInfo)
                {
                    Directory.CreateSymbolicLink(target, link);
                }
                else
                {
                    File.CreateSymbolicLink(target, link);
                }
            }
            else if (entry is DirectoryInfo directory)
            {
                CopyTree(directory.FullName, target);
            }
            else
            {
                File.Copy(entry.FullName, target);
            }
        }
    }
}
