using Monitor.Agent.Collectors.DiskStats;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.DiskStats;

public sealed class DiskStatsCollectorTests
{
    private const string Sda = "   8       0 sda 100 0 2000 10 50 0 1000 5 0 15 15 1 0 8 1 7 3\n";
    private const string Sdb = "   8      16 sdb 80212 1231 9823120 112312 23123 8123 9123812 223123 2 123123 335435\n";

    [Fact]
    public void Update_OneMalformedLine_KeepsTheOtherDevices()
    {
        using var tree = new TempTree().Write("proc/diskstats", Sda + "   8      32 sdc 1 2 x\n" + Sdb);

        var samples = PromSamples.Parse(CollectorHarness.ForTree(DiskStatsCollector.Descriptor, tree.Root).Scrape());

        Assert.Equal(1_024_000, samples["node_disk_read_bytes_total{device=\"sda\"}"]);
        Assert.Equal(80212, samples["node_disk_reads_completed_total{device=\"sdb\"}"]);
        Assert.DoesNotContain(samples.Keys, k => k.Contains("sdc", StringComparison.Ordinal));
    }

    [Fact]
    public void Update_14FieldLine_WritesOnlyThe11OldCounters()
    {
        using var tree = new TempTree().Write("proc/diskstats", Sdb);

        var samples = PromSamples.Parse(CollectorHarness.ForTree(DiskStatsCollector.Descriptor, tree.Root).Scrape());

        // 11 counter families plus node_disk_info; no discard or flush series.
        Assert.Equal(12, samples.Count);
        Assert.Equal(335.435, samples["node_disk_io_time_weighted_seconds_total{device=\"sdb\"}"]);
        Assert.DoesNotContain(samples.Keys, k => k.Contains("discard", StringComparison.Ordinal) || k.Contains("flush", StringComparison.Ordinal));
    }

    [Fact]
    public void Update_NoUdevData_WritesInfoWithEmptyLabels()
    {
        using var tree = new TempTree().Write("proc/diskstats", Sda);

        var samples = PromSamples.Parse(CollectorHarness.ForTree(DiskStatsCollector.Descriptor, tree.Root).Scrape());

        Assert.Equal(1, samples["node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"\",path=\"\",revision=\"\",serial=\"\",wwn=\"\"}"]);
    }

    [Fact]
    public void Update_UdevDataChanges_InfoLabelsFollow()
    {
        using var tree = new TempTree().Write("proc/diskstats", Sda).Write("run/udev/data/b8:0", "E:ID_MODEL=old\n");
        var harness = CollectorHarness.ForTree(DiskStatsCollector.Descriptor, tree.Root);
        harness.Scrape();

        tree.Write("run/udev/data/b8:0", "E:ID_MODEL=new\nE:ID_FS_TYPE=xfs\n");
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Contains(samples.Keys, k => k.StartsWith("node_disk_info{", StringComparison.Ordinal) && k.Contains("model=\"new\"", StringComparison.Ordinal));
        Assert.DoesNotContain(samples.Keys, k => k.Contains("model=\"old\"", StringComparison.Ordinal));
        Assert.Equal(1, samples["node_disk_filesystem_info{device=\"sda\",type=\"xfs\",usage=\"\",uuid=\"\",version=\"\"}"]);
    }

    [Fact]
    public void Update_DeviceDisappears_ItsSeriesAreRemoved()
    {
        using var tree = new TempTree().Write("proc/diskstats", Sda + Sdb);
        var harness = CollectorHarness.ForTree(DiskStatsCollector.Descriptor, tree.Root);
        harness.Scrape();

        tree.Write("proc/diskstats", Sda);
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.DoesNotContain(samples.Keys, k => k.Contains("sdb", StringComparison.Ordinal));
        Assert.Contains("node_disk_io_now{device=\"sda\"}", samples.Keys);
    }

    [Fact]
    public void Update_IncludeSetAndExcludeCleared_ReportsPartitions()
    {
        var settings = new Dictionary<string, string?> { ["device-exclude"] = "", ["device-include"] = "^nvme0n1" };

        var samples = PromSamples.Parse(CollectorHarness.ForTree(DiskStatsCollector.Descriptor, Fixtures.Path("host"), settings).Scrape());

        var devices = samples.Keys.Where(k => k.StartsWith("node_disk_io_now", StringComparison.Ordinal)).ToArray();
        Assert.Equal(
            ["node_disk_io_now{device=\"nvme0n1\"}", "node_disk_io_now{device=\"nvme0n1p1\"}", "node_disk_io_now{device=\"nvme0n1p2\"}"],
            devices.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Update_MissingFile_Throws()
    {
        using var tree = new TempTree();

        Assert.ThrowsAny<IOException>(CollectorHarness.ForTree(DiskStatsCollector.Descriptor, tree.Root).Update);
    }
}
