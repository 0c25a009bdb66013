using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Tests.Collectors;

/// <summary>
/// Runs one collector outside the host, the way the runner does: create it from its descriptor, bracket each update
/// with BeginUpdate/EndUpdate, and render the group as Prometheus text.
/// </summary>
internal sealed class CollectorHarness
{
    private readonly MetricRegistry _registry = new();
    private readonly MetricGroup _group;

    public CollectorHarness(CollectorDescriptor descriptor, HostPaths paths, IDictionary<string, string?>? settings = null, ILogger? logger = null, TimeProvider? time = null, Monitor.Agent.Collectors.AgentServices? services = null)
    {
        _group = new MetricGroup(descriptor.Name);
        _registry.Register(_group);
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings?.ToDictionary(kv => $"Collectors:{descriptor.Name}:{kv.Key}", kv => kv.Value) ?? [])
            .Build();
        Collector = descriptor.Create(new CollectorContext(
            _group, paths, configuration.GetSection($"Collectors:{descriptor.Name}"), logger ?? NullLogger.Instance, time ?? TimeProvider.System) { Services = services ?? new() });
    }

    /// <summary>A harness over a fixture tree: <paramref name="root"/>/proc, /sys and / as rootfs.</summary>
    public static CollectorHarness ForTree(CollectorDescriptor descriptor, string root, IDictionary<string, string?>? settings = null) =>
        new(descriptor, new HostPaths(Path.Join(root, "proc"), Path.Join(root, "sys"), root), settings);

    public ICollector Collector { get; }

    /// <summary>One update, as the runner does it.</summary>
    public void Update()
    {
        _group.BeginUpdate();
        try
        {
            Collector.Update(CancellationToken.None);
        }
        finally
        {
            _group.EndUpdate();
        }
    }

    /// <summary>Renders the group's families as text format 0.0.4.</summary>
    public string Render(ExpositionFormat format = ExpositionFormat.Text004)
    {
        using var buffer = new PooledBufferWriter();
        _registry.WriteTo(buffer, format);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Updates once and renders.</summary>
    public string Scrape(ExpositionFormat format = ExpositionFormat.Text004)
    {
        Update();
        return Render(format);
    }
}
