using System.Globalization;
using Monitor.Contracts;

namespace Monitor.Aggregator.Alerting;

/// <summary>
/// One job alert: its identity (<see cref="Key"/>), its labels and its annotations' text. The text is made when it is
/// first read (to be sent or stored), not at every evaluation: a cycle with 16,000 alerts firing sends a few of them.
/// </summary>
internal sealed class JobAlert
{
    private readonly Func<string>? _summary;
    private readonly Func<string>? _description;
    private string? _summaryText;
    private string? _descriptionText;

    /// <summary>An alert with its text (as stored).</summary>
    public JobAlert(string key, IReadOnlyList<KeyValuePair<string, string>> labels, string summary, string description, string runbookUrl)
        : this(key, labels, (Func<string>?)null, null, runbookUrl) => (_summaryText, _descriptionText) = (summary, description);

    /// <summary>An alert whose text is made when first read.</summary>
    public JobAlert(string key, IReadOnlyList<KeyValuePair<string, string>> labels, Func<string>? summary, Func<string>? description, string runbookUrl) =>
        (Key, Labels, _summary, _description, RunbookUrl) = (key, labels, summary, description, runbookUrl);

    /// <summary>alertname, job id, node and GPU: what makes it one alert (its labels follow from them).</summary>
    public string Key { get; }

    /// <summary>Its labels, <c>alertname</c> first.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Labels { get; }

    /// <summary>The alert's name (its <c>alertname</c> label).</summary>
    public string Name => Labels[0].Value;

    public string Summary => _summaryText ??= _summary!();

    public string Description => _descriptionText ??= _description!();

    public string RunbookUrl { get; }
}

/// <summary>What one evaluation found: the alerts whose condition holds, and the keys of alerts it could not decide.</summary>
/// <param name="Firing">The alerts whose condition holds now.</param>
/// <param name="Undecided">
/// Keys of alerts that were firing and whose condition cannot be decided yet (a window the history does not cover
/// after a restart): they stay as they were, neither resolved nor fired again.
/// </param>
internal sealed record JobAlertEvaluation(IReadOnlyList<JobAlert> Firing, IReadOnlySet<string> Undecided);

/// <summary>
/// The job alert rules (docs/aggregator.md, "Job alerts"), evaluated over <see cref="RunningJobs"/> in memory:
/// <list type="bullet">
/// <item>JobGpuIdle (tenant): an allocated GPU under the idle threshold over the window, or over the whole job once
/// it has run <see cref="JobAlertRules.IdleWholeJobAfter"/>;</item>
/// <item>JobGpusUnderused (tenant): the job's GPUs together under the threshold over the window;</item>
/// <item>JobGpuMemoryFull (tenant): a GPU's memory over the threshold of its total for the window;</item>
/// <item>JobGpuErrors (tenant): XID or ECC errors on a GPU while the job held it, with NVIDIA's resolution of the last
/// XID; JobGpuErrorsNodeAction (on-call) when that resolution needs the node;</item>
/// <item>JobOnUnavailableNode (on-call): a running job on a node Slurm reports down, drained or failed;</item>
/// <item>JobNodeDataMissing (on-call): a running job whose node's agent has not answered for the window;</item>
/// <item>SlurmNodeMaintenance (on-call, info): a node with jobs that Slurm drains or has in maintenance, the source
/// of the inhibit rule that keeps its jobs' tenant alerts quiet.</item>
/// </list>
/// Every alert carries job_id, user, account, partition, cluster, severity and team, and node and gpu where it is
/// about one.
/// </summary>
internal sealed class JobAlertEvaluator(JobAlertRules rules, string cluster)
{
    private readonly Dictionary<string, string> _runbooks = Names.ToDictionary(n => n, n => $"{rules.RunbookUrl}#{n.ToLowerInvariant()}", StringComparer.Ordinal);

