using Monitor.Core.Exposition;
using static Monitor.Testing.Exposition;

namespace Monitor.Core.Tests.Exposition;

public sealed class AllocationTests
{
    [Theory]
    [InlineData(ExpositionFormat.Text004)]
    [InlineData(ExpositionFormat.OpenMetrics100)]
    public void WriteTo_AfterWarmUp_AllocatesNothing(ExpositionFormat format)
    {
        var group = new MetricGroup("g");
        var series = new List<Series>();
        for (var f = 0; f < 100; f++)
        {
            var family = (f % 3) switch
            {
                0 => group.Counter($"family_{f:D3}_total", "A counter.", "device", "mode"),
                1 => group.Gauge($"family_{f:D3}", "A \"gauge\".", "device", "mode"),
                _ => group.Untyped($"family_{f:D3}", "Untyped.", "device", "mode"),
            };
            for (var s = 0; s < 10; s++)
            {
                var item = family.Get($"dev{s}", s % 2 == 0 ? "user" : "sys\n\"x\"");
                item.Set(s * 1234.5678 + f);
                series.Add(item);
            }
        }

        var registry = RegistryOf(group);
        using var writer = new PooledBufferWriter(1 << 20);
        registry.WriteTo(writer, format);
        writer.Reset();
        registry.WriteTo(writer, format);
        writer.Reset();
        var random = new Random(1);
        foreach (var s in series)
        {
            s.Set(random.NextDouble() * 1e12);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        registry.WriteTo(writer, format);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(writer.WrittenCount > 1000 * 20);
    }

    [Fact]
    public void Get_ExistingSeries_AllocatesNothing()
    {
        var group = new MetricGroup("g");
        var one = group.Gauge("one", "h", "a");
        var two = group.Gauge("two", "h", "a", "b");
        var four = group.Gauge("four", "h", "a", "b", "c", "d");
        one.Get("x".AsSpan()).Set(1);
        two.Get("x".AsSpan(), "y".AsSpan()).Set(1);
        four.Get(["w", "x", "y", "z"]).Set(1);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            one.Get("x".AsSpan()).Set(i);
            two.Get("x".AsSpan(), "y".AsSpan()).Set(i);
            four.Get(["w", "x", "y", "z"]).Set(i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
