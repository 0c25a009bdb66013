using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Textfile;
using Monitor.Agent.Configuration;
using Monitor.Agent.Tests.Support;
using Monitor.Core.Exposition;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Textfile;

/// <summary>
/// The textfile collector: node_exporter 1.5.0's golden over tests/fixtures/host/textfile (merging, conflicts, HELP
/// for families without one, label padding, histograms and summaries, a broken and a timestamped file), and each
/// hostile file on its own: a FIFO, a file over the size limit, binary garbage, a directory and a dangling link.
/// </summary>
public sealed class TextfileCollectorTests : IDisposable
{
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    private static string FixtureDirectory => Fixtures.Path("host", "textfile");

    [Fact]
    public void HostFixture_MatchesNodeExporterGolden()
    {
        var expected = File.ReadAllText(HostGolden.PathOf("textfile")).Replace("@FIXTURE_ROOT@", Fixtures.Path("host"), StringComparison.Ordinal);
        var harness = Harness(FixtureDirectory);
        harness.Scrape();
        var actual = harness.Scrape();

        var withoutMtimes = string.Join('\n', actual.Split('\n').Where(l => !l.StartsWith("node_textfile_mtime_seconds{", StringComparison.Ordinal)));
        PromSamples.AssertEquivalent(PromSamples.Parse(expected), PromSamples.Parse(withoutMtimes));
        PromMetadata.AssertSame(expected, actual);
    }

