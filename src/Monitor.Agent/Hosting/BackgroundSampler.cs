using Microsoft.Extensions.Hosting;
using Monitor.Agent.Collectors;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Runs the background collectors for the lifetime of the host; every 2 s it reports background updates stuck past
/// their deadline and trims the native heap.
/// </summary>
internal sealed class BackgroundSampler(CollectorRunner runner, TimeProvider time) : BackgroundService
{
    /// <summary>How often freed native memory is handed back; malloc_trim on our small heap takes tens of microseconds.</summary>
    private static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(2);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(
            runner.HasBackgroundCollectors ? runner.RunBackgroundAsync(stoppingToken) : Task.CompletedTask,
            TrimLoopAsync(stoppingToken));

    private async Task TrimLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TrimInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                runner.CheckBackground();
                NativeMemory.Trim();
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }
}
