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
internal sealed class CollectorRunner
{
    private readonly CollectorState[] _onScrape;
    private readonly CollectorState[] _background;
    private readonly TimeProvider _time;

    /// <summary>Creates every collector and registers its group on <paramref name="registry"/>.</summary>
    public CollectorRunner(
        IEnumerable<CollectorDescriptor> collectors,
        Func<string, IConfigurationSection> settings,
        HostPaths paths,
        MetricRegistry registry,
        ILoggerFactory loggers,
        TimeProvider time,
        Monitor.Agent.Jobs.AgentServices? services = null)
    {
        services ??= new();
        _time = time;
        var self = new MetricGroup("collector_runner");
        var duration = self.Gauge("monitor_agent_collector_duration_seconds", "Duration of the collector's last update.", "collector");
        var success = self.Gauge("monitor_agent_collector_success", "Whether the collector's last update succeeded (1) or failed (0).", "collector");
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
                Interval = Interval(descriptor, collectorSettings),
            };
            try
            {
                state.Collector = descriptor.Create(new CollectorContext(group, paths, collectorSettings, logger, time) { Services = services });
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                CollectorLog.CollectorCreateFailed(logger, descriptor.Name, ex.Message, ex);
                state.Success.Set(0);
                state.Duration.Set(0);
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
    /// (a <see cref="TimeProvider.GetTimestamp"/> value). A collector whose latest update started after that moment
    /// is already fresh for this scrape and is not read again.
    /// </summary>
    public void UpdateForScrape(long requestTimestamp, CancellationToken cancellationToken)
    {
        foreach (var state in _onScrape)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (state.Gate)
            {
                if (state.LastStarted >= requestTimestamp)
                {
                    continue;
                }

                Run(state, cancellationToken);
            }
        }
    }

    /// <summary>Runs each background collector at its interval until <paramref name="stoppingToken"/> fires.</summary>
    public Task RunBackgroundAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_background.Select(state => Task.Run(() => LoopAsync(state, stoppingToken), CancellationToken.None)));

    private async Task LoopAsync(CollectorState state, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(state.Interval, _time);
        do
        {
            lock (state.Gate)
            {
                Run(state, stoppingToken);
            }
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
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

    private void Run(CollectorState state, CancellationToken cancellationToken)
    {
        var start = _time.GetTimestamp();
        state.LastStarted = start;
        state.Group.BeginUpdate();
        try
        {
            state.Collector!.Update(cancellationToken);
            state.Success.Set(1);
            if (state.Failures > 0)
            {
                CollectorLog.CollectorRecovered(state.Logger, state.Descriptor.Name, state.Failures);
                state.Failures = 0;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            state.Success.Set(0);
            if (state.Failures++ == 0)
            {
                // Logged once per failure streak: a broken source must not flood the log at every scrape.
                CollectorLog.CollectorFailed(state.Logger, state.Descriptor.Name, ex.Message, ex is IOException or UnauthorizedAccessException or Parsing.MalformedSourceException ? null : ex);
            }
        }
        finally
        {
            state.Group.EndUpdate();
            state.Duration.Set(_time.GetElapsedTime(start).TotalSeconds);
        }
    }

    private sealed class CollectorState(CollectorDescriptor descriptor, MetricGroup group, ILogger logger, Series duration, Series success)
    {
        public Lock Gate { get; } = new();

        public CollectorDescriptor Descriptor { get; } = descriptor;

        public MetricGroup Group { get; } = group;

        public ILogger Logger { get; } = logger;

        public Series Duration { get; } = duration;

        public Series Success { get; } = success;

        public ICollector? Collector { get; set; }

        public long LastStarted { get; set; } = long.MinValue;

        public long Failures { get; set; }

        public TimeSpan Interval { get; init; }
    }
}
