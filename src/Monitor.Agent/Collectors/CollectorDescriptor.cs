namespace Monitor.Agent.Collectors;

/// <summary>How often a collector is updated.</summary>
internal enum Cadence
{
    /// <summary>Read during the scrape (cheap cumulative kernel counters). Concurrent scrapes share one read.</summary>
    OnScrape,

    /// <summary>Sampled in the background at its own interval; a scrape only renders the last sample.</summary>
    Background,
}

/// <summary>
/// A collector's registration: its name (which gives the <c>--[no-]collector.&lt;name&gt;</c> flags), whether it is on
/// by default, its cadence, and its factory.
/// </summary>
/// <param name="Name">Collector name as used in flags and in the <c>collector</c> label.</param>
/// <param name="Description">One line for <c>--help</c>.</param>
/// <param name="EnabledByDefault">Whether it runs without a flag.</param>
/// <param name="Cadence">When it is updated.</param>
/// <param name="DefaultInterval">Background interval when <paramref name="Cadence"/> is <see cref="Cadence.Background"/>.</param>
/// <param name="Create">Builds the collector.</param>
/// <param name="Flags">Collector-specific flags (<c>--collector.&lt;name&gt;.&lt;flag&gt;</c>).</param>
internal sealed record CollectorDescriptor(
    string Name,
    string Description,
    bool EnabledByDefault,
    Cadence Cadence,
    TimeSpan DefaultInterval,
    Func<CollectorContext, ICollector> Create,
    IReadOnlyList<CollectorFlag> Flags)
{
    /// <summary>
    /// True for collectors node_exporter also has (the default): their duration and success are also exported under
    /// node_exporter's names, <c>node_scrape_collector_duration_seconds</c> and <c>node_scrape_collector_success</c>.
    /// </summary>
    public bool NodeExporter { get; init; } = true;
}

/// <summary>A collector-specific setting, exposed as <c>--collector.&lt;collector&gt;.&lt;Name&gt;</c>.</summary>
/// <param name="Name">Flag suffix, e.g. <c>device-exclude</c>; the configuration key is the same under <c>Collectors:&lt;collector&gt;</c>.</param>
/// <param name="Default">Default value as text.</param>
/// <param name="Help">One line for <c>--help</c>.</param>
/// <param name="Kind">How the value is validated.</param>
/// <param name="Allowed">The allowed words when <paramref name="Kind"/> is <see cref="FlagKind.Choice"/>.</param>
internal sealed record CollectorFlag(string Name, string Default, string Help, FlagKind Kind = FlagKind.String, IReadOnlyList<string>? Allowed = null);

/// <summary>Value kinds the option validator knows.</summary>
internal enum FlagKind
{
    /// <summary>Any text.</summary>
    String,

    /// <summary>A .NET regular expression (anchored by the collector where node_exporter anchors).</summary>
    Regex,

    /// <summary>A duration such as <c>500ms</c>, <c>5s</c> or <c>1m</c>.</summary>
    Duration,

    /// <summary><c>true</c> or <c>false</c>.</summary>
    Bool,

    /// <summary>A non-negative whole number.</summary>
    Int,

    /// <summary>One of a fixed set of words (<see cref="CollectorFlag"/> help names them).</summary>
    Choice,
}
