using Microsoft.Extensions.Hosting;
using Monitor.Agent.Collectors;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Runs the background collectors for the lifetime of the host; every 2 s it reports background updates stuck past
/// their deadline and trims the native heap, and every minute without a full collection it runs one.
/// </summary>
/// <remarks>
/// Why a full collection: Kestrel's memory pool gives idle blocks back to the GC, and those blocks live on the pinned
/// object heap, which only a gen2 collection reclaims. The agent's own survivors are so few that the GC ran gen2 once
/// in an hour, so the discarded blocks (and large buffers on the LOH) piled up: RSS rose 0.13 MB a minute through a
/// soak. A non-compacting gen2 of the agent's ~5 MB heap takes about a millisecond (docs/performance.md, "Soak").
/// </remarks>
internal sealed class BackgroundSampler(CollectorRunner runner, TimeProvider time) : BackgroundService
{
    /// <summary>How often freed native memory is handed back; malloc_trim on our small heap takes tens of microseconds.</summary>
    private static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(2);

    /// <summary>Trim intervals between full-collection checks (one minute).</summary>
    private const int CollectEvery = 30;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(
            runner.HasBackgroundCollectors ? runner.RunBackgroundAsync(stoppingToken) : Task.CompletedTask,
            TrimLoopAsync(stoppingToken));

    private async Task TrimLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TrimInterval, time);
        var ticks = 0;
        var lastFullCollections = GC.CollectionCount(2);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                runner.CheckBackground();
                if (++ticks % CollectEvery == 0)
                {
                    _ = CollectIfNoneSince(ref lastFullCollections);
                }

                NativeMemory.Trim();
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    /// <summary>
    /// Runs a blocking, non-compacting gen2 collection unless one ran since <paramref name="lastFullCollections"/> was
    /// taken (the GC's own count), then updates it. True when it collected.
    /// </summary>
    internal static bool CollectIfNoneSince(ref int lastFullCollections) =>
        CollectIfNoneSince(ref lastFullCollections, static () => GC.CollectionCount(2), static () => GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false));

    /// <summary><see cref="CollectIfNoneSince(ref int)"/> with the GC's count and collection passed in (tests).</summary>
    internal static bool CollectIfNoneSince(ref int lastFullCollections, Func<int> fullCollections, Action collect)
    {
        var collected = false;
        if (fullCollections() == lastFullCollections)
        {
            collect();
            collected = true;
        }

        lastFullCollections = fullCollections();
        return collected;
    }
}
