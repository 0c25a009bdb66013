using Monitor.Agent.Collectors.Gpu;
using Monitor.Agent.Configuration;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Agent.Tests.Collectors;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Gpu;

/// <summary>
/// The whole gpu collector output, byte for byte: two simulated GPUs (<c>--gpu.simulate</c>) on a fake clock, with
/// every optional value on (dcgm-exporter compatibility, PCIe throughput, GPM), after twelve 1 s ticks. Every family,
/// its HELP and TYPE, the order of families and series, and the values as rendered. A restructuring of the GPU code
/// must leave this file unchanged; a deliberate change regenerates it with <c>MONITOR_UPDATE_GOLDEN=1</c> and the diff
/// is reviewed.
/// </summary>
public sealed class GpuGoldenTests
{
    private static readonly string GoldenPath = Fixtures.Path("gpu", "simulated-2.prom");

    [Fact]
    public void Simulated_TwoGpus_MatchesGolden()
    {
        var time = TestClock.Create();
        var settings = new Dictionary<string, string?>
        {
            ["compat-dcgm"] = "true",
            ["pcie-throughput"] = "true",
            ["gpm-interval"] = "2s",
            ["slow-interval"] = "5s",
        };
        var harness = new CollectorHarness(
            GpuCollector.Descriptor with { Create = c => new GpuCollector(c, new SimulatedNvml(2, time)) }, HostPaths.Default, settings, time: time);

        var text = string.Empty;
        for (var tick = 0; tick < 12; tick++)
        {
            text = harness.Scrape();
            time.Advance(TimeSpan.FromSeconds(1));
        }

        // The only machine-dependent value: dcgm-exporter's Hostname label.
        text = text.Replace($"Hostname=\"{Environment.MachineName}\"", "Hostname=\"node\"", StringComparison.Ordinal);
        if (Environment.GetEnvironmentVariable("MONITOR_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(GoldenPath, text);
        }

        Assert.Equal(File.ReadAllText(GoldenPath), text);
    }
}
