using Monitor.Agent.Gpu.Xid;

namespace Monitor.Agent.Tests.Gpu.Xid;

public sealed class XidCatalogTests
{
    // The buckets as listed in NVIDIA's Xid catalog / NVSentinel (reference alerting.md §3), written out by hand.
    [Theory]
    [InlineData(13u, "RESTART_APP")]
    [InlineData(31u, "RESTART_APP")]
    [InlineData(94u, "RESTART_APP")]
    [InlineData(43u, "IGNORE")]
    [InlineData(63u, "IGNORE")]
    [InlineData(92u, "IGNORE")]
    [InlineData(45u, "WORKFLOW_XID")]
    [InlineData(48u, "WORKFLOW_XID")]
    [InlineData(74u, "WORKFLOW_XID")]
    [InlineData(144u, "WORKFLOW_XID")]
    [InlineData(150u, "WORKFLOW_XID")]
    [InlineData(46u, "RESET_GPU")]
    [InlineData(62u, "RESET_GPU")]
    [InlineData(64u, "RESET_GPU")]
    [InlineData(95u, "RESET_GPU")]
    [InlineData(109u, "RESET_GPU")]
    [InlineData(119u, "RESET_GPU")]
    [InlineData(120u, "RESET_GPU")]
    [InlineData(136u, "RESET_GPU")]
    [InlineData(140u, "RESET_GPU")]
    [InlineData(143u, "RESET_GPU")]
    [InlineData(155u, "RESET_GPU")]
    [InlineData(156u, "RESET_GPU")]
    [InlineData(158u, "RESET_GPU")]
    [InlineData(79u, "RESTART_BM")]
    [InlineData(61u, "CONTACT_SUPPORT")]
    [InlineData(154u, "FOLLOW_LINKED_XID")]
    [InlineData(151u, "UNKNOWN")]
    [InlineData(999u, "UNKNOWN")]
    public void Resolve_KnownAndUnknownCodes(uint xid, string code) =>
        Assert.Equal(code, XidCatalog.Code(XidCatalog.Resolve(xid)));

    [Fact]
    public void KnownCodes_AreSortedAndCoverTheCriticalAlertSet()
    {
        Assert.Equal(XidCatalog.KnownCodes.Order(), XidCatalog.KnownCodes);
        Assert.Equal(32, XidCatalog.KnownCodes.Count);
        // The GpuXidCritical alert's codes (reference alerting.md §5) must all be pre-seeded.
        foreach (var xid in new uint[] { 46, 48, 62, 64, 74, 79, 95, 109, 119, 120, 136, 140, 143, 155, 156, 158 })
        {
            Assert.Contains(xid, XidCatalog.KnownCodes);
        }
    }

    [Fact]
    public void Describe_UnknownCode_PointsToCatalog()
    {
        Assert.Equal("GPU has fallen off the bus", XidCatalog.Describe(79));
        Assert.Equal("Xid 46: see NVIDIA's Xid catalog", XidCatalog.Describe(46));
        Assert.Equal("Xid 7: see NVIDIA's Xid catalog", XidCatalog.Describe(7));
    }
}
