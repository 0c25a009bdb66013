namespace Monitor.Core.Exposition;

/// <summary>A metric family read by <see cref="TextParser"/>: its metadata and its samples in input order.</summary>
public sealed class ParsedFamily
{
    private readonly List<ParsedSample> _samples = [];

    internal ParsedFamily(string name) => Name = name;

    /// <summary>
    /// The family name as HELP and TYPE give it. In OpenMetrics a counter family is named without <c>_total</c>
    /// (its samples keep it); in text 0.0.4 the counter family name is the sample name.
    /// </summary>
    public string Name { get; }

    /// <summary>The HELP text, unescaped; null without a HELP line.</summary>
    public string? Help { get; internal set; }

    /// <summary>The declared type; <see cref="ParsedMetricType.Unknown"/> without a TYPE line.</summary>
    public ParsedMetricType Type { get; internal set; }

    /// <summary>The OpenMetrics UNIT; null without a UNIT line.</summary>
    public string? Unit { get; internal set; }

    /// <summary>The samples, in input order.</summary>
    public IReadOnlyList<ParsedSample> Samples => _samples;

    internal bool HasType { get; set; }

    internal void Add(ParsedSample sample) => _samples.Add(sample);
}
