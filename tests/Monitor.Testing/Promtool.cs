using System.Text.RegularExpressions;

namespace Monitor.Testing;

/// <summary>
/// Runs the real <c>promtool check metrics</c> on an exposition and asserts it is clean. The only lint findings
/// accepted are promtool's camelCase warnings on node_exporter's meminfo names (<c>node_memory_MemAvailable_bytes</c>
/// and friends): those names are mandated for compatibility with node-mixin and dashboards, and promtool 2.42 reports
/// the same on node_exporter's own output. A parse error (exit 1) or any other finding fails.
/// </summary>
public static partial class Promtool
{
    /// <summary>Fails the test unless promtool accepts <paramref name="exposition"/> as described above.</summary>
    public static async Task AssertCleanAsync(string exposition)
    {
        var promtool = ExternalTool.Require("promtool", "prometheus");
        var (code, stdout, stderr) = await ExternalTool.RunAsync(promtool, ["check", "metrics"], exposition);
        var findings = (stdout + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var unexpected = findings.Where(f => !MandatedMeminfoName().IsMatch(f)).ToList();

        Xunit.Assert.True(
            (code == 0 && findings.Length == 0) || (code == 3 && unexpected.Count == 0),
            $"promtool check metrics exited {code}:\n{string.Join('\n', unexpected.Count > 0 ? unexpected : findings)}");
    }

    [GeneratedRegex(@"^node_memory_\w+ metric names should be written in 'snake_case' not 'camelCase'$")]
    private static partial Regex MandatedMeminfoName();
}
