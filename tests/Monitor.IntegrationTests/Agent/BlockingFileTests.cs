using System.Diagnostics;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// A file on the scrape path that never answers (a FIFO nobody writes, in place of a procfs file): the scrape still
/// answers, only the collectors reading that file report failed and lose their series, one log line names the file,
/// and SIGTERM still ends the agent at once.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class BlockingFileTests
{
    /// <summary>How long a scrape waits for a read in these tests (--collector.read-timeout).</summary>
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(1);

    public static TheoryData<string, string[], string> ScrapePathFiles => new()
    {
        { "proc/loadavg", ["loadavg"], "node_load1" },
        { "proc/meminfo", ["meminfo"], "node_memory_MemTotal_bytes" },
        { "proc/stat", ["cpu", "stat"], "node_boot_time_seconds" },
        { "proc/diskstats", ["diskstats"], "node_disk_reads_completed_total" },
        { "proc/net/dev", ["netdev"], "node_network_receive_bytes_total" },
        { "proc/pressure/io", ["pressure"], "node_pressure_io_stalled_seconds_total" },
    };

    [Theory]
    [MemberData(nameof(ScrapePathFiles))]
    public async Task Scrape_FileNeverAnswers_OnlyItsCollectorsFailAndTheAgentStopsInTime(string file, string[] collectors, string family)
    {
        using var tree = await CopyOfHostFixtureAsync();
        var fifo = tree.Path(file);
        await MakeFifoAsync(fifo);
        await using var agent = await AgentProcess.StartAsync(
            $"--path.procfs={tree.Path("proc")}", $"--path.sysfs={tree.Path("sys")}", $"--path.rootfs={tree.Root}",
            $"--collector.read-timeout={ReadTimeout.TotalSeconds}s", "--no-collector.gpu", "--no-collector.jobs");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        // The first scrape meets the blocked read: it waits one read timeout per blocked collector, then answers.
        var watch = Stopwatch.StartNew();
        var first = PromSamples.Parse(await agent.ScrapeAsync(client));
        var took = watch.Elapsed;
        var second = PromSamples.Parse(await agent.ScrapeAsync(client));

        foreach (var scrape in new[] { first, second })
        {
            foreach (var collector in collectors)
            {
                Assert.Equal(0, scrape[$"monitor_agent_collector_success{{collector=\"{collector}\"}}"]);
            }

            Assert.DoesNotContain(scrape.Keys, k => k.StartsWith(family, StringComparison.Ordinal));
            var healthy = new[] { "cpu", "stat", "meminfo", "loadavg", "diskstats", "netdev", "pressure", "filesystem" }.Except(collectors);
            foreach (var collector in healthy)
            {
                Assert.Equal(1, scrape[$"monitor_agent_collector_success{{collector=\"{collector}\"}}"]);
            }

            Assert.Contains(scrape.Keys, k => k.StartsWith("node_filesystem_size_bytes", StringComparison.Ordinal));
        }

        // One read timeout per blocked collector, and far below Prometheus' 10 s scrape timeout.
        Assert.True(took < TimeSpan.FromSeconds(8), $"first scrape took {took}");
        foreach (var collector in collectors)
        {
            await agent.WaitForLogAsync($"Collector {collector} is stuck reading {fifo}", TimeSpan.FromSeconds(10));
            var lines = agent.Log.Split('\n').Where(l => l.Contains($"Collector {collector} is stuck reading {fifo}", StringComparison.Ordinal)).ToList();
            Assert.Single(lines);
        }

        // A read still hung must not hold up shutdown.
        var (exitCode, stopTook) = await agent.TerminateAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, exitCode);
        Assert.True(stopTook < TimeSpan.FromSeconds(6), $"SIGTERM took {stopTook}");
    }

    [Fact]
    public async Task Scrape_FileAnswersAgain_CollectorComesBack()
    {
        using var tree = await CopyOfHostFixtureAsync();
        var fifo = tree.Path("proc/loadavg");
        await MakeFifoAsync(fifo);
        await using var agent = await AgentProcess.StartAsync(
            $"--path.procfs={tree.Path("proc")}", $"--path.sysfs={tree.Path("sys")}", $"--path.rootfs={tree.Root}",
            $"--collector.read-timeout={ReadTimeout.TotalSeconds}s", "--no-collector.gpu", "--no-collector.jobs");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await agent.ScrapeUntilAsync(client, s => s.GetValueOrDefault("monitor_agent_collector_success{collector=\"loadavg\"}", 1) == 0);

        // The file becomes a regular file again, and a writer opens and closes the FIFO the stuck read is blocked on,
        // so that read returns (with an error: a FIFO is no procfs file) and the stuck update completes.
        File.Move(fifo, fifo + ".blocked");
        await File.WriteAllTextAsync(fifo, "0.25 0.50 1.75 2/300 4242\n");
        await using (new FileStream(fifo + ".blocked", FileMode.Open, FileAccess.Write))
        {
        }

        var samples = await agent.ScrapeUntilAsync(client, s => s.ContainsKey("node_load1"));
        Assert.Equal(0.25, samples["node_load1"]);
        Assert.Equal(1.75, samples["node_load15"]);
        await agent.WaitForLogAsync("Collector loadavg: the update that was stuck returned", TimeSpan.FromSeconds(10));
        Assert.Equal(1, samples["monitor_agent_collector_success{collector=\"loadavg\"}"]);
    }

    [Fact]
    public async Task BackgroundUpdate_FileNeverAnswers_ReportedStuckAndWithdrawn()
    {
        using var tree = await CopyOfHostFixtureAsync();
        var fifo = tree.Path("sys/devices/platform/coretemp.0/hwmon/hwmon0/temp1_input");
        await MakeFifoAsync(fifo);
        await using var agent = await AgentProcess.StartAsync(
            $"--path.procfs={tree.Path("proc")}", $"--path.sysfs={tree.Path("sys")}", $"--path.rootfs={tree.Root}",
            "--collector.hwmon.interval=1s", "--no-collector.gpu", "--no-collector.jobs");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        // Stuck once it has run the 10 s grace past its 1 s interval; checked every 2 s.
        var samples = await agent.ScrapeUntilAsync(
            client, s => s.GetValueOrDefault("monitor_agent_collector_success{collector=\"hwmon\"}", 1) == 0, TimeSpan.FromSeconds(60));
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("node_hwmon_", StringComparison.Ordinal));
        Assert.Equal(1, samples["monitor_agent_collector_success{collector=\"loadavg\"}"]);
        // The collector reads through the class link, so that is the path it names.
        await agent.WaitForLogAsync("Collector hwmon is stuck reading " + tree.Path("sys/class/hwmon/hwmon0/temp1_input"), TimeSpan.FromSeconds(10));

        var (exitCode, stopTook) = await agent.TerminateAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, exitCode);
        Assert.True(stopTook < TimeSpan.FromSeconds(6), $"SIGTERM took {stopTook}");
    }

    /// <summary>A copy of tests/fixtures/host (symlinks kept) to put a FIFO into.</summary>
    private static async Task<TempTree> CopyOfHostFixtureAsync()
    {
        var tree = new TempTree();
        var (code, stdout, stderr) = await ExternalTool.RunAsync("cp", ["-a", Fixtures.Path("host") + "/.", tree.Root], timeout: TimeSpan.FromSeconds(60));
        Assert.True(code == 0, stdout + stderr);
        return tree;
    }

    /// <summary>Replaces <paramref name="path"/> with a FIFO that nobody writes: any open for reading blocks.</summary>
    private static async Task MakeFifoAsync(string path)
    {
        File.Delete(path);
        var (code, stdout, stderr) = await ExternalTool.RunAsync("mkfifo", [path], timeout: TimeSpan.FromSeconds(10));
        Assert.True(code == 0, stdout + stderr);
    }
}
