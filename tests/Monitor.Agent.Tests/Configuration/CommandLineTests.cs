using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;

namespace Monitor.Agent.Tests.Configuration;

public sealed class CommandLineTests
{
    private static readonly IReadOnlyList<FlagSpec> Flags = AgentFlags.All(
    [
        new CollectorDescriptor("diskstats", "Disk I/O.", true, Cadence.OnScrape, TimeSpan.Zero, _ => null!,
            [
                new CollectorFlag("device-exclude", "^loop\\d+$", "Devices to skip.", FlagKind.Regex),
                new CollectorFlag("timeout", "5s", "How long to wait.", FlagKind.Duration),
            ]),
        new CollectorDescriptor("thermal_zone", "Thermal zones.", false, Cadence.OnScrape, TimeSpan.Zero, _ => null!, []),
    ]);

    [Theory]
    [InlineData("--web.listen-address=:9100", "Web:ListenAddress", ":9100")]
    [InlineData("--web.listen-address", "Web:ListenAddress", "127.0.0.1:1", "127.0.0.1:1")]
    [InlineData("--collector.diskstats.device-exclude=^sd", "Collectors:diskstats:device-exclude", "^sd")]
    [InlineData("--no-collector.diskstats", "Collectors:diskstats:Enabled", "false")]
    [InlineData("--collector.thermal_zone", "Collectors:thermal_zone:Enabled", "true")]
    [InlineData("--collector.thermal_zone=false", "Collectors:thermal_zone:Enabled", "false")]
    [InlineData("--log.level=debug", "Log:Level", "debug")]
    [InlineData("--collector.diskstats.timeout=1m30s", "Collectors:diskstats:timeout", "1m30s")]
    public void Parse_ValidFlag_SetsConfigurationKey(string arg, string key, string value, string? next = null)
    {
        var parsed = CommandLine.Parse(next is null ? [arg] : [arg, next], Flags);

        Assert.Equal(CommandAction.Run, parsed.Action);
        Assert.Equal(value, parsed.Settings[key]);
    }

    [Theory]
    [InlineData("--help", "Help")]
    [InlineData("-h", "Help")]
    [InlineData("--version", "Version")]
    public void Parse_HelpOrVersion_ReturnsAction(string arg, string action) =>
        Assert.Equal(Enum.Parse<CommandAction>(action), CommandLine.Parse(["--log.level=info", arg], Flags).Action);

    [Theory]
    [InlineData("--collector.diskstats.device-exclude=(", "--collector.diskstats.device-exclude", "a valid regular expression")]
    [InlineData("--log.level=trace", "--log.level", "one of debug, info, warn, error")]
    [InlineData("--collector.diskstats.timeout=5", "--collector.diskstats.timeout", "a positive duration such as 500ms, 5s or 1m")]
    [InlineData("--collector.diskstats.timeout=-1s", "--collector.diskstats.timeout", "a positive duration")]
    [InlineData("--collector.diskstats.timeout=0s", "--collector.diskstats.timeout", "a positive duration")]
    [InlineData("--web.max-requests=many", "--web.max-requests", "a whole number >= 0")]
    [InlineData("--collector.diskstats=maybe", "--collector.diskstats", "true or false")]
    [InlineData("--no-collector.diskstats=true", "--no-collector.diskstats", "takes no value")]
    [InlineData("--web.telemetry-path", "--web.telemetry-path", "needs a value")]
    [InlineData("--collectr.diskstats", "unknown flag --collectr.diskstats", "did you mean --collector.diskstats?")]
    [InlineData("-v", "unexpected argument '-v'", "see --help")]
    public void Parse_BadFlag_ThrowsNamingFlagAndAllowed(string arg, string flag, string allowed)
    {
        var error = Assert.Throws<OptionsException>(() => CommandLine.Parse([arg], Flags));

        Assert.Contains(flag, error.Message, StringComparison.Ordinal);
        Assert.Contains(allowed, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_RegexLongerThanTheLimit_RefusedBeforeItIsCompiled_AtTheLimitAccepted()
    {
        // Found by the long fuzz run: a 69,000-character nested pattern in --config.file cost 22 MB to validate.
        var atLimit = "^" + new string('a', SettingValidator.MaxRegexLength - 2) + "$";
        var overLimit = "^(" + new string('(', SettingValidator.MaxRegexLength) + "a" + new string(')', SettingValidator.MaxRegexLength) + ")$";

        var parsed = CommandLine.Parse([$"--collector.diskstats.device-exclude={atLimit}"], Flags);
        Assert.Equal(atLimit, parsed.Settings["Collectors:diskstats:device-exclude"]);
        var error = Assert.Throws<OptionsException>(() => CommandLine.Parse([$"--collector.diskstats.device-exclude={overLimit}"], Flags));
        Assert.Contains("at most 4,096 characters", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ConfigFileFlag_IsReturnedSeparately()
    {
        var parsed = CommandLine.Parse(["--config.file", "/etc/monitor/agent.json"], Flags);

        Assert.Equal("/etc/monitor/agent.json", parsed.ConfigFile);
        Assert.Empty(parsed.Settings);
    }

    [Fact]
    public void HelpText_ListsEveryFlagWithDefaultAndKey()
    {
        var help = CommandLine.HelpText(Flags, "1.2.3");

        foreach (var flag in Flags)
        {
            Assert.Contains(flag.IsBoolean ? $"--[no-]{flag.Flag} " : $"--{flag.Flag}=\"{flag.Default}\"", help, StringComparison.Ordinal);
            Assert.Contains($"key {flag.Key})", help, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("web.listen-address", "MONITOR_WEB_LISTEN_ADDRESS")]
    [InlineData("collector.thermal_zone", "MONITOR_COLLECTOR_THERMAL_ZONE")]
    public void EnvironmentName_MapsDotsAndDashes(string flag, string name) =>
        Assert.Equal(name, CommandLine.EnvironmentName(flag));
}
