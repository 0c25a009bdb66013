using Monitor.Agent.Collectors.Nfs;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Nfs;

/// <summary>
/// The nfs and nfsd collectors against node_exporter 1.5.0's goldens over its own fixtures, and against the files
/// procfs v0.8.0 refuses (each such file fails the collector, as node_exporter's does) or reads with zeros.
/// </summary>
public sealed class NfsCollectorTests : IDisposable
{
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Nfs_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(NfsCollector.Descriptor);

    [Fact]
    public void Nfsd_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(NfsdCollector.Descriptor);

    [Fact]
    public void NoFile_NoSeries_Success()
    {
        Assert.Equal(string.Empty, CollectorHarness.ForTree(NfsCollector.Descriptor, _tree.Root).Scrape());
        Assert.Equal(string.Empty, CollectorHarness.ForTree(NfsdCollector.Descriptor, _tree.Root).Scrape());
    }

    [Fact]
    public void Nfs_LinesTheFileLacks_ExportZeros_ShortV4Padded()
    {
        // Only the rpc line and a v4 line of 3 procedures (an old kernel): every other series is 0.
        _tree.Write("proc/net/rpc/nfs", "rpc 10 2 1\nproc4 3 7 8 9\n");
        var samples = PromSamples.Parse(CollectorHarness.ForTree(NfsCollector.Descriptor, _tree.Root).Scrape());
        Assert.Equal(10, samples["node_nfs_rpcs_total"]);
        Assert.Equal(0, samples["node_nfs_connections_total"]);
        Assert.Equal(0, samples["node_nfs_requests_total{method=\"GetAttr\",proto=\"3\"}"]);
        Assert.Equal(9, samples["node_nfs_requests_total{method=\"Write\",proto=\"4\"}"]);
        Assert.Equal(0, samples["node_nfs_requests_total{method=\"Clone\",proto=\"4\"}"]);
        Assert.Equal(18 + 22 + 59 + 6, samples.Count);
    }

    [Theory]
    [InlineData("nfs", "net 1 2 3\n")]                  // net needs 4 numbers
    [InlineData("nfs", "rpc 1 2 x\n")]                  // not a whole number
    [InlineData("nfs", "proc3 22 1 2\n")]               // declares 22, has 2
    [InlineData("nfs", "proc2 3 1 2 3\n")]              // fewer than 18 procedures
    [InlineData("nfs", "nfs4 1 2\n")]                   // unknown line
    [InlineData("nfs", "rpc\n")]                        // no numbers
    [InlineData("nfsd", "th 8\n")]                      // th needs two numbers
    [InlineData("nfsd", "proc4 3 1 2 3\n")]             // nfsd's proc4 has exactly 2
    [InlineData("nfsd", "proc4ops 2 1 2\n")]            // fewer than 39 operations
    [InlineData("nfsd", "ra 32 0 0\n")]                 // ra needs 12 numbers
    public void MalformedFile_FailsTheCollectorNamingTheFile(string file, string content)
    {
        _tree.Write("proc/net/rpc/" + file, content);
        var descriptor = file == "nfs" ? NfsCollector.Descriptor : NfsdCollector.Descriptor;
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(descriptor, _tree.Root).Update());
        Assert.Contains("rpc/" + file, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nfsd_ThreadsLine_FractionalHistogramIgnored()
    {
        _tree.Write("proc/net/rpc/nfsd", "th 16 3 0.125 1.5\n");
        var samples = PromSamples.Parse(CollectorHarness.ForTree(NfsdCollector.Descriptor, _tree.Root).Scrape());
        Assert.Equal(16, samples["node_nfsd_server_threads"]);
    }
}
