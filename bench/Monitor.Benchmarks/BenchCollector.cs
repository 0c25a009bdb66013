using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Jobs;
using Monitor.Core.Exposition;

namespace Monitor.Benchmarks;

/// <summary>A collector outside the host, for benchmarks: created from its descriptor and updated as the runner does.</summary>
internal static class BenchCollector
{
    /// <summary>Creates the collector with <paramref name="settings"/> (keys of its own section) on a fresh group.</summary>
    public static (ICollector Collector, MetricGroup Group) Create(
        CollectorDescriptor descriptor, HostPaths paths, IDictionary<string, string?>? settings = null, AgentServices? services = null)
    {
        var group = new MetricGroup(descriptor.Name);
        var section = new ConfigurationBuilder()
            .AddInMemoryCollection(settings?.Select(kv => new KeyValuePair<string, string?>($"Collectors:{descriptor.Name}:{kv.Key}", kv.Value)) ?? [])
            .Build()
            .GetSection($"Collectors:{descriptor.Name}");
        var context = new CollectorContext(group, paths, section, NullLogger.Instance, TimeProvider.System) { Services = services ?? new() };
        return (descriptor.Create(context), group);
    }

    /// <summary>One update bracketed like the runner's (stale series dropped at the end).</summary>
    public static void Run(ICollector collector, MetricGroup group)
    {
        group.BeginUpdate();
        collector.Update(CancellationToken.None);
        group.EndUpdate();
    }
}
