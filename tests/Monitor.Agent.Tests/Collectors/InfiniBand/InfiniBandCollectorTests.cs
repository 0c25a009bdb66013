using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.InfiniBand;
using Monitor.Agent.Configuration;
using Monitor.Agent.Tests.Support;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.InfiniBand;

public sealed class InfiniBandCollectorTests
{
    private const string Class = "sys/class/infiniband";

    [Fact]
    public void Scrape_HostFixture_DataCountersInOctets()
    {
        var samples = PromSamples.Parse(CollectorHarness.ForTree(InfiniBandCollector.Descriptor, Fixtures.Path("host")).Scrape());

        // port_rcv_data holds 4-octet words: 70245986712 words = 280983946848 bytes.
        Assert.Equal(280983946848, samples["node_infiniband_port_data_received_bytes_total{device=\"mlx5_0\",port=\"1\"}"]);
        Assert.Equal(5e10, samples["node_infiniband_rate_bytes_per_second{device=\"mlx5_0\",port=\"1\"}"]);
        Assert.Equal(1, samples["node_infiniband_state_id{device=\"mlx5_0\",port=\"2\"}"]);
        Assert.Equal(3, samples["node_infiniband_physical_state_id{device=\"mlx5_0\",port=\"2\"}"]);
    }

    [Fact]
    public void Scrape_HostFixture_HwCountersUnderNodeExporterNames()
    {
        var samples = PromSamples.Parse(CollectorHarness.ForTree(InfiniBandCollector.Descriptor, Fixtures.Path("host")).Scrape());

        Assert.Equal(12, samples["node_infiniband_out_of_buffer_drops_total{device=\"mlx5_0\",port=\"1\"}"]);
        Assert.Equal(177, samples["node_infiniband_np_cnp_packets_sent_total{device=\"mlx5_0\",port=\"1\"}"]);
        Assert.Equal(164, samples["node_infiniband_rp_cnp_packets_handled_total{device=\"mlx5_0\",port=\"1\"}"]);
        Assert.Equal(3120, samples["node_infiniband_np_ecn_marked_roce_packets_received_total{device=\"mlx5_1\",port=\"1\"}"]);

        // lifespan is milliseconds divided by 1000 in integer arithmetic: 10 ms is 0 s, 1500 ms is 1 s.
        Assert.Equal(0, samples["node_infiniband_lifespan_seconds{device=\"mlx5_0\",port=\"1\"}"]);
        Assert.Equal(1, samples["node_infiniband_lifespan_seconds{device=\"mlx5_1\",port=\"1\"}"]);
    }

