using Monitor.Core.Exposition;

namespace Monitor.Core.Tests.Exposition;

public sealed class ConcurrencyTests
{
    [Fact]
    public async Task WriteTo_WhileSeriesAndFamiliesAreCreated_EveryRenderParses()
    {
        var registry = new MetricRegistry();
        var group = new MetricGroup("busy");
        registry.Register(group);
        var seed = group.Gauge("seed", "Seed.", "i");
        seed.Get("0").Set(1);
        using var stop = new CancellationTokenSource();
        using var started = new CountdownEvent(3);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var renders = 0;
        var writes = 0;

        var writer = Task.Factory.StartNew(
            () =>
        {
            started.Signal();
            try
            {
                var families = new List<MetricFamily> { seed };
                var late = new MetricGroup("late");
                var i = 0;
                while (!stop.IsCancellationRequested)
                {
                    i++;
                    if (i % 50 == 0)
                    {
                        families.Add(group.Counter($"dyn_{i}_total", "Dynamic \"family\".", "i"));
                    }

                    if (i == 500)
                    {
                        late.Gauge("late_gauge", "Registered late.").Get().Set(i);
                        registry.Register(late);
                    }

                    if (i % 200 == 0)
                    {
                        group.BeginUpdate();
                        seed.Get("0").Set(i);
                        group.EndUpdate();
                    }

                    var family = families[i % families.Count];
                    family.Get((i % 300).ToString(System.Globalization.CultureInfo.InvariantCulture)).Set(i * 0.5);
                    Interlocked.Increment(ref writes);
                }
            }
            catch (Exception ex)
            {
                errors.Enqueue(ex);
            }
        },
            TaskCreationOptions.LongRunning);

        var readers = Enumerable.Range(0, 2).Select(r => Task.Factory.StartNew(
            () =>
        {
            started.Signal();
            try
            {
                using var buffer = new PooledBufferWriter(4096);
                var format = r == 0 ? ExpositionFormat.Text004 : ExpositionFormat.OpenMetrics100;
                while (!stop.IsCancellationRequested)
                {
                    buffer.Reset();
                    registry.WriteTo(buffer, format);
                    var families = TextParser.Parse(buffer.WrittenSpan, format);
                    Assert.Contains(families, f => f.Name == "seed");
                    Interlocked.Increment(ref renders);
                }
            }
            catch (Exception ex)
            {
                errors.Enqueue(ex);
            }
        },
            TaskCreationOptions.LongRunning)).ToArray();

        // Run until the readers have rendered 20 times while the writer wrote 1,000 values (a count, not a time: on a
        // loaded machine 200 ms held only 2 renders), bounded by 30 s.
        Assert.True(started.Wait(TimeSpan.FromSeconds(10)));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((Volatile.Read(ref renders) < 20 || Volatile.Read(ref writes) < 1000) && DateTime.UtcNow < deadline && errors.IsEmpty)
        {
            await Task.Delay(10);
        }

        await stop.CancelAsync();

        await Task.WhenAll([writer, .. readers]).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Empty(errors);
        Assert.True(renders >= 20, $"only {renders} renders in 30 s");
        Assert.True(writes >= 1000, $"only {writes} writes in 30 s");
    }
}