    [Fact]
    public void HostFixture_MtimeOfEachFileRead_InWholeSeconds()
    {
        var samples = PromSamples.Parse(Harness(FixtureDirectory).Scrape());
        var mtimes = samples.Where(s => s.Key.StartsWith("node_textfile_mtime_seconds{", StringComparison.Ordinal)).ToDictionary();

        // The three files that parse; not the broken one, the timestamped one or notes.txt.
        string[] read = ["10-site.prom", "20-merge.prom", "30-conflict.prom"];
        Assert.Equal(read.Select(f => $"node_textfile_mtime_seconds{{file=\"{Path.Join(FixtureDirectory, f)}\"}}").Order(StringComparer.Ordinal), mtimes.Keys.Order(StringComparer.Ordinal));
        foreach (var file in read)
        {
            var expected = new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Join(FixtureDirectory, file))).ToUnixTimeSeconds();
            Assert.Equal(expected, mtimes[$"node_textfile_mtime_seconds{{file=\"{Path.Join(FixtureDirectory, file)}\"}}"]);
        }
    }

    [Fact]
    public void OpenMetrics_CountersGetTotal_UntypedIsUnknown_AndPromtoolAcceptsIt()
    {
        _tree.Write("t/a.prom", "# TYPE jobs_done counter\njobs_done 5\n# TYPE bytes_total counter\nbytes_total 7\nplain 1\n");
        var harness = Harness(_tree.Path("t"));
        var text = harness.Scrape(ExpositionFormat.OpenMetrics100);
        Assert.Contains("# TYPE jobs_done counter\njobs_done_total 5\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE bytes counter\nbytes_total 7\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE plain unknown\nplain 1\n", text, StringComparison.Ordinal);
        Assert.EndsWith("# EOF\n", text, StringComparison.Ordinal);
        var reparsed = TextParser.Parse(text, ExpositionFormat.OpenMetrics100);
        Assert.Contains(reparsed, f => f.Name == "jobs_done" && f.Type == ParsedMetricType.Counter);
    }

    [Fact]
    public void NoDirectory_OnlyTheErrorGaugeAtZero()
    {
        var text = Harness(string.Empty).Scrape();
        Assert.Contains("node_textfile_scrape_error 0\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node_textfile_mtime_seconds{", text, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingDirectory_ErrorLoggedOnce()
    {
        var logs = new CollectingLoggerFactory();
        var harness = Harness(_tree.Path("absent"), logs.CreateLogger("textfile"));
        harness.Scrape();
        var text = harness.Scrape();
        Assert.Contains("node_textfile_scrape_error 1\n", text, StringComparison.Ordinal);
        Assert.Single(logs.Entries, e => e.Id.Id == 2191);
    }

    [Fact]
    public async Task Fifo_IsSkippedAsAnError_WithoutBlocking()
    {
        _tree.Write("t/good.prom", "site_ok 1\n");
        var fifo = _tree.Path("t/pipe.prom");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var logs = new CollectingLoggerFactory();
        var harness = Harness(_tree.Path("t"), logs.CreateLogger("textfile"));

        // Opening a FIFO with no writer blocks forever; the update must come back.
        var text = await Task.Run(() => harness.Scrape()).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("site_ok 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_textfile_scrape_error 1\n", text, StringComparison.Ordinal);
        Assert.Contains(logs.Entries, e => e.Id.Id == 2190 && e.Message.Contains("FIFO", StringComparison.Ordinal));
    }

    [Fact]
    public void FileOverTheLimit_IsSkipped_TheRestServed()
    {
        _tree.Write("t/good.prom", "site_ok 1\n");

        // 100 MB of valid lines: refused by its size before a byte is read.
        var big = _tree.Path("t/big.prom");
        using (var stream = File.Create(big))
        {
            stream.SetLength(100L << 20);
        }

        var logs = new CollectingLoggerFactory();
        var harness = Harness(_tree.Path("t"), logs.CreateLogger("textfile"));
        var text = harness.Scrape();
        Assert.Contains("site_ok 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_textfile_scrape_error 1\n", text, StringComparison.Ordinal);
        Assert.Contains(logs.Entries, e => e.Id.Id == 2190 && e.Message.Contains("104857600 bytes is more than --collector.textfile.max-bytes=16777216", StringComparison.Ordinal));
    }

    [Fact]
    public void MaxBytesSetting_IsHonoured()
    {
        _tree.Write("t/a.prom", "site_ok 1\n");
        var text = CollectorHarness.ForTree(TextfileCollector.Descriptor, _tree.Root, new Dictionary<string, string?> { ["directory"] = _tree.Path("t"), ["max-bytes"] = "5" }).Scrape();
        Assert.DoesNotContain("site_ok", text, StringComparison.Ordinal);
        Assert.Contains("node_textfile_scrape_error 1\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("nul")]
    [InlineData("longline")]
    [InlineData("dangling")]
    [InlineData("directory")]
    [InlineData("badle")]
    [InlineData("timestamp")]
    public void HostileFile_IsSkippedAsAnError_TheRestServed(string kind)
    {
        _tree.Write("t/good.prom", "site_ok 1\n");
        var path = _tree.Path("t/bad.prom");
        switch (kind)
        {
            case "binary":
                File.WriteAllBytes(path, [.. Enumerable.Range(0, 4096).Select(i => (byte)((i * 7919) % 256))]);
                break;
            case "nul":
                File.WriteAllText(path, "site_nul\0 1\n");
                break;
            case "longline":
                File.WriteAllText(path, "site_long{a=\"" + new string('x', 2 << 20) + "\"} 1\n");
                break;
            case "dangling":
                File.CreateSymbolicLink(path, _tree.Path("nowhere"));
                break;
            case "directory":
                Directory.CreateDirectory(path);
                break;
            case "badle":
                File.WriteAllText(path, "# TYPE h histogram\nh_bucket{le=\"soon\"} 1\n");
                break;
            case "timestamp":
                File.WriteAllText(path, "site_ts 1 1700000000000\n");
                break;
        }

        var logs = new CollectingLoggerFactory();
        var harness = Harness(_tree.Path("t"), logs.CreateLogger("textfile"));
        harness.Scrape();
        var text = harness.Scrape();
        Assert.Contains("site_ok 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_textfile_scrape_error 1\n", text, StringComparison.Ordinal);
        Assert.Equal(["site_ok"], PromSamples.Parse(text).Keys.Where(k => k.StartsWith("site_", StringComparison.Ordinal)));

        // Logged once, not once per scrape.
        Assert.Single(logs.Entries, e => e.Id.Id == 2190);
    }

    [Fact]
    public void FixedFile_IsReadAgain_AndTheErrorClears()
    {
        _tree.Write("t/a.prom", "site_value one\n");
        var harness = Harness(_tree.Path("t"));
        Assert.Contains("node_textfile_scrape_error 1\n", harness.Scrape(), StringComparison.Ordinal);

        // Written the way the docs ask (a new file renamed over the old), so inode and mtime change.
        _tree.Write("t/a.prom.tmp", "site_value 2\n");
        File.Move(_tree.Path("t/a.prom.tmp"), _tree.Path("t/a.prom"), overwrite: true);
        var text = harness.Scrape();
        Assert.Contains("site_value 2\n", text, StringComparison.Ordinal);
        Assert.Contains("node_textfile_scrape_error 0\n", text, StringComparison.Ordinal);

        File.Delete(_tree.Path("t/a.prom"));
        text = harness.Scrape();
        Assert.DoesNotContain("site_value", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node_textfile_mtime_seconds{", text, StringComparison.Ordinal);
    }

    [Fact]
    public void GlobDirectory_ReadsEveryMatch()
    {
        _tree.Write("jobs/1/a.prom", "site_job_value{job=\"1\"} 1\n").Write("jobs/2/a.prom", "site_job_value{job=\"2\"} 2\n").Write("other/a.prom", "site_other 1\n");
        var text = Harness(_tree.Path("jobs/*")).Scrape();
        Assert.Contains("site_job_value{job=\"1\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("site_job_value{job=\"2\"} 2\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("site_other", text, StringComparison.Ordinal);
        Assert.Contains($"# HELP site_job_value Metric read from {_tree.Path("jobs/1/a.prom")}, {_tree.Path("jobs/2/a.prom")}\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void FamilyOfAnAgentCollector_IsDroppedNotDuplicated()
    {
        _tree.Write("t/a.prom", "node_textfile_scrape_error 7\nsite_ok 1\n");
        var text = Harness(_tree.Path("t")).Scrape();
        Assert.Single(text.Split('\n'), l => l.StartsWith("node_textfile_scrape_error ", StringComparison.Ordinal));
        Assert.Contains("node_textfile_scrape_error 0\n", text, StringComparison.Ordinal);
        Assert.Contains("site_ok 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ReservedLabelName_DropsTheMetric_NodeExporterPanicsOnIt()
    {
        _tree.Write("t/a.prom", "site_r{__reserved=\"1\"} 1\nsite_ok 1\n");
        var text = Harness(_tree.Path("t")).Scrape();
        Assert.DoesNotContain("site_r", text, StringComparison.Ordinal);
        Assert.Contains("site_ok 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_textfile_scrape_error 0\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a//b/", "x.prom", "a/b/x.prom")]
    [InlineData("./t", "x.prom", "t/x.prom")]
    [InlineData("/var/lib/../lib/node", "x.prom", "/var/lib/node/x.prom")]
    [InlineData("/", "x.prom", "/x.prom")]
    public void Join_CleansAsGoDoes(string directory, string name, string expected) => Assert.Equal(expected, PathGlob.Join(directory, name));

    private CollectorHarness Harness(string directory, ILogger? logger = null) =>
        new(TextfileCollector.Descriptor, new HostPaths(_tree.Path("proc"), _tree.Path("sys"), _tree.Root), new Dictionary<string, string?> { ["directory"] = directory }, logger);
}
