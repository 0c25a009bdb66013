using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Configuration;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors;

/// <summary>
/// Owns the enabled collectors and decides when each one reads its source (the sampling model of the
/// architecture): on-scrape collectors are updated by the scrape that needs them, and concurrent scrapes share one
/// read; background collectors run on their own timer and a scrape only renders their last sample, so a slow source
/// never delays a scrape. Each update is timed and its success exported as
/// <c>monitor_agent_collector_duration_seconds</c> / <c>monitor_agent_collector_success</c>.
/// </summary>
/// <remarks>
/// <para>
/// <b>Deadlines.</b> A file can block (a FIFO in place of a procfs file, a hung filesystem under <c>--path.procfs</c>), and
/// a blocked read cannot be cancelled. So a scrape runs the on-scrape updates as a work item (<see cref="ScrapeWork"/>)
/// and waits for each collector at most <c>--collector.read-timeout</c>. A collector whose update is still running then
/// is <em>stuck</em>: its group is withdrawn from scrapes (its last values are not served as current), its success is 0,
/// one log line names the file it is reading, and scrapes skip it until the read returns. The work item is abandoned
/// to the read and a fresh one goes on with the other collectors. A background update that runs <see cref="BackgroundGrace"/> past its
/// interval is reported stuck the same way by <see cref="CheckBackground"/>.
/// </para>
/// </remarks>
internal sealed class CollectorRunner
{
    /// <summary>How long past its interval a background update may run before it is reported stuck.</summary>
    internal static readonly TimeSpan BackgroundGrace = TimeSpan.FromSeconds(10);

    /// <summary>The most lanes a scrape reads its collectors in (fewer on machines with fewer cores).</summary>
    private const int MaxLanes = 4;

    /// <summary>How many blocked collectors one scrape waits for before it answers with what it has.</summary>
    private const int MaxStalls = 3;

    /// <summary>Default of <c>--collector.read-timeout</c>.</summary>
    internal const string DefaultReadTimeout = "2s";

    private readonly CollectorState[] _onScrape;
    private readonly CollectorState[] _background;
    private readonly TimeProvider _time;
    private readonly TimeSpan _readTimeout;
    private readonly int _lanes;

    /// <summary>Creates every collector and registers its group on <paramref name="registry"/>.</summary>
    public CollectorRunner(
        IEnumerable<CollectorDescriptor> collectors,
        Func<string, IConfigurationSection> settings,
        HostPaths paths,
        MetricRegistry registry,
        ILoggerFactory loggers,
        TimeProvider time,
        Monitor.Agent.Collectors.AgentServices? services = null,
        TimeSpan? readTimeout = null,
        int? lanes = null)
    {
        services ??= new();
        KernelFile.KeepOpenUnder(paths.Procfs);
        _time = time;
        _readTimeout = readTimeout ?? TimeSpan.FromSeconds(2);
        _lanes = Math.Clamp(lanes ?? Environment.ProcessorCount, 1, MaxLanes);
        var self = new MetricGroup("collector_runner");
        var duration = self.Gauge("monitor_agent_collector_duration_seconds", "Duration of the collector's last update.", "collector");
        var success = self.Gauge("monitor_agent_collector_success", "Whether the collector's last update succeeded (1) or failed (0); 0 also while an update is stuck past its deadline.", "collector");

        // node_exporter's names for the same two figures, for its collectors only: Node Exporter Full and the
        // node-mixin query them (docs/host-collectors.md, "Collector self-metrics").
        var peerDuration = self.Gauge("node_scrape_collector_duration_seconds", "node_exporter: Duration of a collector scrape.", "collector");
        var peerSuccess = self.Gauge("node_scrape_collector_success", "node_exporter: Whether a collector succeeded.", "collector");
        registry.Register(self);

        var onScrape = new List<CollectorState>();
        var background = new List<CollectorState>();
        foreach (var descriptor in collectors)
        {
            var logger = loggers.CreateLogger($"Monitor.Agent.Collectors.{descriptor.Name}");
            var group = new MetricGroup(descriptor.Name);
            registry.Register(group);
            var collectorSettings = settings(descriptor.Name);
            var state = new CollectorState(descriptor, group, logger, duration.Get(descriptor.Name), success.Get(descriptor.Name))
            {
                PeerDuration = descriptor.NodeExporter ? peerDuration.Get(descriptor.Name) : null,
                PeerSuccess = descriptor.NodeExporter ? peerSuccess.Get(descriptor.Name) : null,
                Interval = Interval(descriptor, collectorSettings),
            };
            try
            {
                state.Collector = descriptor.Create(new CollectorContext(group, paths, collectorSettings, logger, time) { Services = services });
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                CollectorLog.CollectorCreateFailed(logger, descriptor.Name, ex.Message, ex);
                state.SetSuccess(false);
                state.SetDuration(0);
                continue;
            }

            (descriptor.Cadence == Cadence.Background ? background : onScrape).Add(state);
        }

        _onScrape = [.. onScrape];
        _background = [.. background];
    }

