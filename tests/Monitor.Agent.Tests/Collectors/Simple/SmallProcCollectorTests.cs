using Monitor.Agent.Collectors.Entropy;
using Monitor.Agent.Collectors.FileFd;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Collectors.Uname;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Simple;

/// <summary>
/// The entropy, filefd and uname collectors: the first two against node_exporter 1.5.0's goldens over the fixture
/// tree and against bad files; uname against this machine's uname, as Python's os.uname() reads it.
/// </summary>
public sealed class SmallProcCollectorTests : IDisposable
{
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Entropy_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(EntropyCollector.Descriptor);

    [Fact]
    public void FileFd_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(FileFdCollector.Descriptor);

    [Fact]
    public void Entropy_NoPoolSize_OnlyTheAvailableBits()
    {
        _tree.Write("proc/sys/kernel/random/entropy_avail", "256\n");
        var text = CollectorHarness.ForTree(EntropyCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_entropy_available_bits 256\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node_entropy_pool_size_bits ", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("lots\n")]
    [InlineData("-5\n")]
    public void Entropy_BadAvailable_FailsTheCollectorNamingTheFile(string content)
    {
        _tree.Write("proc/sys/kernel/random/entropy_avail", content);
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(EntropyCollector.Descriptor, _tree.Root).Update());
        Assert.Contains("entropy_avail", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1024\t0\t1631329\n", 1024.0, 1631329.0)]
    [InlineData("7 0 99", 7.0, 99.0)]
    [InlineData("1\t0\t2\t3\n", 1.0, 2.0)]   // a later field is ignored, as node_exporter ignores it
    public void FileFd_Parse_AllocatedAndMaximum(string text, double allocated, double maximum) =>
        Assert.Equal((allocated, maximum), FileFdCollector.Parse(text).ValueOrThrow("file-nr"));

    [Theory]
    [InlineData("")]
    [InlineData("1024\t0\n")]
    [InlineData("1024\tzero\t5\n")]
    public void FileFd_Parse_BadFileFails(string text) => Assert.False(FileFdCollector.Parse(text).Success);

    [Fact]
    public async Task Uname_IsThisMachinesAsPythonReadsIt()
    {
        // Ground truth from another implementation of the same call.
        var (code, stdout, stderr) = await ExternalTool.RunAsync(
            "python3", ["-c", "import os; u = os.uname(); print('\\n'.join([u.sysname, u.nodename, u.release, u.version, u.machine]))"]);
        Assert.True(code == 0, stderr);
        var python = stdout.TrimEnd('\n').Split('\n');
        var mine = UnameCollector.Read();
        Assert.Equal(python, (string[])[mine.Sysname, mine.Nodename, mine.Release, mine.Version, mine.Machine]);

        var text = CollectorHarness.ForTree(UnameCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains($"node_uname_info{{domainname=\"{mine.Domainname}\",machine=\"{python[4]}\",nodename=\"{python[1]}\",release=\"{python[2]}\",sysname=\"{python[0]}\",", text, StringComparison.Ordinal);
    }
}