    [Fact]
    public void Scrape_HostFixture_NoPmaCountersHaveNoSeries()
    {
        var text = CollectorHarness.ForTree(InfiniBandCollector.Descriptor, Fixtures.Path("host")).Scrape();
        var mlx5_2 = PromSamples.Parse(text).Keys.Where(k => k.Contains("device=\"mlx5_2\"", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(
            [
                "node_infiniband_device_error{device=\"mlx5_2\"}",
                "node_infiniband_info{board_id=\"MT_0000000838\",device=\"mlx5_2\",firmware_version=\"28.39.1002 (MT_0000000838)\",hca_type=\"MT4130\"}",
                "node_infiniband_physical_state_id{device=\"mlx5_2\",port=\"1\"}",
                "node_infiniband_rate_bytes_per_second{device=\"mlx5_2\",port=\"1\"}",
                "node_infiniband_state_id{device=\"mlx5_2\",port=\"1\"}",
            ],
            mlx5_2);
    }

    [Fact]
    public void Scrape_HostFixture_SaturatedNarrowCountersFlagged()
    {
        var samples = PromSamples.Parse(CollectorHarness.ForTree(InfiniBandCollector.Descriptor, Fixtures.Path("host")).Scrape());
        string Key(string device, string port, string counter) => $"node_infiniband_saturated{{counter=\"{counter}\",device=\"{device}\",port=\"{port}\"}}";

        // mlx4_0 port 1: 32-bit data and packet counters at 2^32-1, 16-bit symbol_error at 65535, 8-bit link_downed
        // at 255, 4-bit local_link_integrity_errors at 15.
        Assert.Equal(1, samples[Key("mlx4_0", "1", "port_rcv_data")]);
        Assert.Equal(1, samples[Key("mlx4_0", "1", "port_xmit_data")]);
        Assert.Equal(1, samples[Key("mlx4_0", "1", "port_rcv_packets")]);
        Assert.Equal(1, samples[Key("mlx4_0", "1", "symbol_error")]);
        Assert.Equal(1, samples[Key("mlx4_0", "1", "link_downed")]);
        Assert.Equal(1, samples[Key("mlx4_0", "1", "local_link_integrity_errors")]);
        Assert.Equal(0, samples[Key("mlx4_0", "1", "port_xmit_packets")]);
        Assert.Equal(0, samples[Key("mlx5_0", "1", "port_rcv_data")]);

        // 64-bit-only counters (unicast/multicast, counters_ext, hw_counters) have no saturation series.
        Assert.DoesNotContain(Key("mlx4_0", "1", "unicast_rcv_packets"), samples.Keys);
        Assert.DoesNotContain(Key("mlx4_0", "1", "port_rcv_data_64"), samples.Keys);
        Assert.Equal(6, samples.Count(s => s.Key.StartsWith("node_infiniband_saturated{", StringComparison.Ordinal) && s.Value == 1));
    }

    [Fact]
    public void Update_PortGoesDown_ExactlyOneStateEventWithOldAndNewValues()
    {
        using var tree = CopyOfFixture();
        var logs = new CollectingLoggerFactory();
        var harness = Harness(tree, logs.CreateLogger("infiniband"));
        harness.Update();
        harness.Update();
        Assert.DoesNotContain(logs.Structured, e => e.Id.Id is >= 2110 and <= 2113);

        File.WriteAllText(tree.Path($"{Class}/mlx5_0/ports/1/state"), "1: DOWN\n");
        File.WriteAllText(tree.Path($"{Class}/mlx5_0/ports/1/phys_state"), "2: Polling\n");
        harness.Update();
        harness.Update();

        var linkEvents = logs.Structured.Where(e => e.Id.Id is >= 2110 and <= 2113).ToList();
        var single = Assert.Single(linkEvents);
        Assert.Equal(2110, single.Id.Id);
        Assert.Equal(LogLevel.Warning, single.Level);
        Assert.Equal("mlx5_0", single.Fields["Device"]);
        Assert.Equal("1", single.Fields["Port"]);
        Assert.Equal("InfiniBand", single.Fields["LinkLayer"]);
        Assert.Equal(4L, single.Fields["OldStateId"]);
        Assert.Equal("ACTIVE", single.Fields["OldState"]);
        Assert.Equal(1L, single.Fields["NewStateId"]);
        Assert.Equal("DOWN", single.Fields["NewState"]);
        Assert.Equal(5L, single.Fields["OldPhysStateId"]);
        Assert.Equal("Polling", single.Fields["NewPhysState"]);
        Assert.Equal("946d:ae03:00fb:1a2c", single.Fields["NodeGuid"]);
    }

    [Fact]
    public void Update_LinkDownedRateDropAndRecoveryBurst_OneEventEach()
    {
        using var tree = CopyOfFixture();
        var logs = new CollectingLoggerFactory();
        var harness = Harness(tree, logs.CreateLogger("infiniband"));
        harness.Update();

        File.WriteAllText(tree.Path($"{Class}/mlx5_0/ports/1/counters/link_downed"), "2\n");
        File.WriteAllText(tree.Path($"{Class}/mlx5_0/ports/1/counters/link_error_recovery"), "9\n");
        File.WriteAllText(tree.Path($"{Class}/mlx5_0/ports/1/rate"), "200 Gb/sec (2X NDR)\n");
        harness.Update();
        harness.Update();

        var events = logs.Structured.Where(e => e.Id.Id is >= 2110 and <= 2113).OrderBy(e => e.Id.Id).ToList();
        Assert.Equal([2111, 2112, 2113], events.Select(e => e.Id.Id));
        Assert.All(events, e => Assert.Equal("mlx5_0", e.Fields["Device"]));
        Assert.Equal((1d, 2d), ((double)events[0].Fields["OldValue"]!, (double)events[0].Fields["NewValue"]!));
        Assert.Equal((400d, 200d), ((double)events[1].Fields["OldGbps"]!, (double)events[1].Fields["NewGbps"]!));
        Assert.Equal((2d, 9d), ((double)events[2].Fields["OldValue"]!, (double)events[2].Fields["NewValue"]!));
    }

    [Fact]
    public void Update_BrokenDevices_OnlyThoseMarkedFailed_RestMatchesGolden()
    {
        using var tree = CopyOfFixture();

        // mlx9_0 has no fw_ver; mlx9_1 has a counter that does not parse. node_exporter would fail the whole collector.
        WriteDevice(tree, "mlx9_0", fwVer: null);
        WriteDevice(tree, "mlx9_1", fwVer: "1.0");
        tree.Write($"{Class}/mlx9_1/ports/1/counters/symbol_error", "garbage\n");
        var logs = new CollectingLoggerFactory();
        var harness = Harness(tree, logs.CreateLogger("infiniband"));
        harness.Update();
        var text = harness.Scrape();
        var samples = PromSamples.Parse(text);

        Assert.Equal(1, samples["node_infiniband_device_error{device=\"mlx9_0\"}"]);
        Assert.Equal(1, samples["node_infiniband_device_error{device=\"mlx9_1\"}"]);
        Assert.Equal(0, samples["node_infiniband_device_error{device=\"mlx5_0\"}"]);

        // The broken devices keep what did read: ports of mlx9_0, the other counters of mlx9_1.
        Assert.Equal(4, samples["node_infiniband_state_id{device=\"mlx9_0\",port=\"1\"}"]);
        Assert.Equal(28, samples["node_infiniband_port_data_received_bytes_total{device=\"mlx9_1\",port=\"1\"}"]);
        Assert.DoesNotContain("node_infiniband_symbol_error_total{device=\"mlx9_1\",port=\"1\"}", samples.Keys);
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("node_infiniband_info{", StringComparison.Ordinal) && k.Contains("mlx9_0", StringComparison.Ordinal));

        // Every other device is exactly what node_exporter prints, and each failure was logged once.
        var others = PromSamples.Parse(HostGolden.WithoutFamilies(text, InfiniBandCollector.BeyondNodeExporter150))
            .Where(s => !s.Key.Contains("mlx9_", StringComparison.Ordinal)).ToDictionary(StringComparer.Ordinal);
        PromSamples.AssertEquivalent(PromSamples.Parse(File.ReadAllText(HostGolden.PathOf("infiniband"))), others);
        Assert.Equal(2, logs.Structured.Count(e => e.Id.Id == 2114));
    }

    [Fact]
    public async Task Update_ExcludedDevice_NoneOfItsFilesOpened()
    {
        using var tree = CopyOfFixture();

        // Every file of the excluded device is a FIFO: opening one for reading blocks until a writer appears, so a
        // single open would stall that device's read past the timeout and mark it stuck.
        WriteDevice(tree, "mlx5_9", fwVer: "1.0");
        foreach (var file in Directory.GetFiles(tree.Path($"{Class}/mlx5_9"), "*", SearchOption.AllDirectories))
        {
            File.Delete(file);
            var (code, _, stderr) = await ExternalTool.RunAsync("mkfifo", [file]);
            Assert.True(code == 0, stderr);
        }

        var logs = new CollectingLoggerFactory();
        var harness = Harness(tree, logs.CreateLogger("infiniband"), new Dictionary<string, string?> { ["device-exclude"] = "^mlx5_9$", ["read-timeout"] = "300ms" });
        var watch = Stopwatch.StartNew();
        harness.Update();
        var text = harness.Scrape();
        watch.Stop();

        Assert.DoesNotContain("mlx5_9", text, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Structured, e => e.Id.Id is 2114 or 2116);
        Assert.True(watch.Elapsed < TimeSpan.FromMilliseconds(300), $"update took {watch.Elapsed}");
        Assert.Equal(0, PromSamples.Parse(text)["node_infiniband_device_error{device=\"mlx5_0\"}"]);
    }

    [Fact]
    public async Task Update_DeviceReadHangs_MarkedStuckAfterTimeout_OthersServed()
    {
        using var tree = CopyOfFixture();
        var fifo = tree.Path($"{Class}/mlx4_0/ports/2/state");
        File.Delete(fifo);
        var (code, _, stderr) = await ExternalTool.RunAsync("mkfifo", [fifo]);
        Assert.True(code == 0, stderr);
        var logs = new CollectingLoggerFactory();
        var harness = Harness(tree, logs.CreateLogger("infiniband"), new Dictionary<string, string?> { ["read-timeout"] = "200ms" });
        try
        {
            var watch = Stopwatch.StartNew();
            var first = PromSamples.Parse(harness.Scrape());
            var second = PromSamples.Parse(harness.Scrape());
            watch.Stop();

            Assert.Equal(1, first["node_infiniband_device_error{device=\"mlx4_0\"}"]);
            Assert.Equal(1, second["node_infiniband_device_error{device=\"mlx4_0\"}"]);
            Assert.DoesNotContain("node_infiniband_state_id{device=\"mlx4_0\",port=\"1\"}", second.Keys);
            Assert.Equal(4, second["node_infiniband_state_id{device=\"mlx5_0\",port=\"1\"}"]);

            // The second update does not wait on the quarantined device again, and the stall is logged once.
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"updates took {watch.Elapsed}");
            Assert.Single(logs.Structured, e => e.Id.Id == 2116);
        }
        finally
        {
            // Release the blocked reader: a writer that opens and closes gives it end of file.
            var release = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write).Dispose());
            await Task.WhenAny(release, Task.Delay(TimeSpan.FromSeconds(2)));
        }
    }

    private static TempTree CopyOfFixture()
    {
        var tree = new TempTree();
        CopyDirectory(Fixtures.Path("host", "sys", "class", "infiniband"), tree.Path(Class));
        return tree;
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Join(to, Path.GetFileName(file)));
        }

        foreach (var directory in Directory.GetDirectories(from))
        {
            CopyDirectory(directory, Path.Join(to, Path.GetFileName(directory)));
        }
    }

    private static void WriteDevice(TempTree tree, string name, string? fwVer)
    {
        var d = $"{Class}/{name}";
        if (fwVer is not null)
        {
            tree.Write($"{d}/fw_ver", fwVer + "\n");
        }

        tree.Write($"{d}/board_id", "MT_X\n")
            .Write($"{d}/ports/1/state", "4: ACTIVE\n")
            .Write($"{d}/ports/1/phys_state", "5: LinkUp\n")
            .Write($"{d}/ports/1/rate", "100 Gb/sec (4X EDR)\n")
            .Write($"{d}/ports/1/counters/port_rcv_data", "7\n")
            .Write($"{d}/ports/1/counters/symbol_error", "0\n");
    }

    private static CollectorHarness Harness(TempTree tree, ILogger logger, IDictionary<string, string?>? settings = null) =>
        new(InfiniBandCollector.Descriptor, new HostPaths(tree.Path("proc"), tree.Path("sys"), tree.Root), settings, logger);
}
