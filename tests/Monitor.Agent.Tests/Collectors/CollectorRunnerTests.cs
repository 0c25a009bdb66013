using Microsoft.Extensions.Configuration;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Tests.Support;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Tests.Collectors;

public sealed class CollectorRunnerTests
{
    private readonly MetricRegistry _registry = new();
    private readonly CollectingLoggerFactory _logs = new();

    [Fact]
    public void UpdateForScrape_ScrapeThatArrivedBeforeLastUpdate_SharesIt()
    {
        var fake = new FakeCollector();
        var runner = Runner(Descriptor("fake", fake));
        var early = TimeProvider.System.GetTimestamp();

        runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        runner.UpdateForScrape(early, CancellationToken.None);
        Assert.Equal(1, fake.Updates);

        runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        Assert.Equal(2, fake.Updates);
    }

    [Fact]
    public async Task UpdateForScrape_ConcurrentScrapes_ReadSourceAtMostTwice()
    {
        var fake = new FakeCollector { Delay = TimeSpan.FromMilliseconds(100) };
        var runner = Runner(Descriptor("fake", fake));
        using var start = new Barrier(20);

        // Dedicated threads: the thread pool would add its threads one by one on a small machine.
        var threads = Enumerable.Range(0, 20).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        })).ToList();
        threads.ForEach(t => t.Start());
        await Task.Run(() => threads.ForEach(t => t.Join()));

        // The first arrival reads; everyone who arrived while it read shares the next read at most.
        Assert.InRange(fake.Updates, 1, 2);
    }

    [Fact]
    public void Update_FailingCollector_SuccessZeroLoggedOnceOthersServe()
    {
        var failing = new FakeCollector { FailuresLeft = 3 };
        var healthy = new FakeCollector();
        var runner = Runner(Descriptor("bad", failing), Descriptor("good", healthy));

        for (var i = 0; i < 3; i++)
        {
            runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        }

        var samples = Render();
        Assert.Equal(0, samples["monitor_agent_collector_success{collector=\"bad\"}"]);
        Assert.Equal(1, samples["monitor_agent_collector_success{collector=\"good\"}"]);
        Assert.Equal(3, samples["fake_good_value{collector=\"good\"}"]);
        Assert.Single(_logs.Entries, e => e.Id.Name == "collector_failed" && e.Message.Contains("bad", StringComparison.Ordinal));

        runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);

        Assert.Equal(1, Render()["monitor_agent_collector_success{collector=\"bad\"}"]);
        Assert.Single(_logs.Entries, e => e.Id.Name == "collector_recovered" && e.Message.Contains("after 3 failed updates", StringComparison.Ordinal));
    }

    [Fact]
    public void Constructor_CollectorThatCannotStart_ReportsFailureAndOthersServe()
    {
        var healthy = new FakeCollector();
        var broken = new CollectorDescriptor("broken", "x", true, Cadence.OnScrape, TimeSpan.Zero, _ => throw new ArgumentException("bad regex"), []);
        var runner = Runner(broken, Descriptor("good", healthy));

        runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);

        var samples = Render();
        Assert.Equal(0, samples["monitor_agent_collector_success{collector=\"broken\"}"]);
        Assert.Equal(1, samples["fake_good_value{collector=\"good\"}"]);
        Assert.Single(_logs.Entries, e => e.Id.Name == "collector_create_failed");
    }

    [Fact]
    public void Update_SeriesNotWrittenAgain_Disappears()
    {
        var fake = new FakeCollector();
        var runner = Runner(Descriptor("fake", fake));
        runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        Assert.Contains("fake_fake_extra{collector=\"fake\"}", Render().Keys);

        fake.WriteExtra = false;
        runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);

        Assert.DoesNotContain("fake_fake_extra{collector=\"fake\"}", Render().Keys);
    }

    [Fact]
    public async Task RunBackgroundAsync_UpdatesOnItsOwnCadence_NotOnScrape()
    {
        var fake = new FakeCollector();
        var runner = Runner(new CollectorDescriptor("bg", "x", true, Cadence.Background, TimeSpan.FromMilliseconds(20), fake.Create, []));
        using var stop = new CancellationTokenSource();

        var loop = runner.RunBackgroundAsync(stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (fake.Updates < 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(5));
        var before = fake.Updates;
        runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);

        Assert.True(before >= 3, $"{before} background updates");
        Assert.Equal(before, fake.Updates);
    }

    [Fact]
    public async Task RunBackgroundAsync_IntervalSetting_OverridesDefault()
    {
        var fake = new FakeCollector();
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Collectors:bg:interval"] = "20ms" }).Build();
        var runner = new CollectorRunner(
            [new CollectorDescriptor("bg", "x", true, Cadence.Background, TimeSpan.FromHours(1), fake.Create, [])],
            name => settings.GetSection($"Collectors:{name}"),
            HostPaths.Default,
            _registry,
            _logs,
            TimeProvider.System);
        using var stop = new CancellationTokenSource();

        var loop = runner.RunBackgroundAsync(stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (fake.Updates < 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(5));

        // With the one-hour default only the first, immediate update would have run.
        Assert.True(fake.Updates >= 3, $"{fake.Updates} updates");
    }

    [Fact]
    public void UpdateForScrape_TwoLanes_TheCollectorsOfAScrapeRunSideBySide()
    {
        // Each update waits for the other to arrive: read one after the other, the first would wait alone (and fail).
        using var both = new Barrier(2);
        var first = new FakeCollector { OnUpdate = () => both.SignalAndWait(TimeSpan.FromSeconds(10)) ? null : "ran alone" };
        var second = new FakeCollector { OnUpdate = () => both.SignalAndWait(TimeSpan.FromSeconds(10)) ? null : "ran alone" };
        var runner = Runner(2, TimeSpan.FromSeconds(30), Descriptor("first", first), Descriptor("second", second));

        runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);

        var samples = Render();
        Assert.Equal(1, samples["monitor_agent_collector_success{collector=\"first\"}"]);
        Assert.Equal(1, samples["monitor_agent_collector_success{collector=\"second\"}"]);
    }

    [Fact]
    public async Task UpdateForScrape_TwoLanesBothBlocked_BothStuckTheRestStillRead()
    {
        // The deadline passes on a fake clock, once both lanes are blocked and the scrape waits on it: on the real
        // clock, a loaded test host could start a lane after the deadline, and nothing would be stuck yet.
        using var release = new ManualResetEventSlim();
        using var blocked = new CountdownEvent(2);
        string? Block()
        {
            blocked.Signal();
            release.Wait(TimeSpan.FromSeconds(30));
            return null;
        }

        var blockedA = new FakeCollector { OnUpdate = Block };
        var blockedB = new FakeCollector { OnUpdate = Block };
        var healthy = new FakeCollector();
        var time = new DeadlineClock();
        var runner = new CollectorRunner(
            [Descriptor("a", blockedA), Descriptor("b", blockedB), Descriptor("c", healthy)],
            name => new ConfigurationBuilder().Build().GetSection(name), HostPaths.Default, _registry, _logs, time,
            readTimeout: TimeSpan.FromMilliseconds(300), lanes: 2);
        try
        {
            var scrape = Task.Run(() => runner.UpdateForScrape(time.GetTimestamp(), CancellationToken.None));
            Assert.True(blocked.Wait(TimeSpan.FromSeconds(30)), "both lanes blocked");
            Assert.True(time.DeadlineSet.Wait(TimeSpan.FromSeconds(30)), "the scrape waits on its deadline");
            time.Advance(TimeSpan.FromMilliseconds(300));
            await scrape.WaitAsync(TimeSpan.FromSeconds(30));

            var samples = Render();
            Assert.Equal(0, samples["monitor_agent_collector_success{collector=\"a\"}"]);
            Assert.Equal(0, samples["monitor_agent_collector_success{collector=\"b\"}"]);
            Assert.Equal(1, samples["monitor_agent_collector_success{collector=\"c\"}"]);
            Assert.Equal(1, healthy.Updates);
            Assert.Equal(2, _logs.Entries.Count(e => e.Id.Name == "collector_stuck"));
        }
        finally
        {
            release.Set();
        }
    }

    /// <summary>A fake clock that says when a timer is set on it (the scrape's deadline).</summary>
    private sealed class DeadlineClock : Microsoft.Extensions.Time.Testing.FakeTimeProvider
    {
        public SemaphoreSlim DeadlineSet { get; } = new(0);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            DeadlineSet.Release();
            return timer;
        }
    }

    [Fact]
    public void UpdateForScrape_CollectorStopsOnTheCancelledScrape_OnlyTheScrapeIsCancelled()
    {
        // The scraper disconnects while a collector runs, and the collector stops on the token (textfile does). The
        // cancellation must end the scrape, not escape the pool thread that ran the collector: that ended the process
        // (exit 134) in an integration run, and would end this test host.
        using var scrape = new CancellationTokenSource();
        var first = true;
        var stopping = new FakeCollector
        {
            OnUpdate = () =>
            {
                if (first)
                {
                    first = false;
                    scrape.Cancel();
                    scrape.Token.ThrowIfCancellationRequested();
                }

                return null;
            },
        };
        var other = new FakeCollector();
        var runner = Runner(lanes: 2, readTimeout: TimeSpan.FromSeconds(30), Descriptor("stopping", stopping), Descriptor("other", other));

        Assert.ThrowsAny<OperationCanceledException>(() => runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), scrape.Token));

        // The next scrape is served as usual, and the stopped update counts as not successful, not as a failure logged.
        runner.UpdateForScrape(TimeProvider.System.GetTimestamp(), CancellationToken.None);
        Assert.Equal(2, stopping.Updates);
        Assert.Equal(1, Render()["monitor_agent_collector_success{collector=\"stopping\"}"]);
        Assert.Equal(1, Render()["monitor_agent_collector_success{collector=\"other\"}"]);
        Assert.DoesNotContain(_logs.Entries, e => e.Id.Name == "collector_failed");
    }

    private CollectorRunner Runner(int lanes, TimeSpan readTimeout, params CollectorDescriptor[] descriptors) =>
        new(descriptors, name => new ConfigurationBuilder().Build().GetSection(name), HostPaths.Default, _registry, _logs, TimeProvider.System, readTimeout: readTimeout, lanes: lanes);

    private CollectorRunner Runner(params CollectorDescriptor[] descriptors) =>
        new(descriptors, name => new ConfigurationBuilder().Build().GetSection(name), HostPaths.Default, _registry, _logs, TimeProvider.System);

    private static CollectorDescriptor Descriptor(string name, FakeCollector fake) =>
        new(name, "fake", true, Cadence.OnScrape, TimeSpan.Zero, fake.Create, []);

    private Dictionary<string, double> Render()
    {
        using var buffer = new PooledBufferWriter();
        _registry.WriteTo(buffer, ExpositionFormat.Text004);
        return Monitor.Testing.PromSamples.Parse(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    /// <summary>Counts updates, can fail on demand, and writes one series per update plus an optional extra one.</summary>
    private sealed class FakeCollector : ICollector
    {
        private int _updates;
        private string _name = string.Empty;
        private MetricFamily? _value;
        private MetricFamily? _extra;

        public int Updates => Volatile.Read(ref _updates);

        public int FailuresLeft { get; set; }

        public TimeSpan Delay { get; init; }

        /// <summary>Runs inside each update; a returned text fails the update with it.</summary>
        public Func<string?>? OnUpdate { get; init; }

        public bool WriteExtra { get; set; } = true;

        public ICollector Create(CollectorContext context)
        {
            _name = context.Group.Name;
            // Family names are unique per collector, as the registry requires.
            _value = context.Group.Gauge($"fake_{_name}_value", "Updates so far.", "collector");
            _extra = context.Group.Gauge($"fake_{_name}_extra", "Written while WriteExtra.", "collector");
            return this;
        }

        public void Update(CancellationToken cancellationToken)
        {
            var updates = Interlocked.Increment(ref _updates);
            if (Delay > TimeSpan.Zero)
            {
                Thread.Sleep(Delay);
            }

            if (OnUpdate?.Invoke() is { } problem)
            {
                throw new IOException(problem);
            }

            if (FailuresLeft > 0)
            {
                FailuresLeft--;
                throw new IOException("source unreadable");
            }

            _value!.Get(_name).Set(updates);
            if (WriteExtra)
            {
                _extra!.Get(_name).Set(1);
            }
        }
    }
}
