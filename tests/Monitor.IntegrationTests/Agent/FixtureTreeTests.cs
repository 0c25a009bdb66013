using Monitor.Agent.Collectors.InfiniBand;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// The whole agent run against tests/fixtures/host (with --path.procfs/sysfs/rootfs), its scrape compared with the
/// golden files that node_exporter 1.5.0 itself produced from the same tree (tests/fixtures/host/regenerate-golden.sh).
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class FixtureTreeTests
{
    /// <summary>Families whose values come from statfs on the fixture directories, i.e. from this machine's disk.</summary>
    private static readonly string[] HostDependent =
        ["node_filesystem_size_bytes", "node_filesystem_free_bytes", "node_filesystem_avail_bytes", "node_filesystem_files", "node_filesystem_files_free"];

    internal static string[] FixtureArgs { get; } =
    [
        $"--path.procfs={Fixtures.Path("host", "proc")}",
        $"--path.sysfs={Fixtures.Path("host", "sys")}",
        $"--path.rootfs={Fixtures.Path("host")}",
        $"--collector.textfile.directory={Fixtures.Path("host", "textfile")}",
    ];

    [Fact]
    public async Task Scrape_MatchesNodeExporterGolden()
    {
        var golden = Directory.GetFiles(Fixtures.Path("host", "golden"), "*.prom");
        Assert.NotEmpty(golden);
        var expected = golden.SelectMany(f => PromSamples.Parse(File.ReadAllText(f).Replace("@FIXTURE_ROOT@", Fixtures.Path("host"), StringComparison.Ordinal))).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        await using var agent = await AgentProcess.StartAsync(FixtureArgs);
        using var client = new HttpClient();

        var body = await ScrapeSettledAsync(agent, client);
        // Families node_exporter 1.5.0 does not have (docs/host-collectors.md says why we add them) are left out, and
        // node_uname_info: uname(2) describes this machine, not the tree (UnameTests compares it with node_exporter's).
        // The textfile goldens leave out the files' mtimes, which depend on the checkout (TextfileCollectorTests has them).
        var actual = PromSamples.Only(PromSamples.Parse(body), "node_", "site_")
            .Where(s => !s.Key.StartsWith("node_textfile_mtime_seconds{", StringComparison.Ordinal))
            .Where(s => !s.Key.StartsWith("node_scrape_collector_", StringComparison.Ordinal))
            .Where(s => !InfiniBandCollector.BeyondNodeExporter150.Concat(Monitor.Agent.Collectors.NetDev.NetDevCollector.BeyondNodeExporter150Proc)
                .Any(f => s.Key.StartsWith(f + "{", StringComparison.Ordinal)))
            .Where(s => !s.Key.StartsWith("node_uname_info{", StringComparison.Ordinal))
            .Where(s => !IsThisMachines(s.Key))
            .ToDictionary(StringComparer.Ordinal);

        foreach (var key in expected.Keys.Where(IsHostDependent).ToList())
        {
            Assert.True(actual.ContainsKey(key), $"missing {key}");
            expected[key] = actual[key];
        }

        PromSamples.AssertEquivalent(expected, actual);
        Assert.DoesNotContain("monitor_agent_collector_success{collector=\"", body.Split('\n').Where(l => l.EndsWith(" 0", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Goldens_AreWhatNodeExporterPrintsToday()
    {
        // The goldens are only ground truth if the peer still produces them: regenerate into a temp folder and compare.
        ExternalTool.Require("prometheus-node-exporter", "prometheus-node-exporter");
        var output = Directory.CreateTempSubdirectory("monitor-golden-").FullName;
        try
        {
            var script = Fixtures.Path("host", "regenerate-golden.sh");
            var (code, stdout, stderr) = await ExternalTool.RunAsync(
                "env", [$"GOLDEN_DIR={output}", script], timeout: TimeSpan.FromMinutes(2));
            Assert.True(code == 0, stdout + stderr);

            foreach (var committed in Directory.GetFiles(Fixtures.Path("host", "golden"), "*.prom"))
            {
                var expected = PromSamples.Parse(await File.ReadAllTextAsync(committed));
                var fresh = PromSamples.Parse(await File.ReadAllTextAsync(Path.Join(output, Path.GetFileName(committed))));
                foreach (var key in fresh.Keys.Where(IsHostDependent).ToList())
                {
                    fresh[key] = expected.GetValueOrDefault(key, double.NaN);
                }

                PromSamples.AssertEquivalent(expected, fresh);
            }
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public async Task Scrape_PassesPromtool()
    {
        await using var agent = await AgentProcess.StartAsync(FixtureArgs);
        using var client = new HttpClient();

        var body = await ScrapeSettledAsync(agent, client);

        await Promtool.AssertCleanAsync(body);
    }

    [Fact]
    public async Task MalformedSource_FailsOnlyItsCollector_LoggedOnce()
    {
        var root = Directory.CreateTempSubdirectory("monitor-tree-").FullName;
        try
        {
            // cp -a keeps the sysfs-style symlinks of the tree.
            var (code, _, stderr) = await ExternalTool.RunAsync("cp", ["-a", Fixtures.Path("host") + "/.", root]);
            Assert.True(code == 0, stderr);
            // Garbage with terminal escapes (clear screen, set title, bell): the log must show them escaped, never raw.
            await File.WriteAllTextAsync(Path.Join(root, "proc", "loadavg"), "garbage\u001b[2J\u001b]0;owned\u0007 0.1 0.2 1/2 3\n");
            await using var agent = await AgentProcess.StartAsync($"--path.procfs={root}/proc", $"--path.sysfs={root}/sys", $"--path.rootfs={root}");
            using var client = new HttpClient();

            Dictionary<string, double> samples = [];
            for (var i = 0; i < 3; i++)
            {
                samples = PromSamples.Parse(await agent.ScrapeAsync(client));
            }

            Assert.Equal(0, samples["monitor_agent_collector_success{collector=\"loadavg\"}"]);
            Assert.DoesNotContain("node_load1", samples.Keys);
            Assert.Equal(1, samples["monitor_agent_collector_success{collector=\"meminfo\"}"]);
            Assert.Contains("node_memory_MemTotal_bytes", samples.Keys);
            await agent.WaitForLogAsync("Collector loadavg failed", TimeSpan.FromSeconds(10));
            Assert.Single(agent.Log.Split('\n'), l => l.Contains("Collector loadavg failed", StringComparison.Ordinal));
            Assert.Contains("'garbage\\x1b[2J\\x1b]0;owned\\x07'", agent.Log, StringComparison.Ordinal);
            Assert.DoesNotContain('\u001b', agent.Log);
            Assert.DoesNotContain('\u0007', agent.Log);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Scrapes until background collectors have delivered their first sample (bounded to 10 s).</summary>
    private static async Task<string> ScrapeSettledAsync(AgentProcess agent, HttpClient client)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            // The runner sets a collector's duration once its first update has been published.
            var body = await agent.ScrapeAsync(client);
            var settled = new[] { "filesystem", "hwmon", "infiniband", "netclass", "thermal_zone", "cpufreq", "os", "dmi", "powersupplyclass" }
                .All(c => body.Contains($"monitor_agent_collector_duration_seconds{{collector=\"{c}\"}}", StringComparison.Ordinal));
            if (settled || DateTime.UtcNow > deadline)
            {
                return body;
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Series of syscalls and the clock (time, timex, selinux): this machine's, compared with node_exporter live in TimeTests, TimexTests and SelinuxTests.</summary>
    private static bool IsThisMachines(string key) =>
        key.StartsWith("node_timex_", StringComparison.Ordinal) || key.StartsWith("node_time_seconds", StringComparison.Ordinal) || key.StartsWith("node_selinux_", StringComparison.Ordinal)
        || key.StartsWith("node_time_zone_offset_seconds{", StringComparison.Ordinal);

    private static bool IsHostDependent(string key) =>
        HostDependent.Any(f => key.StartsWith(f + "{", StringComparison.Ordinal));
}
