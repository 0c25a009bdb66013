using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// Error messages of the shipped (trimmed, single-file) agent read as text. Trimming sets
/// <c>UseSystemResourceKeys</c> by default, which replaced every runtime message with its resource key
/// (<c>IO_FileNotFound_FileName</c>, issue 22); the agent's project turns it off.
/// </summary>
[Trait("Category", "AgentProcess")]
[Collection(ListenerLoadGroup.Name)]
public sealed class ShippedMessagesTests
{
    [Fact]
    public async Task ShippedAgent_WebConfigFileMissing_ExitsTwoWithTheRuntimesTextNotAResourceKey()
    {
        var executable = await ShippedAgentBuild.GetAsync();
        var missing = Path.Join(Path.GetTempPath(), $"monitor-missing-{Guid.NewGuid():N}.yml");

        var (code, log) = await AgentProcess.RunExecutableToExitAsync(executable, null, $"--web.config.file={missing}");

        Assert.Equal(2, code);
        Assert.Contains(missing, log, StringComparison.Ordinal);
        Assert.Contains("Could not find file", log, StringComparison.Ordinal);
        Assert.DoesNotContain("IO_FileNotFound", log, StringComparison.Ordinal);
    }
}
