using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Monitor.Aggregator.Alerting;

/// <summary>
/// The job alert rules' thresholds, from <c>--alerts.rules-file</c> (YAML; docs/aggregator.md, "Job alerts"). Every
/// field is optional: what a file does not set keeps the default below, and <c>enabled: false</c> turns a rule off.
/// <code>
/// runbook_url: https://wiki.example.org/monitor/runbooks   # each alert links to its section, #anchor appended
/// job_gpu_idle:            { utilization_below: 0.05, for: 30m, whole_job_after: 15m, severity: warning }
/// job_gpus_underused:      { utilization_below: 0.20, for: 1h, severity: info }
/// job_gpu_memory_full:     { memory_above: 0.95, for: 10m, severity: warning }
/// job_gpu_errors:          { severity: warning }
/// job_gpu_errors_node_action: { severity: critical }
/// job_on_unavailable_node: { states: [down, drained, fail, not_responding], severity: critical }
/// job_node_data_missing:   { after: 5m, severity: warning }
/// </code>
/// </summary>
internal sealed record JobAlertRules
{
    /// <summary>Where the runbooks are: each alert's <c>runbook_url</c> is this with <c>#&lt;alertname in lower case&gt;</c>.</summary>
    public string RunbookUrl { get; init; } = "https://github.com/monitor/monitor/blob/main/docs/runbooks.md";

    /// <summary>JobGpuIdle: an allocated GPU under this utilization over <see cref="IdleFor"/>, or over the whole job once it ran <see cref="IdleWholeJobAfter"/>.</summary>
    public Rule Idle { get; init; } = new("warning", Threshold: 0.05, For: TimeSpan.FromMinutes(30));

    /// <summary>JobGpuIdle's second form: the whole job idle, once it has run this long.</summary>
    public TimeSpan IdleWholeJobAfter { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>JobGpusUnderused: the job's GPUs together under this utilization over the window.</summary>
    public Rule Underused { get; init; } = new("info", Threshold: 0.20, For: TimeSpan.FromHours(1));

    /// <summary>JobGpuMemoryFull: a GPU's memory over this fraction of its total for the window.</summary>
    public Rule MemoryFull { get; init; } = new("warning", Threshold: 0.95, For: TimeSpan.FromMinutes(10));

    /// <summary>JobGpuErrors: an XID or ECC error on a GPU while the job held it.</summary>
    public Rule Errors { get; init; } = new("warning");

    /// <summary>JobGpuErrorsNodeAction: an XID during a job whose NVIDIA resolution needs the node (reset, reboot, workflow).</summary>
    public Rule ErrorsNodeAction { get; init; } = new("critical");

    /// <summary>JobOnUnavailableNode: a running job on a node Slurm reports in one of <see cref="UnavailableStates"/>.</summary>
    public Rule UnavailableNode { get; init; } = new("critical");

    /// <summary>The Slurm node states (lower case) that make a node unavailable: down, drained, fail, not_responding.</summary>
    public IReadOnlySet<string> UnavailableStates { get; init; } = new HashSet<string>(["down", "drained", "fail", "not_responding"], StringComparer.Ordinal);

    /// <summary>JobNodeDataMissing: a running job whose node's agent has not answered for the window.</summary>
    public Rule DataMissing { get; init; } = new("warning", For: TimeSpan.FromMinutes(5));

    /// <summary>
    /// How far apart the GPU histories' samples are: a sixth of the shortest window (so a window is measured within a
    /// sixth of its length), at most 5 minutes, at least 100 ms.
    /// </summary>
    public TimeSpan SampleEvery => TimeSpan.FromTicks(Math.Clamp(Math.Min(Idle.For.Ticks, Underused.For.Ticks) / 6, TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromMinutes(5).Ticks));

    /// <summary>The longest window a rule looks back over (how much history the windows keep).</summary>
    public TimeSpan LongestWindow => new[] { Idle.For, Underused.For, IdleWholeJobAfter }.Max();

    /// <summary>Reads the rules file at <paramref name="path"/>; a <see cref="FormatException"/> names what is wrong and where.</summary>
    public static JobAlertRules Load(string path) => Parse(Monitor.Contracts.SafeYaml.ReadFile(path), path);

    /// <summary>Parses a rules document; <paramref name="name"/> is used in errors.</summary>
    public static JobAlertRules Parse(string text, string name)
    {
        var stream = Monitor.Contracts.SafeYaml.Load(text, 8, name);

        var rules = new JobAlertRules();
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return rules;
        }

        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new FormatException($"{name}: expected one mapping of rule names (job_gpu_idle, ...) to their settings");
        }

