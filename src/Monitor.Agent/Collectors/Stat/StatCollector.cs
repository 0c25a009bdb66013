using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Stat;

/// <summary>
/// node_exporter's stat collector: boot time, context switches, forks, interrupts and the running/blocked task
/// counts from <c>/proc/stat</c>. The opt-in per-vector softirq series are not implemented.
/// </summary>
internal sealed class StatCollector : ICollector
{
    private readonly TextFileReader _reader = new();
    private readonly string _path;
    private readonly MetricFamily _bootTime;
    private readonly MetricFamily _contextSwitches;
    private readonly MetricFamily _forks;
    private readonly MetricFamily _interrupts;
    private readonly MetricFamily _procsRunning;
    private readonly MetricFamily _procsBlocked;

    public StatCollector(CollectorContext context)
    {
        _path = context.Paths.Proc("stat");
        var g = context.Group;
        _bootTime = g.Gauge("node_boot_time_seconds", "Node boot time, in unixtime.");
        _contextSwitches = g.Counter("node_context_switches_total", "Total number of context switches.");
        _forks = g.Counter("node_forks_total", "Total number of forks.");
        _interrupts = g.Counter("node_intr_total", "Total number of interrupts serviced.");
        _procsRunning = g.Gauge("node_procs_running", "Number of processes in runnable state.");
        _procsBlocked = g.Gauge("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "stat", "Kernel and system statistics from /proc/stat.", true, Cadence.OnScrape, TimeSpan.Zero, c => new StatCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        var stat = StatParser.Parse(_reader.ReadAll(_path)).ValueOrThrow(_path);
        _bootTime.Get().Set(stat.BootTime);
        _contextSwitches.Get().Set(stat.ContextSwitches);
        _forks.Get().Set(stat.Forks);
        _interrupts.Get().Set(stat.Interrupts);
        _procsRunning.Get().Set(stat.ProcsRunning);
        _procsBlocked.Get().Set(stat.ProcsBlocked);
    }
}
