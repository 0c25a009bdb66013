using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.DiskStats;

namespace Monitor.Agent.Tests.Collectors;

public sealed class DeviceFilterTests
{
    [Theory]
    [InlineData("sda", false)]
    [InlineData("sda1", true)]
    [InlineData("nvme0n1", false)]
    [InlineData("nvme0n1p1", true)]
    [InlineData("dm-0", false)]
    [InlineData("mmcblk0p1", false)]
    [InlineData("loop0", true)]
    [InlineData("zram0", true)]
    [InlineData("ram1", true)]
    [InlineData("xvda1", true)]
    [InlineData("md127", false)]
    public void IsIgnored_DiskstatsDefaultExclude_DropsPartitionsAndVirtualDevices(string device, bool ignored)
    {
        var filter = new DeviceFilter(DiskStatsCollector.DefaultExclude, null);

        Assert.Equal(ignored, filter.IsIgnored(device));
        Assert.Equal(ignored, filter.IsIgnored(device)); // cached answer
    }

    [Theory]
    [InlineData("eth0", false)]
    [InlineData("eno1", true)]
    [InlineData("lo", true)]
    public void IsIgnored_IncludeAndExclude_IgnoresWhenExcludedOrNotIncluded(string device, bool ignored)
    {
        var filter = new DeviceFilter("^lo$", "^(eth|lo)");

        Assert.Equal(ignored, filter.IsIgnored(device));
    }

    [Fact]
    public void IsIgnored_NoPatterns_KeepsEverything()
    {
        var filter = new DeviceFilter("", null);

        Assert.False(filter.IsIgnored("lo"));
    }

    [Fact]
    public void IsIgnored_ManyDistinctDevices_StaysCorrectAfterTheCacheIsDropped()
    {
        var filter = new DeviceFilter("^veth", null);
        for (var i = 0; i < DeviceFilter.MaxCachedDevices + 10; i++)
        {
            Assert.True(filter.IsIgnored($"veth{i}"));
        }

        Assert.False(filter.IsIgnored("eth0"));
    }
}