        foreach (var (key, value) in root.Children)
        {
            var rule = Scalar(key, name, "a key");
            if (rule == "runbook_url")
            {
                var url = Scalar(value, name, "runbook_url");
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                {
                    throw new FormatException($"{name}: runbook_url must be an http(s) URL, not '{url}'");
                }

                rules = rules with { RunbookUrl = url.TrimEnd('#') };
                continue;
            }

            if (value is not YamlMappingNode fields)
            {
                throw new FormatException($"{name}: {rule} must be a mapping such as {{ severity: warning }}");
            }

            TimeSpan? wholeJob = null;
            IReadOnlySet<string>? states = null;
            rules = rule switch
            {
                "job_gpu_idle" => rules with { Idle = Read(rules.Idle, fields, name, rule, ["utilization_below", "for", "whole_job_after"], (field, node) => (wholeJob = Duration(node, name, $"{rule}.{field}")) is not null) },
                "job_gpus_underused" => rules with { Underused = Read(rules.Underused, fields, name, rule, ["utilization_below", "for"]) },
                "job_gpu_memory_full" => rules with { MemoryFull = Read(rules.MemoryFull, fields, name, rule, ["memory_above", "for"]) },
                "job_gpu_errors" => rules with { Errors = Read(rules.Errors, fields, name, rule, []) },
                "job_gpu_errors_node_action" => rules with { ErrorsNodeAction = Read(rules.ErrorsNodeAction, fields, name, rule, []) },
                "job_on_unavailable_node" => rules with { UnavailableNode = Read(rules.UnavailableNode, fields, name, rule, ["states"], (_, node) => (states = States(node, name, $"{rule}.states")) is not null) },
                "job_node_data_missing" => rules with { DataMissing = Read(rules.DataMissing, fields, name, rule, ["after"]) },
                _ => throw new FormatException($"{name}: unknown rule '{rule}' (expected runbook_url, job_gpu_idle, job_gpus_underused, job_gpu_memory_full, job_gpu_errors, job_gpu_errors_node_action, job_on_unavailable_node, job_node_data_missing)"),
            };
            rules = rules with { IdleWholeJobAfter = wholeJob ?? rules.IdleWholeJobAfter, UnavailableStates = states ?? rules.UnavailableStates };
        }

        return rules;
    }

    /// <summary>
    /// A rule's settings: <c>enabled</c>, <c>severity</c>, and the fields in <paramref name="allowed"/> (a threshold
    /// as utilization_below or memory_above, a window as for or after); <paramref name="extra"/> takes the rule's own.
    /// </summary>
    private static Rule Read(Rule rule, YamlMappingNode fields, string name, string ruleName, string[] allowed, Func<string, YamlNode, bool>? extra = null)
    {
        foreach (var (key, value) in fields.Children)
        {
            var field = Scalar(key, name, "a key");
            var path = $"{ruleName}.{field}";
            switch (field)
            {
                case "enabled":
                    rule = rule with { Enabled = Scalar(value, name, path) switch
                    {
                        "true" => true,
                        "false" => false,
                        var other => throw new FormatException($"{name}: {path} must be true or false, not '{other}'"),
                    } };
                    break;
                case "severity":
                    var severity = Scalar(value, name, path);
                    rule = severity is "critical" or "warning" or "info"
                        ? rule with { Severity = severity }
                        : throw new FormatException($"{name}: {path} must be critical, warning or info, not '{severity}'");
                    break;
                case "utilization_below" or "memory_above" when allowed.Contains(field):
                    var text = Scalar(value, name, path);
                    rule = double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var fraction) && fraction is > 0 and < 1
                        ? rule with { Threshold = fraction }
                        : throw new FormatException($"{name}: {path} must be a fraction between 0 and 1 (0.05 is 5 %), not '{text}'");
                    break;
                case "for" or "after" when allowed.Contains(field):
                    rule = rule with { For = Duration(value, name, path) };
                    break;
                default:
                    if (!allowed.Contains(field) || extra?.Invoke(field, value) != true)
                    {
                        throw new FormatException($"{name}: unknown field {path} (expected enabled, severity{string.Concat(allowed.Select(a => ", " + a))})");
                    }

                    break;
            }
        }

        return rule;
    }

    private static TimeSpan Duration(YamlNode node, string name, string path)
    {
        var text = Scalar(node, name, path);
        return AggregatorOptions.ParseDuration(text) ?? throw new FormatException($"{name}: {path} must be a duration such as 30m or 1h, not '{text}'");
    }

    private static HashSet<string> States(YamlNode node, string name, string path)
    {
        if (node is not YamlSequenceNode list)
        {
            throw new FormatException($"{name}: {path} must be a list such as [down, drained]");
        }

        var states = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in list.Children)
        {
            var state = Scalar(item, name, path);
            states.Add(state is "down" or "drained" or "draining" or "fail" or "failing" or "not_responding" or "maint"
                ? state
                : throw new FormatException($"{name}: {path}: unknown state '{state}' (expected down, drained, draining, fail, failing, not_responding, maint)"));
        }

        return states;
    }

    private static string Scalar(YamlNode node, string name, string what) =>
        node is YamlScalarNode { Value: { } value }
            ? value
            : throw new FormatException($"{name}: {what} must be a plain value (line {node.Start.Line})");

    /// <summary>One rule's settings: on or off, its severity, its threshold and its window, where it has them.</summary>
    internal sealed record Rule(string Severity, bool Enabled = true, double Threshold = 0, TimeSpan For = default);
}
