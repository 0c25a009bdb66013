using Microsoft.Extensions.Hosting;
using Monitor.Agent.Collectors;

namespace Monitor.Agent.Hosting;

/// <summary>Runs the background collectors for the lifetime of the host.</summary>
internal sealed class BackgroundSampler(CollectorRunner runner) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        runner.HasBackgroundCollectors ? runner.RunBackgroundAsync(stoppingToken) : Task.CompletedTask;
}
