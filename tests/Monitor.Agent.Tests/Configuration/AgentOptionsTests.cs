using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;

namespace Monitor.Agent.Tests.Configuration;

public sealed class AgentOptionsTests
{
    private static readonly CollectorDescriptor[] Catalog =
    [
        new("cpu", "CPU.", true, Cadence.OnScrape, TimeSpan.Zero, _ => null!, []),
        new("diskstats", "Disks.", true, Cadence.OnScrape, TimeSpan.Zero, _ => null!, [new CollectorFlag("device-exclude", "^loop", "x", FlagKind.Regex)]),
        new("hwmon", "Sensors.", false, Cadence.OnScrape, TimeSpan.Zero, _ => null!, []),
    ];

    private static readonly IReadOnlyList<FlagSpec> Flags = AgentFlags.All(Catalog);

    [Fact]
    public void Load_NoInput_UsesDefaults()
    {
        var options = Load([]);

        Assert.Null(options.Listen.Host);
        Assert.Equal(9420, options.Listen.Port);
        Assert.Equal("/metrics", options.TelemetryPath);
        Assert.Equal(new HostPaths("/proc", "/sys", "/"), options.Paths);
        Assert.Equal(["cpu", "diskstats"], options.EnabledCollectors.Select(c => c.Name));
        Assert.Equal("^loop", options.CollectorSettings("diskstats")["device-exclude"]);
    }

    [Fact]
    public void Load_DisableDefaults_KeepsOnlyNamedCollectors()
    {
        var options = Load(["--collector.disable-defaults", "--collector.hwmon", "--collector.cpu"]);

        Assert.Equal(["cpu", "hwmon"], options.EnabledCollectors.Select(c => c.Name));
    }

    [Fact]
    public void Load_FlagsOverrideEnvironmentOverrideFile()
    {
        var file = WriteConfig("""{ "Web": { "ListenAddress": ":1", "TelemetryPath": "/file" }, "Log": { "Level": "warn" }, "Collectors": { "cpu": { "Enabled": false } } }""");
        var environment = new Dictionary<string, string> { ["MONITOR_WEB_LISTEN_ADDRESS"] = ":2", ["MONITOR_LOG_LEVEL"] = "error" };

        var options = Load([$"--config.file={file}", "--log.level=debug"], environment);

        Assert.Equal(2, options.Listen.Port);
        Assert.Equal("/file", options.TelemetryPath);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, options.MinimumLevel);
        Assert.Equal(["diskstats"], options.EnabledCollectors.Select(c => c.Name));
    }

    [Theory]
    [InlineData("""{ "Web": { "Port": 1 } }""", "unknown setting 'Web:Port'", "Web:ListenAddress")]
    [InlineData("""{ "Collectors": { "infiniband": { "Enabled": true } } }""", "unknown setting 'Collectors:infiniband:Enabled'", "--help")]
    [InlineData("""{ "Collectors": { "diskstats": { "device-exclude": "(" } } }""", "'Collectors:diskstats:device-exclude'", "a valid regular expression")]
    [InlineData("""{ "Log": { "Format": "xml" } }""", "'Log:Format'", "one of text, json")]
    [InlineData("""{ "Web": """, "not valid JSON", "agent.json")]
    [InlineData("""[1]""", "top level must be a JSON object", "agent.json")]
    public void Load_BadConfigFile_ThrowsNamingKeyAndAllowed(string json, string names, string allowed)
    {
        var file = WriteConfig(json);

        var error = Assert.Throws<OptionsException>(() => Load([$"--config.file={file}"]));

        Assert.Contains(names, error.Message, StringComparison.Ordinal);
        Assert.Contains(allowed, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingConfigFile_Throws()
    {
        var error = Assert.Throws<OptionsException>(() => Load(["--config.file=/nonexistent/agent.json"]));

        Assert.Contains("cannot read --config.file '/nonexistent/agent.json'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadEnvironmentValue_ThrowsNamingVariable()
    {
        var error = Assert.Throws<OptionsException>(() => Load([], new Dictionary<string, string> { ["MONITOR_COLLECTOR_CPU"] = "yes" }));

        Assert.Contains("MONITOR_COLLECTOR_CPU (--collector.cpu)", error.Message, StringComparison.Ordinal);
        Assert.Contains("true or false", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--web.listen-address=localhost", "[host]:port")]
    [InlineData("--web.listen-address=:70000", "0 to 65535")]
    [InlineData("--web.listen-address=example.com:80", "not an IP address")]
    [InlineData("--web.telemetry-path=metrics", "starting with /")]
    public void Load_BadWebSetting_Throws(string arg, string allowed)
    {
        var error = Assert.Throws<OptionsException>(() => Load([arg]));

        Assert.Contains(allowed, error.Message, StringComparison.Ordinal);
    }

    private static AgentOptions Load(string[] args, Dictionary<string, string>? environment = null) =>
        AgentOptions.Load(CommandLine.Parse(args, Flags), Flags, Catalog, name => environment?.GetValueOrDefault(name));

    private static string WriteConfig(string json)
    {
        var path = Path.Join(Directory.CreateTempSubdirectory("monitor-options-").FullName, "agent.json");
        File.WriteAllText(path, json);
        return path;
    }
}
