using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Cli;

/// <summary>Golden files of the CLI's output (tests/fixtures/cli/). Regenerate with <c>MONITOR_UPDATE_GOLDEN=1</c> and review the diff.</summary>
internal static class Goldens
{
    /// <summary>Asserts that <paramref name="text"/> is the golden file <paramref name="name"/>, byte for byte.</summary>
    public static void Check(string name, string text)
    {
        var path = Fixtures.Path("cli", name);
        if (Environment.GetEnvironmentVariable("MONITOR_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, text);
        }

        Assert.Equal(File.ReadAllText(path), text);
    }
}
