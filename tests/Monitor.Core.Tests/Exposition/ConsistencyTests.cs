using System.Globalization;
using Monitor.Core.Exposition;
using static Monitor.Testing.Exposition;

namespace Monitor.Core.Tests.Exposition;

/// <summary>A scrape renders each group as of one completed update: never half of one.</summary>
public sealed class ConsistencyTests
{
    [Fact]
    public void WriteTo_DuringUpdate_RendersThePreviousUpdateWhole()
    {
        var g = new MetricGroup("gpu");
        var up = g.Gauge("gpu_up", "Up.", "gpu");
        var power = g.Gauge("gpu_power_watts", "Power.", "gpu");
        var registry = RegistryOf(g);

        g.BeginUpdate();
        up.Get("0").Set(1);
        power.Get("0").Set(300);
        g.EndUpdate();

        // The GPU is lost: the update writes up=0 and no power; a render in between still shows the last whole update.
        g.BeginUpdate();
        up.Get("0").Set(0);
        Assert.Equal(
            "# HELP gpu_power_watts Power.\n# TYPE gpu_power_watts gauge\ngpu_power_watts{gpu=\"0\"} 300\n# HELP gpu_up Up.\n# TYPE gpu_up gauge\ngpu_up{gpu=\"0\"} 1\n",
            Render(registry));
        g.EndUpdate();

        Assert.Equal("# HELP gpu_up Up.\n# TYPE gpu_up gauge\ngpu_up{gpu=\"0\"} 0\n", Render(registry));
    }

    [Fact]
    public void WriteTo_SeriesCreatedDuringUpdate_AppearOnlyWhenPublished()
    {
        var g = new MetricGroup("jobs");
        var info = g.Gauge("job_info", "Info.", "job_id");
        var seconds = g.Counter("job_gpu_seconds_total", "Seconds.", "job_id");
        var registry = RegistryOf(g);

        Assert.Equal(string.Empty, Render(registry));
        g.BeginUpdate();
        info.Get("42").Set(1);
        Assert.Equal(string.Empty, Render(registry));
        seconds.Get("42").Set(7);
        g.EndUpdate();

        Assert.Contains("job_info{job_id=\"42\"} 1\n", Render(registry), StringComparison.Ordinal);
        Assert.Contains("job_gpu_seconds_total{job_id=\"42\"} 7\n", Render(registry), StringComparison.Ordinal);
    }

    [Fact]
    public void Get_WithoutSetDuringUpdate_CarriesThePublishedValueOver()
    {
        var g = new MetricGroup("g");
        var gauge = g.Gauge("kept", "Kept.", "k");
        var registry = RegistryOf(g);
        g.BeginUpdate();
        gauge.Get("a").Set(5);
        gauge.Get("b").Set(6);
        g.EndUpdate();

        g.BeginUpdate();
        _ = gauge.Get("a");
        Assert.Equal(5, gauge.Get("a").Value);
        g.EndUpdate();
        g.BeginUpdate();
        _ = gauge.Get("a");
        g.EndUpdate();

        Assert.Equal("# HELP kept Kept.\n# TYPE kept gauge\nkept{k=\"a\"} 5\n", Render(registry));
    }

    [Fact]
    public void Add_DuringUpdate_StartsFromThePublishedValue()
    {
        var g = new MetricGroup("g");
        var counter = g.Counter("events_total", "Events.").Get();
        var registry = RegistryOf(g);
        for (var i = 0; i < 5; i++)
        {
            g.BeginUpdate();
            counter.Add(2);
            counter.Add(1);
            g.EndUpdate();
        }

        Assert.Equal(15, counter.Value);
        Assert.Contains("events_total 15\n", Render(registry), StringComparison.Ordinal);
    }

    [Fact]
    public void Set_OutsideAnUpdate_IsVisibleAtOnce()
    {
        var g = new MetricGroup("requests");
        var served = g.Counter("served_total", "Served.").Get();
        var registry = RegistryOf(g);

        served.Set(3);
        Assert.Equal("# HELP served_total Served.\n# TYPE served_total counter\nserved_total 3\n", Render(registry));
        served.Add(1);
        Assert.Equal(4, served.Value);
        Assert.Contains("served_total 4\n", Render(registry), StringComparison.Ordinal);
    }

    [Fact]
    public void Withdraw_HidesTheGroupUntilTheNextPublishedUpdate()
    {
        var stuck = new MetricGroup("loadavg");
        var other = new MetricGroup("meminfo");
        var load = stuck.Gauge("node_load1", "Load.").Get();
        var memory = other.Gauge("node_memory_MemFree_bytes", "Free.").Get();
        var registry = RegistryOf(stuck, other);
        load.Set(1.5);
        memory.Set(1024);

        stuck.BeginUpdate();
        stuck.Withdraw();
        Assert.Equal("# HELP node_memory_MemFree_bytes Free.\n# TYPE node_memory_MemFree_bytes gauge\nnode_memory_MemFree_bytes 1024\n", Render(registry));
        Assert.True(stuck.Withdrawn);

        load.Set(2.5);
        stuck.EndUpdate();
        Assert.False(stuck.Withdrawn);
        Assert.Contains("node_load1 2.5\n", Render(registry), StringComparison.Ordinal);
    }

    [Fact]
    public void BeginUpdate_WhileUpdating_Throws()
    {
        var g = new MetricGroup("g");
        g.BeginUpdate();
        Assert.Throws<InvalidOperationException>(g.BeginUpdate);
        g.EndUpdate();
        g.BeginUpdate();
        g.EndUpdate();
    }

