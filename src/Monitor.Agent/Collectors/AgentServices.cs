using Monitor.Agent.Gpu;
using Monitor.Agent.Jobs;

namespace Monitor.Agent.Collectors;

/// <summary>State the collectors and the web host share: one instance per agent (per collector runner).</summary>
internal sealed class AgentServices
{
    /// <summary>GPU ticks, from the gpu collector to the jobs collector.</summary>
    public GpuTelemetry Gpu { get; } = new();

    /// <summary>The jobs the jobs collector tracks, for the /api/v1/jobs endpoint and dcgm compatibility labels.</summary>
    public JobStore Jobs { get; } = new();

    /// <summary>Raised once when the agent stops, after the background collectors have (the job ledger's last checkpoint).</summary>
    public event Action? Stopping;

    /// <summary>Raises <see cref="Stopping"/>.</summary>
    public void Stop() => Stopping?.Invoke();
}
