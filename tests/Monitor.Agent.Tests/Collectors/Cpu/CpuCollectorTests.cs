using Monitor.Agent.Collectors.Cpu;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Cpu;

public sealed class CpuCollectorTests
{
    private const string User0 = "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}";
    private const string Idle0 = "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}";

    [Fact]
    public void Update_CounterGoesBackwardsSlightly_KeepsPreviousValue()
    {
        using var tree = new TempTree().Write("proc/stat", "cpu0 1000 0 0 50000\n");
        var harness = CollectorHarness.ForTree(CpuCollector.Descriptor, tree.Root);
        harness.Scrape();

        tree.Write("proc/stat", "cpu0 990 0 0 49950\n");
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(10, samples[User0]);
        Assert.Equal(500, samples[Idle0]);
    }

    [Fact]
    public void Update_IdleJumpsBackThreeSeconds_ResetsTheCpu()
    {
        using var tree = new TempTree().Write("proc/stat", "cpu0 1000 0 0 50000\n");
        var harness = CollectorHarness.ForTree(CpuCollector.Descriptor, tree.Root);
        harness.Scrape();

        // 300 ticks = 3 s of idle lost: a hotplugged CPU starting again from zero.
        tree.Write("proc/stat", "cpu0 20 0 0 49700\n");
        var samples = PromSamples.Parse(harness.Scrape());

        Assert.Equal(0.2, samples[User0]);
        Assert.Equal(497, samples[Idle0]);
    }

    [Fact]
    public void Update_NoSysfs_ExportsOnlyCpuTimes()
    {
        using var tree = new TempTree().Write("proc/stat", "cpu0 1 2 3 4 5 6 7 8 9 10\n");

        var samples = PromSamples.Parse(CollectorHarness.ForTree(CpuCollector.Descriptor, tree.Root).Scrape());

        Assert.Equal(10, samples.Count);
        Assert.All(samples.Keys, k => Assert.StartsWith("node_cpu_", k, StringComparison.Ordinal));
        Assert.Equal(0.09, samples["node_cpu_guest_seconds_total{cpu=\"0\",mode=\"user\"}"]);
    }

    [Fact]
    public void Update_GuestDisabled_OmitsGuestSeries()
    {
        using var tree = new TempTree().Write("proc/stat", "cpu0 1 2 3 4 5 6 7 8 9 10\n");
        var settings = new Dictionary<string, string?> { ["guest"] = "false" };

        var samples = PromSamples.Parse(CollectorHarness.ForTree(CpuCollector.Descriptor, tree.Root, settings).Scrape());

        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("node_cpu_guest", StringComparison.Ordinal));
    }

    [Fact]
    public void Update_MalformedIsolatedList_KeepsCpuTimes()
    {
        using var tree = new TempTree()
            .Write("proc/stat", "cpu0 1 2 3 4\n")
            .Write("sys/devices/system/cpu/isolated", "3-1\n");

        var samples = PromSamples.Parse(CollectorHarness.ForTree(CpuCollector.Descriptor, tree.Root).Scrape());

        Assert.Equal(0.01, samples[User0]);
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("node_cpu_isolated", StringComparison.Ordinal));
    }

    [Fact]
    public void Update_CpuWithoutThrottleCounters_SkipsOnlyThatCpu()
    {
        using var tree = new TempTree()
            .Write("proc/stat", "cpu0 1 2 3 4\ncpu1 1 2 3 4\n")
            .Write("sys/devices/system/cpu/cpu0/topology/physical_package_id", "0\n")
            .Write("sys/devices/system/cpu/cpu0/topology/core_id", "0\n")
            .Write("sys/devices/system/cpu/cpu1/topology/physical_package_id", "1\n")
            .Write("sys/devices/system/cpu/cpu1/topology/core_id", "0\n")
            .Write("sys/devices/system/cpu/cpu1/thermal_throttle/core_throttle_count", "42\n")
            .Write("sys/devices/system/cpu/cpu1/thermal_throttle/package_throttle_count", "garbage\n");

        var samples = PromSamples.Parse(CollectorHarness.ForTree(CpuCollector.Descriptor, tree.Root).Scrape());

        Assert.Equal(42, samples["node_cpu_core_throttles_total{core=\"0\",package=\"1\"}"]);
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("node_cpu_package_throttles_total", StringComparison.Ordinal));
        Assert.DoesNotContain(samples.Keys, k => k.Contains("package=\"0\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Update_MalformedStat_Throws()
    {
        using var tree = new TempTree().Write("proc/stat", "cpu0 1 2\n");

        var ex = Assert.Throws<MalformedSourceException>(CollectorHarness.ForTree(CpuCollector.Descriptor, tree.Root).Update);
        Assert.Equal("cpu0: expected at least 4 columns, found 2", ex.Problem);
    }

    [Fact]
    public void Update_MissingStat_Throws()
    {
        using var tree = new TempTree();

        Assert.ThrowsAny<IOException>(CollectorHarness.ForTree(CpuCollector.Descriptor, tree.Root).Update);
    }
}