    [Fact]
    public async Task BeginUpdate_WhileARenderHoldsItsSlot_WaitsForTheRender()
    {
        var g = new MetricGroup("g");
        var value = g.Gauge("v", "V.").Get();
        var registry = RegistryOf(g);
        g.BeginUpdate();
        value.Set(1);
        g.EndUpdate();

        // A render pinned slot A; an update is published into slot B; the next update must not write A until the
        // render lets go, or the render would see it change under it.
        var pinned = g.Pin();
        g.BeginUpdate();
        value.Set(2);
        g.EndUpdate();
        var next = Task.Run(() =>
        {
            g.BeginUpdate();
            value.Set(3);
            g.EndUpdate();
        });

        var finished = await Task.WhenAny(next, Task.Delay(TimeSpan.FromMilliseconds(200)));
        Assert.NotSame(next, finished);
        Assert.Equal(1, registry.Families[0].Series[0].ValueOf(pinned));
        g.Unpin(pinned);
        await next.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("v 3\n", Render(registry), StringComparison.Ordinal);
    }

    [Fact]
    public void WriteTo_RenderPinnedBeforeAnUpdateDropsASeries_StillFindsIt()
    {
        // A render pins the published slot, then walks the families in name order. An update published meanwhile that
        // no longer has a series must not take it out of the family list under the render.
        var g = new MetricGroup("jobs");
        var running = g.Gauge("job_running", "Running.", "job_id");
        g.BeginUpdate();
        running.Get("7").Set(1);
        g.EndUpdate();

        var pinned = g.Pin();
        g.BeginUpdate();
        g.EndUpdate();
        using var buffer = new PooledBufferWriter(1024);
        running.WriteTo(buffer, ExpositionFormat.Text004, pinned);
        g.Unpin(pinned);

        Assert.Contains("job_running{job_id=\"7\"} 1\n", System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan), StringComparison.Ordinal);
        Assert.Equal(string.Empty, Render(RegistryOf(g)));

        // Removed from the list at the next update, once no render holds the slot it was live in.
        g.BeginUpdate();
        g.EndUpdate();
        Assert.Empty(running.Series);
    }

    /// <summary>
    /// A writer publishes updates in which every series holds the update's number, and series come and go with the
    /// update's parity, while readers render as fast as they can. Every render must show one update: all values equal,
    /// and exactly the series of that update's parity.
    /// </summary>
    [Fact]
    public async Task WriteTo_ConcurrentWithUpdates_EveryRenderShowsOneWholeUpdate()
    {
        const int Families = 8;
        const int SeriesPerFamily = 16;
        var g = new MetricGroup("busy");
        var families = Enumerable.Range(0, Families).Select(f => g.Gauge($"value_{f}", "Value.", "i")).ToArray();
        var odd = g.Gauge("odd_only", "Present in odd updates.", "i");
        var idle = new MetricGroup("idle");
        idle.Gauge("idle_value", "Direct writes.").Get().Set(1);
        var registry = RegistryOf(g, idle);
        var labels = Enumerable.Range(0, SeriesPerFamily).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
        using var stop = new CancellationTokenSource();
        var updates = 0L;
        var renders = 0L;

        var writer = Task.Factory.StartNew(
            () =>
            {
                for (var u = 1L; !stop.IsCancellationRequested || u < 200; u++)
                {
                    g.BeginUpdate();
                    foreach (var family in families)
                    {
                        foreach (var label in labels)
                        {
                            family.Get(label).Set(u);
                        }
                    }

                    if (u % 2 == 1)
                    {
                        foreach (var label in labels)
                        {
                            odd.Get(label).Set(u);
                        }
                    }

                    g.EndUpdate();
                    Interlocked.Exchange(ref updates, u);
                }
            },
            TaskCreationOptions.LongRunning);

        var readers = Enumerable.Range(0, 2).Select(r => Task.Factory.StartNew(
            () =>
            {
                using var buffer = new PooledBufferWriter(64 * 1024);
                var format = r == 0 ? ExpositionFormat.Text004 : ExpositionFormat.OpenMetrics100;
                while (!stop.IsCancellationRequested || Interlocked.Read(ref renders) < 200)
                {
                    buffer.Reset();
                    registry.WriteTo(buffer, format);
                    var samples = TextParser.Parse(buffer.WrittenSpan, format)
                        .Where(f => f.Name != "idle_value")
                        .SelectMany(f => f.Samples.Select(s => (f.Name, s.Value)))
                        .ToList();
                    if (samples.Count == 0)
                    {
                        continue; // before the first update was published
                    }

                    var update = samples[0].Value;
                    Assert.All(samples, s => Assert.Equal(update, s.Value));
                    var oddCount = samples.Count(s => s.Name == "odd_only");
                    Assert.Equal(update % 2 == 1 ? SeriesPerFamily : 0, oddCount);
                    Assert.Equal((Families * SeriesPerFamily) + oddCount, samples.Count);
                    Interlocked.Increment(ref renders);
                }
            },
            TaskCreationOptions.LongRunning)).ToArray();

        stop.CancelAfter(TimeSpan.FromMilliseconds(500));
        await Task.WhenAll([writer, .. readers]).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(Interlocked.Read(ref updates) >= 200);
        Assert.True(Interlocked.Read(ref renders) >= 200);
    }
}
