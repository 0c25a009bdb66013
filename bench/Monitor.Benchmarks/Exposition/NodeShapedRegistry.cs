using System.Globalization;
using Monitor.Core.Exposition;

namespace Monitor.Benchmarks.Exposition;

/// <summary>A registry shaped like one node's /metrics: 64 CPUs × 8 modes, 100 gauges, 30 disks × 17 counters (1,122 series).</summary>
internal static class NodeShapedRegistry
{
    private static readonly string[] Modes = ["guest", "guest_nice", "idle", "iowait", "irq", "nice", "softirq", "user"];

    public static MetricRegistry Create()
    {
        var random = new Random(42);
        var cpu = new MetricGroup("cpu");
        var seconds = cpu.Counter("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "cpu", "mode");
        for (var c = 0; c < 64; c++)
        {
            foreach (var mode in Modes)
            {
                seconds.Get(c.ToString(CultureInfo.InvariantCulture), mode).Set(Math.Round(random.NextDouble() * 1e6, 2));
            }
        }

        var meminfo = new MetricGroup("meminfo");
        for (var g = 0; g < 100; g++)
        {
            meminfo.Gauge($"node_memory_field_{g:D3}_bytes", $"Memory information field {g}.").Get().Set(random.NextInt64(0, 1L << 40));
        }

        var disk = new MetricGroup("diskstats");
        for (var k = 0; k < 17; k++)
        {
            var family = disk.Counter($"node_disk_stat_{k:D2}_total", $"Disk statistic {k}.", "device");
            for (var d = 0; d < 30; d++)
            {
                family.Get($"nvme{d / 4}n{d % 4 + 1}").Set(random.NextDouble() * 1e12);
            }
        }

        var registry = new MetricRegistry();
        registry.Register(cpu);
        registry.Register(meminfo);
        registry.Register(disk);
        return registry;
    }
}
