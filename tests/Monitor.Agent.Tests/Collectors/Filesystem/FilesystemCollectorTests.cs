using System.Diagnostics;
using Monitor.Agent.Collectors.Filesystem;
using Monitor.Agent.Configuration;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Filesystem;

public sealed class FilesystemCollectorTests : IDisposable
{
    private const string MountInfo = """
        27 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw,errors=remount-ro
        32 27 8:3 / /home rw,relatime shared:30 - ext4 /dev/sda3 rw
        36 27 0:40 / /data/nfs rw,relatime shared:34 - nfs4 fileserver:/export rw,vers=4.2
        23 1 0:22 / /proc rw,nosuid shared:13 - proc proc rw
        """;

    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(300);

    private readonly string _root = Directory.CreateTempSubdirectory("monitor-fs-").FullName;
    private readonly FakeStatFs _statFs = new();

    public FilesystemCollectorTests()
    {
        Directory.CreateDirectory(Path.Join(_root, "proc", "1"));
        File.WriteAllText(Path.Join(_root, "proc", "1", "mountinfo"), MountInfo);
    }

    public void Dispose()
    {
        _statFs.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void Update_AllMountsAnswer_ExposesUsageInBytes()
    {
        var samples = PromSamples.Parse(Harness().Scrape());

        const string Home = "{device=\"/dev/sda3\",fstype=\"ext4\",mountpoint=\"/home\"}";
        Assert.Equal(4096.0 * 1000, samples["node_filesystem_size_bytes" + Home]);
        Assert.Equal(4096.0 * 400, samples["node_filesystem_free_bytes" + Home]);
        Assert.Equal(4096.0 * 300, samples["node_filesystem_avail_bytes" + Home]);
        Assert.Equal(50, samples["node_filesystem_files" + Home]);
        Assert.Equal(20, samples["node_filesystem_files_free" + Home]);
        Assert.Equal(0, samples["node_filesystem_readonly" + Home]);
        Assert.Equal(0, samples["node_filesystem_device_error" + Home]);
        Assert.DoesNotContain(samples.Keys, k => k.Contains("/proc", StringComparison.Ordinal));
    }

    [Fact]
    public void Update_StatFsBlocks_ReturnsWithinTimeoutAndReportsDeviceError()
    {
        _statFs.Block("/data/nfs");
        var harness = Harness();

        var watch = Stopwatch.StartNew();
        var samples = PromSamples.Parse(harness.Scrape());
        watch.Stop();

        Assert.InRange(watch.Elapsed, Timeout - TimeSpan.FromMilliseconds(50), Timeout + TimeSpan.FromSeconds(1));
        Assert.Equal(1, samples[Nfs("node_filesystem_device_error")]);
        Assert.False(samples.ContainsKey(Nfs("node_filesystem_size_bytes")));
        Assert.Equal(0, samples["node_filesystem_device_error{device=\"/dev/sda3\",fstype=\"ext4\",mountpoint=\"/home\"}"]);
    }

    [Fact]
    public void Update_MountStillStuck_DoesNotCallStatFsAgainNorWait()
    {
        _statFs.Block("/data/nfs");
        var harness = Harness();
        harness.Update();

        var watch = Stopwatch.StartNew();
        var samples = PromSamples.Parse(harness.Scrape());
        harness.Update();
        watch.Stop();

        Assert.Equal(1, _statFs.Calls("/data/nfs"));
        Assert.Equal(3, _statFs.Calls("/home"));
        Assert.Equal(1, samples[Nfs("node_filesystem_device_error")]);
        Assert.True(watch.Elapsed < Timeout, $"quarantined mount was waited on: {watch.Elapsed}");
    }

    [Fact]
    public void Update_StuckCallReturns_MountRecoversOnLaterUpdate()
    {
        _statFs.Block("/data/nfs");
        var harness = Harness();
        harness.Update();

        _statFs.Gate.Set();
        var recovered = SpinWait.SpinUntil(
            () => PromSamples.Parse(harness.Scrape())[Nfs("node_filesystem_device_error")] == 0,
            TimeSpan.FromSeconds(2));

        Assert.True(recovered);
        Assert.Equal(4096.0 * 1000, PromSamples.Parse(harness.Render())[Nfs("node_filesystem_size_bytes")]);
        Assert.InRange(_statFs.Calls("/data/nfs"), 2, 20);
    }

    [Fact]
    public void Update_StatFsFailsWithEacces_OnlyThatMountHasDeviceError()
    {
        _statFs.Fail("/home", 13);

        var samples = PromSamples.Parse(Harness().Scrape());

        Assert.Equal(1, samples["node_filesystem_device_error{device=\"/dev/sda3\",fstype=\"ext4\",mountpoint=\"/home\"}"]);
        Assert.False(samples.ContainsKey("node_filesystem_readonly{device=\"/dev/sda3\",fstype=\"ext4\",mountpoint=\"/home\"}"));
        Assert.Equal(0, samples[Nfs("node_filesystem_device_error")]);
        Assert.Equal(0, samples["node_filesystem_device_error{device=\"/dev/sda2\",fstype=\"ext4\",mountpoint=\"/\"}"]);
    }

    [Fact]
    public void Update_StatFsThrows_OnlyThatMountHasDeviceError()
    {
        var harness = Harness(new ThrowingStatFs("/home", _statFs));

        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(1, samples["node_filesystem_device_error{device=\"/dev/sda3\",fstype=\"ext4\",mountpoint=\"/home\"}"]);
        Assert.Equal(0, samples[Nfs("node_filesystem_device_error")]);
    }

    [Fact]
    public void Update_DuplicateMountLines_ExposedOnceAndStatFsOnce()
    {
        File.AppendAllText(Path.Join(_root, "proc", "1", "mountinfo"), "\n40 27 8:3 / /home rw,relatime shared:30 - ext4 /dev/sda3 rw\n");

        var text = Harness().Scrape();

        Assert.Single(PromSamples.SeriesKeys(text, "node_filesystem_size_bytes"), k => k.Contains("/home", StringComparison.Ordinal));
        Assert.Equal(1, _statFs.Calls("/home"));
    }

    [Fact]
    public void Update_MalformedLine_SkipsOnlyThatLine()
    {
        File.AppendAllText(Path.Join(_root, "proc", "1", "mountinfo"), "\n41 27 8:9 / /broken rw,relatime\n");

        var samples = PromSamples.Parse(Harness().Scrape());

        Assert.Equal(3, PromSamples.Only(samples, "node_filesystem_device_error").Count);
    }

    [Fact]
    public void Update_ProcOneHidden_FallsBackToSelfMountInfo()
    {
        Directory.CreateDirectory(Path.Join(_root, "proc", "self"));
        File.Move(Path.Join(_root, "proc", "1", "mountinfo"), Path.Join(_root, "proc", "self", "mountinfo"));

        var samples = PromSamples.Parse(Harness().Scrape());

        Assert.Equal(3, PromSamples.Only(samples, "node_filesystem_device_error").Count);
    }

    [Fact]
    public void Update_ExcludeFlagsSet_UsesThem()
    {
        var settings = new Dictionary<string, string?>
        {
            ["mount-timeout"] = "300ms",
            ["mount-points-exclude"] = "^/home$",
            ["fs-types-exclude"] = "^nfs4$",
        };

        var samples = PromSamples.Parse(Harness(settings: settings).Scrape());

        Assert.Equal(
            ["node_filesystem_device_error{device=\"/dev/sda2\",fstype=\"ext4\",mountpoint=\"/\"}", "node_filesystem_device_error{device=\"proc\",fstype=\"proc\",mountpoint=\"/proc\"}"],
            PromSamples.Only(samples, "node_filesystem_device_error").Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Update_StatPath_IsJoinedUnderRootfs()
    {
        Harness().Update();

        Assert.Equal(1, _statFs.Calls(Path.Join(_root, "/data/nfs")));
    }

    [Theory]
    [InlineData("mount-timeout", "five seconds")]
    [InlineData("mount-timeout", "0s")]
    [InlineData("mount-points-exclude", "^(unclosed")]
    [InlineData("fs-types-exclude", "[")]
    public void Create_BadFlag_ThrowsNamingTheKey(string key, string value)
    {
        var ex = Assert.Throws<ArgumentException>(() => Harness(settings: new Dictionary<string, string?> { [key] = value }));

        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Descriptor_Flags_AreNodeExporterDefaults()
    {
        var flags = FilesystemCollector.Descriptor.Flags.ToDictionary(f => f.Name, f => f.Default);

        Assert.Equal("5s", flags["mount-timeout"]);
        Assert.Equal(FilesystemCollector.DefaultMountPointsExclude, flags["mount-points-exclude"]);
        Assert.Equal(FilesystemCollector.DefaultFsTypesExclude, flags["fs-types-exclude"]);
        Assert.True(FilesystemCollector.Descriptor.EnabledByDefault);
    }

    private static string Nfs(string family) => family + "{device=\"fileserver:/export\",fstype=\"nfs4\",mountpoint=\"/data/nfs\"}";

    private CollectorHarness Harness(IStatFs? statFs = null, Dictionary<string, string?>? settings = null)
    {
        var fake = statFs ?? _statFs;
        var descriptor = FilesystemCollector.Descriptor with { Create = c => new FilesystemCollector(c, fake) };
        return new CollectorHarness(
            descriptor,
            new HostPaths(Path.Join(_root, "proc"), Path.Join(_root, "sys"), _root),
            settings ?? new Dictionary<string, string?> { ["mount-timeout"] = "300ms" });
    }

    private sealed class ThrowingStatFs(string suffix, IStatFs inner) : IStatFs
    {
        public int StatFs(string path, out FileSystemUsage usage) =>
            path.EndsWith(suffix, StringComparison.Ordinal) ? throw new InvalidOperationException("boom") : inner.StatFs(path, out usage);
    }
}
