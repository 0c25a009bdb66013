using System.Text.RegularExpressions;

namespace Monitor.Testing;

/// <summary>
/// Runs the real <c>promtool check metrics</c> on an exposition and asserts it is clean. The only lint findings
/// accepted are on names mandated for compatibility, which promtool 2.42 reports on the original exporters' output
/// too: camelCase in node_exporter's meminfo names (<c>node_memory_MemAvailable_bytes</c> and friends), and in
/// <c>--compat.dcgm</c> the camelCase labels <c>modelName</c>/<c>Hostname</c> on <c>DCGM_FI_*</c> series and the
/// word "counter" in <c>DCGM_FI_DEV_PCIE_REPLAY_COUNTER</c>, and node_exporter's entropy collector's unit "bits"
/// (<c>node_entropy_available_bits</c>, <c>node_entropy_pool_size_bits</c>), and the kernel's own field names in the
/// netstat and sockstat collectors' (<c>node_netstat_Tcp_CurrEstab</c>, <c>node_sockstat_TCP_inuse</c>). A parse error
/// (exit 1) or any other finding fails.
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
            $"promtool check metrics exited {code}:\n{string.Join("\n", unexpected.Count > 0 ? [.. unexpected] : findings)}");
    }

    [GeneratedRegex(@"^(node_memory_\w+ metric names should be written in 'snake_case' not 'camelCase'|DCGM_FI_\w+ label names should be written in 'snake_case' not 'camelCase'|DCGM_FI_DEV_PCIE_REPLAY_COUNTER metric name should not include type 'counter'|node_entropy_(available|pool_size)_bits use base unit ""bytes"" instead of ""bits""|node_netstat_\w+ metric names should be written in 'snake_case' not 'camelCase'|node_sockstat_\w+ metric names should be written in 'snake_case' not 'camelCase')$")]
    private static partial Regex MandatedMeminfoName();
}
