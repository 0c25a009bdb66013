using Monitor.Agent.Gpu;

namespace Monitor.Agent.Collectors.Gpu;

/// <summary>
/// One GPU as the gpu collector tracks it: its sampler, and what the collector has already reported about it, so each
/// change of state is logged once. Used on the collector's thread only.
/// </summary>
internal sealed class TrackedGpu(GpuDeviceSampler sampler)
{
    public GpuDeviceSampler Sampler { get; } = sampler;

    /// <summary>True after this device missed a tick's deadline, until a tick completes again.</summary>
    public bool Stalled { get; set; }

    /// <summary>Whether the loss of the GPU has been logged (once per loss).</summary>
    public bool ReportedLost { get; set; }

    /// <summary>Whether the current failure streak has been logged.</summary>
    public bool ReportedError { get; set; }

    /// <summary>Whether it has been logged that the GPU cannot be identified.</summary>
    public bool ReportedIdentify { get; set; }

    /// <summary>The last published state the event detector compares against.</summary>
    public GpuEventState Events { get; } = new();

    /// <summary>The series written for this GPU: its published sample, copied at each update.</summary>
    public GpuSample Sample { get; } = new();
}
