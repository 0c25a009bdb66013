namespace Monitor.Aggregator.Collection;

/// <summary>Runs the <see cref="PollCycle"/> for the life of the host.</summary>
internal sealed class PollService(PollCycle cycle) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => cycle.RunAsync(stoppingToken);
}