    /// <summary>The background collectors, for the sampler service.</summary>
    public bool HasBackgroundCollectors => _background.Length > 0;

    /// <summary>
    /// Brings every on-scrape collector up to date for a scrape that arrived at <paramref name="requestTimestamp"/>
    /// (a <see cref="TimeProvider.GetTimestamp"/> value), waiting at most <c>--collector.read-timeout</c> per blocked
    /// collector. A collector whose latest update started after that moment is already fresh for this scrape and is
    /// not read again; one that is still reading when the deadline passes is reported stuck (see the class remarks).
    /// </summary>
    /// <remarks>
    /// The updates run as thread-pool work items, one per lane (up to four, no more than the machine's cores), each
    /// claiming the next collector. The first lane is queued to the calling thread's own queue, so when the scrape
    /// awaits it the same thread picks it up at once (a dedicated worker thread cost about 10 % more CPU per scrape);
    /// the others go to idle pool threads, so the reads of a scrape run side by side. A read that blocks holds its pool thread; the
    /// runner raises the pool's minimum by one for each stuck collector (<see cref="PoolReserve"/>), so the pool never
    /// runs short because of it.
    /// </remarks>
    public async ValueTask UpdateForScrapeAsync(long requestTimestamp, CancellationToken cancellationToken)
    {
        if (_onScrape.Length == 0)
        {
            return;
        }

        // The collectors are shared out between up to _lanes work items, each claiming the next collector not yet
        // claimed, so on a node with cores to spare the reads run side by side. A blocked collector costs its lane
        // one read timeout; then fresh lanes go on claiming the rest (skipping the stuck one and those already
        // fresh), so the other collectors are still read in this scrape; the whole scrape waits at most MaxStalls
        // read timeouts, well under Prometheus' 10 s default.
        var round = new ScrapeRound();
        for (var stalls = 0; stalls < MaxStalls;)
        {
            var lanes = Math.Clamp(_onScrape.Length - round.Claimed, 1, _lanes);
            var works = new ScrapeWork[lanes];
            for (var i = 0; i < lanes; i++)
            {
                works[i] = new ScrapeWork(this, round, requestTimestamp, cancellationToken);
            }

            // The extra lanes go to the pool's global queue, for idle threads; the first to this thread's own
            // queue, which it runs as soon as it awaits.
            for (var i = 1; i < lanes; i++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(works[i], preferLocal: false);
            }

            ThreadPool.UnsafeQueueUserWorkItem(works[0], preferLocal: true);
            try
            {
                // Not cancelled by the request: the work sees the token and stops between collectors.
                var all = lanes == 1 ? works[0].Completion : Task.WhenAll(Completions(works));
                await all.WaitAsync(_readTimeout, _time, CancellationToken.None).ConfigureAwait(false);
                break;
            }
            catch (TimeoutException)
            {
                var stuckAny = false;
                foreach (var work in works)
                {
                    if (work.Abandon() is { } stuck)
                    {
                        MarkStuck(stuck, work.Tracker.Path, _readTimeout);
                        stuckAny = true;
                    }
                }

                if (!stuckAny)
                {
                    break;
                }

                stalls++;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary><see cref="UpdateForScrapeAsync"/> for callers that cannot await (tests, benchmarks).</summary>
    public void UpdateForScrape(long requestTimestamp, CancellationToken cancellationToken) =>
        UpdateForScrapeAsync(requestTimestamp, cancellationToken).AsTask().GetAwaiter().GetResult();

    /// <summary>Runs each background collector at its interval until <paramref name="stoppingToken"/> fires.</summary>
    /// <remarks>Returns when stopping even if an update is stuck in a read, so a hung file never holds up shutdown.</remarks>
    public async Task RunBackgroundAsync(CancellationToken stoppingToken)
    {
        var loops = Task.WhenAll(_background.Select(state => Task.Run(() => LoopAsync(state, stoppingToken), CancellationToken.None)));
        try
        {
            await loops.WaitAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down; a loop stuck in a read is left to the process exit.
        }
    }

    /// <summary>
    /// Reports background collectors whose update has run <see cref="BackgroundGrace"/> past their interval as stuck
    /// (called periodically by the sampler service).
    /// </summary>
    public void CheckBackground()
    {
        foreach (var state in _background)
        {
            var started = Volatile.Read(ref state.RunningSince);
            var limit = state.Interval + BackgroundGrace;
            if (started != 0 && !state.Stuck && _time.GetElapsedTime(started) > limit)
            {
                MarkStuck(state, state.Tracker.Path, limit);
            }
        }
    }

    private async Task LoopAsync(CollectorState state, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(state.Interval, _time);
        do
        {
            lock (state.Gate)
            {
                ReadTracker.Current = state.Tracker;
                try
                {
                    Run(state, stoppingToken);
                }
                finally
                {
                    ReadTracker.Current = null;
                }
            }
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    private static Task[] Completions(ScrapeWork[] works)
    {
        var tasks = new Task[works.Length];
        for (var i = 0; i < works.Length; i++)
        {
            tasks[i] = works[i].Completion;
        }

        return tasks;
    }

    /// <summary>
    /// The body of a scrape's work item (one lane): claims on-scrape collectors one at a time until none is left,
    /// skipping fresh and stuck ones.
    /// </summary>
    private void UpdateOnScrape(ScrapeWork work)
    {
        while (true)
        {
            if (work.Cancellation.IsCancellationRequested || work.Abandoned)
            {
                return;
            }

            var next = work.Round.Claim();
            if (next >= _onScrape.Length)
            {
                return;
            }

            var state = _onScrape[next];
            if (state.Stuck)
            {
                // Quarantined: its update is still blocked in another work item.
                continue;
            }

            work.Current = state;
            try
            {
                lock (state.Gate)
                {
                    if (state.LastStarted < work.RequestTimestamp)
                    {
                        Run(state, work.Cancellation);
                    }
                }
            }
            catch (OperationCanceledException) when (work.Cancellation.IsCancellationRequested)
            {
                // The scraper went away and a collector stopped on the token: this work item ends here. It runs on a
                // pool thread, where an exception escaping would end the process.
                return;
            }

            work.Current = null;
        }
    }

    /// <summary>The background interval: <c>--collector.&lt;name&gt;.interval</c> (validated at startup), else the default.</summary>
    private static TimeSpan Interval(CollectorDescriptor descriptor, IConfigurationSection settings)
    {
        var configured = settings[AgentFlags.IntervalSetting];
        if (configured is not null && Parsing.DurationParser.Parse(configured) is { Success: true, Value: var value } && value > TimeSpan.Zero)
        {
            return value;
        }

        return descriptor.DefaultInterval > TimeSpan.Zero ? descriptor.DefaultInterval : TimeSpan.FromSeconds(1);
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static void MarkStuck(CollectorState state, string? path, TimeSpan waited)
    {
        lock (state.StuckLock)
        {
            if (state.Stuck || Volatile.Read(ref state.RunningSince) == 0)
            {
                return;
            }

            state.Stuck = true;
            PoolReserve.Hold();
            state.Group.Withdraw();
            state.SetSuccess(false);
            CollectorLog.CollectorStuck(state.Logger, state.Descriptor.Name, path ?? "(no file open)", waited.TotalSeconds);
        }
    }

    private void Run(CollectorState state, CancellationToken cancellationToken)
    {
        var start = _time.GetTimestamp();
        state.LastStarted = start;
        ReadTracker.Current?.Reset();
        Volatile.Write(ref state.RunningSince, start);
        var succeeded = false;
        try
        {
            state.Group.BeginUpdate();
            state.Collector!.Update(cancellationToken);
            succeeded = true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (state.Failures++ == 0)
            {
                // Logged once per failure streak: a broken source must not flood the log at every scrape.
                CollectorLog.CollectorFailed(state.Logger, state.Descriptor.Name, ex.Message, ex is IOException or UnauthorizedAccessException or Parsing.MalformedSourceException ? null : ex);
            }
        }
        finally
        {
            // Under the stuck lock, so a stuck report either lands before this update is published (and is cleared
            // here) or sees no update running.
            lock (state.StuckLock)
            {
                state.Group.EndUpdate();
                Volatile.Write(ref state.RunningSince, 0);
                state.SetSuccess(succeeded);
                state.SetDuration(_time.GetElapsedTime(start).TotalSeconds);
                if (state.Stuck)
                {
                    state.Stuck = false;
                    PoolReserve.Release();
                    CollectorLog.CollectorUnstuck(state.Logger, state.Descriptor.Name, _time.GetElapsedTime(start).TotalSeconds);
                }
            }
        }

        if (succeeded && state.Failures > 0)
        {
            CollectorLog.CollectorRecovered(state.Logger, state.Descriptor.Name, state.Failures);
            state.Failures = 0;
        }
    }

    private sealed class CollectorState(CollectorDescriptor descriptor, MetricGroup group, ILogger logger, Series duration, Series success)
    {
        /// <summary>The timestamp an update in progress started at; 0 when none runs.</summary>
        public long RunningSince;

        public Lock Gate { get; } = new();

        /// <summary>Orders stuck reports against the end of the update they report on.</summary>
        public Lock StuckLock { get; } = new();

        public CollectorDescriptor Descriptor { get; } = descriptor;

        public MetricGroup Group { get; } = group;

        public ILogger Logger { get; } = logger;

        public Series Duration { get; } = duration;

        public Series Success { get; } = success;

        /// <summary><c>node_scrape_collector_duration_seconds</c>, for node_exporter's collectors.</summary>
        public Series? PeerDuration { get; init; }

        /// <summary><c>node_scrape_collector_success</c>, for node_exporter's collectors.</summary>
        public Series? PeerSuccess { get; init; }

        public void SetSuccess(bool succeeded)
        {
            Success.Set(succeeded ? 1 : 0);
            PeerSuccess?.Set(succeeded ? 1 : 0);
        }

        public void SetDuration(double seconds)
        {
            Duration.Set(seconds);
            PeerDuration?.Set(seconds);
        }

        /// <summary>The background loop's file tracker (scrape updates use their worker's).</summary>
        public ReadTracker Tracker { get; } = new();

        public ICollector? Collector { get; set; }

        public long LastStarted { get; set; } = long.MinValue;

        public long Failures { get; set; }

        public volatile bool Stuck;

        public TimeSpan Interval { get; init; }
    }

    /// <summary>One scrape's on-scrape updates, as a thread-pool work item the scrape can stop waiting for.</summary>
    /// <summary>One scrape's share-out of the on-scrape collectors between its lanes.</summary>
    private sealed class ScrapeRound
    {
        private int _next;

        /// <summary>How many collectors lanes have claimed so far.</summary>
        public int Claimed => Volatile.Read(ref _next);

        /// <summary>The index of the next collector for the calling lane.</summary>
        public int Claim() => Interlocked.Increment(ref _next) - 1;
    }

    private sealed class ScrapeWork(CollectorRunner runner, ScrapeRound round, long requestTimestamp, CancellationToken cancellation) : IThreadPoolWorkItem
    {
        public ScrapeRound Round { get; } = round;

        private readonly TaskCompletionSource _completion = new();
        private volatile CollectorState? _current;
        private volatile bool _abandoned;

        public ReadTracker Tracker { get; } = new();

        public long RequestTimestamp { get; } = requestTimestamp;

        public CancellationToken Cancellation { get; } = cancellation;

        public Task Completion => _completion.Task;

        public bool Abandoned => _abandoned;

        public CollectorState? Current
        {
            get => _current;
            set => _current = value;
        }

        public void Execute()
        {
            ReadTracker.Current = Tracker;
            try
            {
                runner.UpdateOnScrape(this);
            }
            finally
            {
                ReadTracker.Current = null;
                _current = null;
                _completion.TrySetResult();
            }
        }

        /// <summary>Gives the work up to its read; returns the collector it is stuck in, if it still is.</summary>
        public CollectorState? Abandon()
        {
            _abandoned = true;
            return _completion.Task.IsCompleted ? null : _current;
        }
    }
}
