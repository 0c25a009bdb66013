using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Configuration;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors;

/// <summary>What a collector gets when it is created.</summary>
/// <param name="Group">The metric group the collector declares its families on.</param>
/// <param name="Paths">Filesystem roots (<c>--path.procfs</c> and friends).</param>
/// <param name="Settings">The collector's own configuration section (<c>Collectors:&lt;name&gt;</c>).</param>
/// <param name="Logger">A logger named after the collector.</param>
/// <param name="Time">The clock; tests inject a fake one.</param>
internal sealed record CollectorContext(
    MetricGroup Group,
    HostPaths Paths,
    IConfigurationSection Settings,
    ILogger Logger,
    TimeProvider Time)
{
    /// <summary>State shared between collectors and the web host (GPU ticks, the job store).</summary>
    public Monitor.Agent.Collectors.AgentServices Services { get; init; } = new();

    /// <summary>
    /// The setting <paramref name="key"/> as a positive duration ("500ms", "15s"), or <paramref name="fallback"/> when
    /// unset. A bad value throws <see cref="ArgumentException"/> naming the key (the flag table has already refused
    /// bad command-line values; this guards settings that reach a collector another way).
    /// </summary>
    public TimeSpan PositiveDuration(string key, string fallback)
    {
        var text = Settings[key] is { Length: > 0 } value ? value : fallback;
        var parsed = Parsing.DurationParser.Parse(text);
        return parsed.Success && parsed.Value > TimeSpan.Zero
            ? parsed.Value
            : throw new ArgumentException($"{Settings.Path}:{key}: '{text}' is not a positive duration such as 500ms or 5s ({parsed.Error ?? "not positive"})", key);
    }
}
