using Monitor.Agent.Collectors.LoadAvg;

namespace Monitor.Agent.Collectors;

/// <summary>Every collector the agent knows. Each entry gives a <c>--[no-]collector.&lt;name&gt;</c> flag.</summary>
internal static class CollectorCatalog
{
    /// <summary>All collectors, in name order.</summary>
    public static IReadOnlyList<CollectorDescriptor> All { get; } =
        new[]
        {
            LoadAvgCollector.Descriptor,
        }.OrderBy(d => d.Name, StringComparer.Ordinal).ToArray();
}
