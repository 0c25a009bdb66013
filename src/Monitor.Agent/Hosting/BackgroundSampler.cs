using Microsoft.Extensions.Hosting;
using Monitor.Agent.Collectors;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Runs the background collectors for the lifetime of the host; every 2 s it reports background updates stuck past
/// their deadline and trims the native heap; it runs a full collection when none ran for a minute, and once a minute it
/// drops the executable's pages from the page table so that those unused since stay out (<see cref="NativeMemory.DropExecutablePages"/>).
/// </summary>
/// <remarks>
/// <para>
/// Why a full collection: Kestrel's memory pool gives idle blocks back to the GC, and those blocks live on the pinned
/// object heap, which only a gen2 collection reclaims. The agent's own survivors are so few that the GC ran gen2 once
/// in an hour, so the discarded blocks (and large buffers on the LOH) piled up: RSS rose 0.13 MB a minute through a
/// soak. A non-compacting gen2 of the agent's ~5 MB heap takes about a millisecond (docs/performance.md, "Soak").
/// </para>
/// <para>
/// This loop is also the agent's supervision loop: each tick beats <see cref="SupervisorHeartbeat"/>, which the systemd
/// watchdog (<see cref="SystemdService"/>) requires before it pings.
/// </para>
/// </remarks>
internal sealed class BackgroundSampler(CollectorRunner runner, TimeProvider time, SupervisorHeartbeat heartbeat, TestFaults faults) : BackgroundService
{
    /// <summary>How often freed native memory is handed back; malloc_trim on our small heap takes tens of microseconds.</summary>
    private static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(2);

    /// <summary>Trim intervals without a full collection before one runs (one minute).</summary>
    private const int CollectEvery = 30;

    /// <summary>Trim intervals between drops of the executable's unused pages (one minute).</summary>
    private const int DropEvery = 30;

    /// <summary>
    /// The trim interval of the first drop after start-up's (10 s): what the first scrape and the first background
    /// collections ran only once (type and static initialisation, first connections) goes then, not a minute later.
    /// </summary>
    private const int FirstDrop = 5;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(
            runner.HasBackgroundCollectors ? runner.RunBackgroundAsync(stoppingToken) : Task.CompletedTask,
            TrimLoopAsync(stoppingToken));

    private async Task TrimLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TrimInterval, time);
        var policy = new FullCollectionPolicy(CollectEvery);
        var started = time.GetTimestamp();
        var ticks = 0;
        try
        {
            heartbeat.Beat();
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (faults.WedgeSupervisorAfter is { } wedge && time.GetElapsedTime(started) >= wedge)
                {
                    // Test-only (MONITOR_AGENT_TEST_FAULT): the loop stops, as if wedged, until shutdown.
                    await Task.Delay(Timeout.InfiniteTimeSpan, time, stoppingToken).ConfigureAwait(false);
                }

                heartbeat.Beat();
                runner.CheckBackground();
                if (policy.Tick(GC.CollectionCount(2)))
                {
                    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
                }

                if (++ticks % DropEvery == 0 || ticks == FirstDrop)
                {
                    NativeMemory.DropExecutablePages();
                }

                NativeMemory.Trim();
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }
}

/// <summary>When the agent should run a full collection: after <paramref name="everyTicks"/> ticks without one (the GC's own or ours).</summary>
internal sealed class FullCollectionPolicy(int everyTicks)
{
    private int _ticks;
    private int _lastCount = -1;

    /// <summary>One tick with the GC's full-collection count; true when one should run now.</summary>
    public bool Tick(int fullCollections)
    {
        if (fullCollections != _lastCount)
        {
            // A full collection ran (or this is the first tick): the window starts again.
            _lastCount = fullCollections;
            _ticks = 0;
            return false;
        }

        return ++_ticks >= everyTicks;
    }
}