    /// <summary>The alerts it raises (each has a section in docs/runbooks.md).</summary>
    public static readonly IReadOnlyList<string> Names =
        ["JobGpuIdle", "JobGpusUnderused", "JobGpuMemoryFull", "JobGpuErrors", "JobGpuErrorsNodeAction", "JobOnUnavailableNode", "JobNodeDataMissing", "SlurmNodeMaintenance"];

    public JobAlertRules Rules => rules;

    /// <summary>
    /// Evaluates every rule at <paramref name="now"/>. <paramref name="nodeStates"/> gives Slurm's state words of a
    /// node by name (empty without Slurm); <paramref name="active"/> holds the keys of the alerts firing now, so that
    /// only those are reported undecided.
    /// </summary>
    public JobAlertEvaluation Evaluate(RunningJobs jobs, IReadOnlyDictionary<string, IReadOnlySet<string>> nodeStates, DateTimeOffset now, IReadOnlySet<string> active) =>
        jobs.Read((byJob, answered) =>
        {
            // A key is made only for a rule that has firing alerts: most evaluations make none.
            var activeNames = active.Select(k => k[..k.IndexOf('\u001f', StringComparison.Ordinal)]).ToHashSet(StringComparer.Ordinal);
            bool IsActive(string name, string job, string? node, int? gpu) => activeNames.Contains(name) && active.Contains(Key(name, job, node, gpu));

            var firing = new List<JobAlert>();
            var undecided = new HashSet<string>(StringComparer.Ordinal);
            var nodes = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (id, runs) in byJob)
            {
                EvaluateJob(id, runs, answered, nodeStates, now, IsActive, firing, undecided);
                foreach (var run in runs)
                {
                    nodes.Add(run.Node);
                }
            }

            // The nodes with jobs that Slurm drains or has in maintenance: the source of the inhibit rule that keeps
            // their jobs' tenant alerts quiet (alerts/alertmanager.example.yml).
            foreach (var node in nodes.Order(StringComparer.Ordinal))
            {
                if (nodeStates.TryGetValue(node, out var states) && states.Where(s => s is "drained" or "draining" or "maint").Order(StringComparer.Ordinal).ToList() is { Count: > 0 } maintenance)
                {
                    firing.Add(Maintenance(node, states, maintenance));
                }
            }

            return new JobAlertEvaluation(firing, undecided);
        });

    private void EvaluateJob(
        string id,
        List<RunningJobs.NodeRun> runs,
        IReadOnlyDictionary<string, DateTimeOffset> answered,
        IReadOnlyDictionary<string, IReadOnlySet<string>> nodeStates,
        DateTimeOffset now,
        Func<string, string, string?, int?, bool> active,
        List<JobAlert> firing,
        HashSet<string> undecided)
    {
        var first = runs[0].Record;
        var start = first.Start;
        foreach (var run in runs)
        {
            start = run.Record.Start < start ? run.Record.Start : start;
        }

        var (jobAllocated, jobBusy, windowAllocated, windowBusy, gpus, windowKnown) = (0.0, 0.0, 0.0, 0.0, 0, true);
        foreach (var run in runs)
        {
            var missingFor = now - answered.GetValueOrDefault(run.Target, run.Updated);
            if (rules.DataMissing.Enabled && missingFor >= rules.DataMissing.For)
            {
                firing.Add(DataMissing(id, first, run, missingFor));
            }

            if (rules.UnavailableNode.Enabled && nodeStates.TryGetValue(run.Node, out var states) && states.FirstOrDefault(rules.UnavailableStates.Contains) is { } state)
            {
                firing.Add(Unavailable(id, first, run, states, state));
            }

            foreach (var gpu in run.Record.Gpus)
            {
                var history = run.Gpus[gpu.Uuid];
                if (gpu.XidErrors > 0 || gpu.EccErrors > 0)
                {
                    Errors(id, first, run, gpu, firing);
                }

                if (!gpu.Held)
                {
                    continue;
                }

                gpus++;
                jobAllocated += gpu.AllocatedSeconds;
                jobBusy += gpu.BusySeconds;
                if (history.Before(now, rules.Underused.For) is { } hour)
                {
                    windowAllocated += gpu.AllocatedSeconds - hour.Allocated;
                    windowBusy += gpu.BusySeconds - hour.Busy;
                }
                else
                {
                    windowKnown = false;
                }

                if (rules.Idle.Enabled)
                {
                    Idle(id, first, run, gpu, history, start, now, active, firing, undecided);
                }

                if (rules.MemoryFull.Enabled && history.MemoryHighSince is { } since && now - since >= rules.MemoryFull.For)
                {
                    firing.Add(MemoryFull(id, first, run, gpu, history.MemoryFraction, now - since));
                }
                else if (rules.MemoryFull.Enabled && (double.IsNaN(history.MemoryFraction) || history.MemoryHighSince is not null))
                {
                    // Unknown (no current value since a restart), or high but not yet for the window since the restart:
                    // a firing alert stays until the memory is seen under the threshold.
                    if (active("JobGpuMemoryFull", id, run.Node, gpu.Index))
                    {
                        undecided.Add(Key("JobGpuMemoryFull", id, run.Node, gpu.Index));
                    }
                }
            }
        }

        if (rules.Underused.Enabled && gpus > 1)
        {
            if (windowKnown && windowAllocated > 0)
            {
                var ratio = windowBusy / windowAllocated;
                if (ratio < rules.Underused.Threshold)
                {
                    firing.Add(Underused(id, first, gpus, ratio));
                }
            }
            else if (active("JobGpusUnderused", id, null, null))
            {
                undecided.Add(Key("JobGpusUnderused", id, null, null));
            }
        }
    }

    private void Idle(
        string id,
        NodeJobRecord first,
        RunningJobs.NodeRun run,
        NodeJobGpu gpu,
        RunningJobs.GpuHistory history,
        DateTimeOffset start,
        DateTimeOffset now,
        Func<string, string, string?, int?, bool> active,
        List<JobAlert> firing,
        HashSet<string> undecided)
    {
        var threshold = rules.Idle.Threshold;
        string? why = null;
        var ratio = double.NaN;

        // The window is known when the history reaches back over it and the GPU was held (its counters moved) since:
        // a record that did not change (its agent stopped answering) says nothing about the last minutes.
        var window = history.Before(now, rules.Idle.For);
        var known = window is { } before && gpu.AllocatedSeconds - before.Allocated > 0;
        if (known)
        {
            ratio = (gpu.BusySeconds - window!.Value.Busy) / (gpu.AllocatedSeconds - window.Value.Allocated);
            if (ratio < threshold)
            {
                why = $"over the last {Minutes(rules.Idle.For)} min";
            }
        }

        if (why is null && now - start >= rules.IdleWholeJobAfter && gpu.AllocatedSeconds > 0 && gpu.BusySeconds / gpu.AllocatedSeconds < threshold)
        {
            ratio = gpu.BusySeconds / gpu.AllocatedSeconds;
            why = $"over the whole job ({Minutes(now - start)} min)";
        }

        if (why is not null)
        {
            firing.Add(IdleAlert(id, first, run, gpu, ratio, threshold, why));
        }
        else if (!known)
        {
            if (active("JobGpuIdle", id, run.Node, gpu.Index))
            {
                undecided.Add(Key("JobGpuIdle", id, run.Node, gpu.Index));
            }
        }
    }

    /// <summary>
    /// JobGpuErrors to the tenant, with NVIDIA's description and resolution of the last XID when the agent knows its
    /// code; and JobGpuErrorsNodeAction to on-call when that resolution needs the node (a GPU reset, a reboot, or
    /// NVIDIA's investigation workflow).
    /// </summary>
    private void Errors(string id, NodeJobRecord first, RunningJobs.NodeRun run, NodeJobGpu gpu, List<JobAlert> firing)
    {
        var code = gpu.LastXid is { } last and > 0 and <= uint.MaxValue ? (uint)last : (uint?)null;
        var resolution = code is { } xid ? Monitor.Agent.Gpu.Xid.XidCatalog.Resolve(xid) : Monitor.Agent.Gpu.Xid.XidResolution.Unknown;
        var what = code is { } known
            ? $" The last was XID {known}, {Monitor.Agent.Gpu.Xid.XidCatalog.Describe(known)}: NVIDIA's resolution is {Monitor.Agent.Gpu.Xid.XidCatalog.Code(resolution)}, {Monitor.Agent.Gpu.Xid.XidCatalog.Action(resolution)}."
            : string.Empty;
        if (rules.Errors.Enabled)
        {
            firing.Add(Alert(
                "JobGpuErrors", rules.Errors.Severity, "tenant", first, run.Node, gpu.Index,
                () => $"GPU errors during job {id} on {run.Node} GPU {gpu.Index}",
                () => $"GPU {gpu.Index} ({gpu.Uuid}) of node {run.Node} had {gpu.XidErrors} XID and {gpu.EccErrors} ECC errors while job {id} held it.{what} Results computed on it may be wrong: check them, and rerun the job if in doubt."));
        }

        if (rules.ErrorsNodeAction.Enabled && resolution is Monitor.Agent.Gpu.Xid.XidResolution.ResetGpu or Monitor.Agent.Gpu.Xid.XidResolution.RestartBareMetal or Monitor.Agent.Gpu.Xid.XidResolution.Workflow)
        {
            firing.Add(Alert(
                "JobGpuErrorsNodeAction", rules.ErrorsNodeAction.Severity, "oncall", first, run.Node, gpu.Index,
                () => $"XID {code} during job {id} on {run.Node} GPU {gpu.Index}: the node needs {Monitor.Agent.Gpu.Xid.XidCatalog.Code(resolution)}",
                () => $"GPU {gpu.Index} ({gpu.Uuid}) of node {run.Node} had XID {code} ({Monitor.Agent.Gpu.Xid.XidCatalog.Describe(code!.Value)}) while job {id} ran on it. NVIDIA's resolution is {Monitor.Agent.Gpu.Xid.XidCatalog.Code(resolution)}: {Monitor.Agent.Gpu.Xid.XidCatalog.Action(resolution)}. The job's owner got JobGpuErrors."));
        }
    }

    // The alerts' text is made by lambdas that capture these methods' parameters, so that only a firing alert
    // allocates them (a lambda in the loops above would allocate its closure for every job and GPU evaluated).
    private JobAlert DataMissing(string id, NodeJobRecord first, RunningJobs.NodeRun run, TimeSpan missingFor) => Alert(
        "JobNodeDataMissing", rules.DataMissing.Severity, "oncall", first, run.Node, null,
        () => $"No data from node {run.Node} for running job {id}",
        () => $"The agent on {run.Node} ({run.Target}) has not answered for {Minutes(missingFor)} min (threshold {Minutes(rules.DataMissing.For)} min) while job {id} runs there; the job's accounting on that node stops at its last answer until the agent is back.");

    private JobAlert Unavailable(string id, NodeJobRecord first, RunningJobs.NodeRun run, IReadOnlySet<string> states, string state)
    {
        var held = run.Record.Gpus.Count(g => g.Held);
        return Alert(
            "JobOnUnavailableNode", rules.UnavailableNode.Severity, "oncall", first, run.Node, null,
            () => $"Job {id} still runs on node {run.Node}, which Slurm reports {state}",
            () => $"Slurm reports node {run.Node} {string.Join('+', states.Order(StringComparer.Ordinal))}, but job {id} still runs there with {held} GPU{(held == 1 ? "" : "s")}: the job is likely lost or hung, and its GPUs are not free.");
    }

    private JobAlert MemoryFull(string id, NodeJobRecord first, RunningJobs.NodeRun run, NodeJobGpu gpu, double fraction, TimeSpan highFor) => Alert(
        "JobGpuMemoryFull", rules.MemoryFull.Severity, "tenant", first, run.Node, gpu.Index,
        () => $"Job {id} has filled GPU {gpu.Index} on {run.Node} to {Percent(fraction)} % of its memory",
        () => $"GPU {gpu.Index} of node {run.Node}: {Gib(gpu.MemoryUsedBytes ?? 0)} of {Gib(gpu.MemoryTotalBytes ?? 0)} GiB ({Percent(fraction)} %) held by job {id}, over {Percent(rules.MemoryFull.Threshold)} % for {Minutes(highFor)} min: the job is close to running out of GPU memory.");

    private JobAlert Underused(string id, NodeJobRecord first, int gpus, double ratio)
    {
        var enough = Math.Max(1, (int)Math.Ceiling(gpus * ratio / 0.8));
        return Alert(
            "JobGpusUnderused", rules.Underused.Severity, "tenant", first, null, null,
            () => $"Job {id} uses {Percent(ratio)} % of its {gpus} GPUs",
            () => $"Job {id}'s {gpus} GPUs were {Percent(ratio)} % busy together over the last {Minutes(rules.Underused.For)} min (threshold {Percent(rules.Underused.Threshold)} %): {enough} GPU{(enough == 1 ? "" : "s")} would do; request fewer.");
    }

    private JobAlert IdleAlert(string id, NodeJobRecord first, RunningJobs.NodeRun run, NodeJobGpu gpu, double ratio, double threshold, string why) => Alert(
        "JobGpuIdle", rules.Idle.Severity, "tenant", first, run.Node, gpu.Index,
        () => $"GPU {gpu.Index} on {run.Node} is idle in job {id}",
        () => $"GPU {gpu.Index} of node {run.Node}, allocated to job {id}, was {Percent(ratio)} % busy {why} (threshold {Percent(threshold)} %). Release it, or check that the job uses the GPUs it requested.");

    private JobAlert Maintenance(string node, IReadOnlySet<string> states, List<string> maintenance) => new(
        Key("SlurmNodeMaintenance", "", node, null),
        [new("alertname", "SlurmNodeMaintenance"), new("cluster", cluster), new("node", node), new("severity", "info"), new("state", string.Join('+', maintenance)), new("team", "oncall")],
        () => $"Node {node} is {string.Join('+', maintenance)} in Slurm",
        () => $"Slurm reports node {node} {string.Join('+', states.Order(StringComparer.Ordinal))}. The tenant alerts of the jobs still on it are inhibited (alertmanager.example.yml).",
        _runbooks["SlurmNodeMaintenance"]);

    /// <summary>The key of an alert: alertname, job, node and GPU.</summary>
    public static string Key(string name, string job, string? node, int? gpu) =>
        $"{name}\u001f{job}\u001f{node}\u001f{gpu?.ToString(CultureInfo.InvariantCulture)}";

    private JobAlert Alert(string name, string severity, string team, NodeJobRecord job, string? node, int? gpu, Func<string> summary, Func<string> description)
    {
        var labels = new List<KeyValuePair<string, string>>(11) { new("alertname", name) };
        Add(labels, "account", job.Account ?? job.Namespace);
        Add(labels, "cluster", cluster);
        Add(labels, "gpu", gpu?.ToString(CultureInfo.InvariantCulture));
        Add(labels, "job_id", job.JobId);
        Add(labels, "node", node);
        Add(labels, "partition", job.Partition);
        Add(labels, "severity", severity);
        Add(labels, "team", team);
        Add(labels, "user", job.User ?? job.Uid);
        return new JobAlert(Key(name, job.JobId, node, gpu), labels, summary, description, _runbooks[name]);
    }

    private static void Add(List<KeyValuePair<string, string>> labels, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            labels.Add(new(name, value));
        }
    }

    private static string Percent(double fraction) => (fraction * 100).ToString(fraction < 0.1 ? "0.#" : "0", CultureInfo.InvariantCulture);

    private static string Minutes(TimeSpan span) => span.TotalMinutes.ToString("0", CultureInfo.InvariantCulture);

    private static string Gib(double bytes) => (bytes / (1L << 30)).ToString("0.0", CultureInfo.InvariantCulture);
}
