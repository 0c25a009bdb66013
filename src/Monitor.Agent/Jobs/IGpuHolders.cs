namespace Monitor.Agent.Jobs;

/// <summary>
/// Which running jobs hold a GPU: all the dcgm-exporter compatibility series need to know about jobs (their labels),
/// without the job store's lifecycle and locking.
/// </summary>
internal interface IGpuHolders
{
    /// <summary>The jobs holding the GPU with <paramref name="uuid"/> as of the last refresh; empty when none.</summary>
    ReadOnlySpan<JobIdentity> HoldersOf(string uuid);
}
