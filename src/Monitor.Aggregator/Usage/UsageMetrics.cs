using Monitor.Aggregator.Storage;
using Prometheus;

namespace Monitor.Aggregator.Usage;

/// <summary>
/// The cluster's usage as Prometheus counters on the aggregator's <c>/metrics</c>, per account and user: GPU-seconds
/// allocated and busy, GPU energy and jobs finished. They are the daily rollups' all-time sums, read just before each
/// scrape; rollups only ever add, so the counters only rise. A Grafana dashboard can take <c>increase()</c> of them
/// per account over any range (dashboards/usage.json). A pair's counters exist at 0 from when its first job is seen
/// running (<see cref="Refresh"/> says why).
/// </summary>
internal sealed class UsageMetrics
{
    private static readonly string[] Labels = ["account", "user"];
    private readonly JobStore _store;
    private readonly Counter _allocated;
    private readonly Counter _busy;
    private readonly Counter _energy;
    private readonly Counter _jobs;

    public UsageMetrics(JobStore store, CollectorRegistry registry)
    {
        _store = store;
        var factory = Metrics.WithCustomRegistry(registry);
        _allocated = factory.CreateCounter("monitor_usage_gpu_allocated_seconds_total", "GPU-seconds allocated to jobs that ended, by account and user.", Labels);
        _busy = factory.CreateCounter("monitor_usage_gpu_busy_seconds_total", "GPU-seconds busy (utilization × seconds) of jobs that ended, by account and user.", Labels);
        _energy = factory.CreateCounter("monitor_usage_gpu_energy_joules_total", "GPU energy of jobs that ended, by account and user.", Labels);
        _jobs = factory.CreateCounter("monitor_usage_jobs_finished_total", "Jobs that ended, by account and user.", Labels);
        registry.AddBeforeCollectCallback(Refresh);
    }

    /// <summary>Brings the counters up to the store's totals.</summary>
    public void Refresh()
    {
        // An account and user's counters are born at 0 while their first job runs, so that Prometheus sees them rise
        // when it ends. increase() counts nothing of a series' first sample: counters born at the first job's usage
        // would hide that job from every dashboard. (A job that ends before the aggregator first sees it running still
        // is hidden so, when it is the pair's first.)
        foreach (var (account, user) in _store.RunningAccountsAndUsers())
        {
            _allocated.WithLabels(account, user);
            _busy.WithLabels(account, user);
            _energy.WithLabels(account, user);
            _jobs.WithLabels(account, user);
        }

        foreach (var (account, user, totals) in _store.TotalsByAccountAndUser())
        {
            _allocated.WithLabels(account, user).IncTo(totals.GpuAllocatedSeconds);
            _busy.WithLabels(account, user).IncTo(totals.GpuBusySeconds);
            _energy.WithLabels(account, user).IncTo(totals.GpuEnergyJoules);
            _jobs.WithLabels(account, user).IncTo(totals.Jobs);
        }
    }
}
