using System.Text.Json;

namespace Monitor.Agent.Tests;

/// <summary>
/// The runtime settings docs/performance.md promises for the agent's footprint, as the build writes them into
/// monitor-agent.runtimeconfig.json (the single-file form bundles the same file). A misspelt MSBuild property is
/// silently ignored: <c>ServerGarbageCollector</c> (for <c>ServerGarbageCollection</c>) left the Web SDK's server GC on,
/// with a heap per core and gen2 collections so rare that RSS climbed for the whole of a one-hour soak.
/// </summary>
public sealed class RuntimeSettingsTests
{
    [Theory]
    [InlineData("System.GC.Server", false)]
    [InlineData("System.GC.Concurrent", false)]
    [InlineData("System.Runtime.TieredCompilation", false)]
    [InlineData("System.Resources.UseSystemResourceKeys", false)]
    public void AgentRuntimeConfig_HasTheDocumentedSetting(string name, bool expected)
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Join(AppContext.BaseDirectory, "monitor-agent.runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(properties.TryGetProperty(name, out var value), $"{name} is not set");
        Assert.Equal(expected, value.GetBoolean());
    }
}
