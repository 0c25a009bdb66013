using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>The agent executable's command line: help, version, and exit code 2 with a useful message for bad input.</summary>
[Trait("Category", "AgentProcess")]
public sealed class AgentCliTests
{
    [Fact]
    public async Task Help_ListsEveryFlagWithDefault_ExitsZero()
    {
        var (code, stdout, _) = await AgentProcess.RunToExitAsync("--help");

        Assert.Equal(0, code);
        foreach (var flag in new[]
                 {
                     "--web.listen-address=\":9420\"", "--web.telemetry-path=\"/metrics\"", "--path.procfs=\"/proc\"", "--path.sysfs=\"/sys\"",
                     "--path.rootfs=\"/\"", "--config.file", "--log.format=\"text\"", "--log.level=\"info\"", "--[no-]collector.loadavg",
                     "--[no-]collector.disable-defaults",
                 })
        {
            Assert.Contains(flag, stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Version_PrintsVersionAndRevision()
    {
        var (code, stdout, _) = await AgentProcess.RunToExitAsync("--version");

        Assert.Equal(0, code);
        Assert.Matches(@"^monitor-agent, version \d+\.\d+\.\d+ \(revision: [0-9a-f]+|unknown\)", stdout);
    }

    [Theory]
    [InlineData("--log.level=loud", "--log.level", "debug, info, warn, error")]
    [InlineData("--web.max-requests=-3", "--web.max-requests", "a whole number")]
    [InlineData("--web.listen-address=9420", "--web.listen-address", "[host]:port")]
    [InlineData("--web.listen-adress=:9420", "unknown flag --web.listen-adress", "did you mean --web.listen-address")]
    [InlineData("--no-collector.nonexistent", "unknown flag --no-collector.nonexistent", "--help")]
    [InlineData("--no-log.level", "unknown flag --no-log.level", "--help")]
    [InlineData("stray", "unexpected argument 'stray'", "--")]
    [InlineData("--collector.jobs.state-path=/proc/1/monitor-ledger", "cannot use --collector.jobs.state-path '/proc/1/monitor-ledger'", "a directory it can create and write")]
    public async Task BadFlag_ExitsTwo_NamingFlagAndAllowedValues(string arg, string names, string allowed)
    {
        var (code, _, stderr) = await AgentProcess.RunToExitAsync(arg);

        Assert.Equal(2, code);
        Assert.Contains(names, stderr, StringComparison.Ordinal);
        Assert.Contains(allowed, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadConfigFile_ExitsTwo_NamingKey()
    {
        var file = Path.Join(Directory.CreateTempSubdirectory("monitor-cfg-").FullName, "agent.json");
        await File.WriteAllTextAsync(file, """{ "Web": { "ListenAdress": ":1" } }""");

        var (code, _, stderr) = await AgentProcess.RunToExitAsync($"--config.file={file}");

        Assert.Equal(2, code);
        Assert.Contains("unknown setting 'Web:ListenAdress'", stderr, StringComparison.Ordinal);
        Assert.Contains("Web:ListenAddress", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigFile_SetsListenAddressAndDisablesCollector()
    {
        var file = Path.Join(Directory.CreateTempSubdirectory("monitor-cfg-").FullName, "agent.json");
        await File.WriteAllTextAsync(file, """{ "Web": { "TelemetryPath": "/m" }, "Collectors": { "loadavg": { "Enabled": false } } }""");
        await using var agent = await AgentProcess.StartAsync($"--config.file={file}");
        using var client = new HttpClient();

        var body = await client.GetStringAsync(new Uri(agent.BaseAddress, "m"));

        Assert.DoesNotContain("node_load1", body, StringComparison.Ordinal);
        Assert.Contains("process_cpu_seconds_total", body, StringComparison.Ordinal);
    }
}
