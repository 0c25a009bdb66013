using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Collectors.Pressure;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Pressure;

public sealed class PressureCollectorTests
{
    [Fact]
    public void Update_KernelWithoutPsi_SucceedsWithNoSeries()
    {
        using var tree = new TempTree().Write("proc/stat", "cpu 1 2 3 4\n");
        var harness = CollectorHarness.ForTree(PressureCollector.Descriptor, tree.Root);

        var output = harness.Scrape();

        Assert.Equal("", output);
    }

    [Fact]
    public void Update_MicrosecondTotals_ConvertsToSecondsLikeNodeExporter()
    {
        using var tree = new TempTree()
            .Write("proc/pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=9876543210\n")
            .Write("proc/pressure/io", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=250\n")
            .Write("proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");

        var samples = PromSamples.Parse(CollectorHarness.ForTree(PressureCollector.Descriptor, tree.Root).Scrape());

        // 9876543210 / 1000 / 1000 in binary floating point is 9876.543210000002, which node_exporter prints too.
        Assert.Equal(9876.543210000002, samples["node_pressure_cpu_waiting_seconds_total"]);
        Assert.Equal(1.5, samples["node_pressure_io_waiting_seconds_total"]);
        Assert.Equal(0.00025, samples["node_pressure_io_stalled_seconds_total"]);
        Assert.Equal(0, samples["node_pressure_memory_stalled_seconds_total"]);
    }

    [Fact]
    public void Update_MalformedFile_Throws()
    {
        using var tree = new TempTree()
            .Write("proc/pressure/cpu", "some avg10=0.00 avg60=0.00\n")
            .Write("proc/pressure/io", "")
            .Write("proc/pressure/memory", "");
        var harness = CollectorHarness.ForTree(PressureCollector.Descriptor, tree.Root);

        var ex = Assert.Throws<MalformedSourceException>(harness.Update);
        Assert.EndsWith("pressure/cpu", ex.SourcePath, StringComparison.Ordinal);
    }

    [Fact]
    public void Update_IoFileWithoutFullLine_Throws()
    {
        using var tree = new TempTree()
            .Write("proc/pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n")
            .Write("proc/pressure/io", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n");
        var harness = CollectorHarness.ForTree(PressureCollector.Descriptor, tree.Root);

        var ex = Assert.Throws<MalformedSourceException>(harness.Update);
        Assert.Equal("no 'full' line", ex.Problem);
    }
}
