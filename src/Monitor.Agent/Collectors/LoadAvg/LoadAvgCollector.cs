using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.LoadAvg;

/// <summary>node_exporter's loadavg collector: <c>node_load1</c>, <c>node_load5</c>, <c>node_load15</c>.</summary>
internal sealed class LoadAvgCollector : ICollector
{
    private readonly TextFileReader _reader = new();
    private readonly string _path;
    private readonly MetricFamily _load1;
    private readonly MetricFamily _load5;
    private readonly MetricFamily _load15;

    public LoadAvgCollector(CollectorContext context)
    {
        _path = context.Paths.Proc("loadavg");
        _load1 = context.Group.Gauge("node_load1", "1m load average.");
        _load5 = context.Group.Gauge("node_load5", "5m load average.");
        _load15 = context.Group.Gauge("node_load15", "15m load average.");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "loadavg", "Load averages from /proc/loadavg.", true, Cadence.OnScrape, TimeSpan.Zero, c => new LoadAvgCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        var load = LoadAvgParser.Parse(_reader.ReadAll(_path)).ValueOrThrow(_path);
        _load1.Get().Set(load.Load1);
        _load5.Get().Set(load.Load5);
        _load15.Get().Set(load.Load15);
    }
}
