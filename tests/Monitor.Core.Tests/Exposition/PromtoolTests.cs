using System.Diagnostics;
using Monitor.Core.Exposition;
using static Monitor.Testing.Exposition;

namespace Monitor.Core.Tests.Exposition;

public sealed class PromtoolTests
{
    [Fact]
    public async Task WriteTo_AllTypesWithTrickyLabels_PassesPromtoolCheckMetrics()
    {
        var promtool = FindOnPath("promtool");
        if (promtool is null)
        {
            // xunit 2 has no runtime skip; say so in the output and pass.
            Console.WriteLine("promtool not on PATH; skipping `promtool check metrics`");
            return;
        }

        var group = new MetricGroup("g");
        var cpu = group.Counter("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "cpu", "mode");
        // promtool's lint rejects camelCase, so node_exporter's own node_memory_MemAvailable_bytes would not pass.
        var mem = group.Gauge("node_memory_available_bytes", "Memory available.");
        var odd = group.Untyped("node_textfile_value", "A \\ value with \"quotes\"\nand a newline.", "path");
        for (var c = 0; c < 4; c++)
        {
            cpu.Get(c.ToString(System.Globalization.CultureInfo.InvariantCulture), "idle").Set(c * 1000.25);
            cpu.Get(c.ToString(System.Globalization.CultureInfo.InvariantCulture), "user").Set(c * 12.5);
        }

        mem.Get().Set(1.6644026368e+10);
        foreach (var value in TrickyLabelValues)
        {
            odd.Get(value).Set(double.NaN);
        }

        var text = Render(RegistryOf(group));
        var start = new ProcessStartInfo(promtool, "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(text);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        var output = (await stdout).Trim() + (await stderr).Trim();

        Assert.True(process.ExitCode == 0, $"promtool exit {process.ExitCode}:\n{output}\n---\n{text}");
        Assert.Equal(string.Empty, output);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
