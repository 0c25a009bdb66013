namespace Monitor.Core.Exposition;

/// <summary>
/// Families a group exposes already rendered, beside the ones it declares: for sources whose families are not known
/// in advance and may include histograms and summaries (the textfile collector). The bytes are written as they are,
/// after the declared families, so the producer owns their validity in both formats.
/// </summary>
/// <param name="Text">The families in text format 0.0.4.</param>
/// <param name="OpenMetrics">The same families in OpenMetrics 1.0 (without <c># EOF</c>).</param>
public sealed record RawExposition(byte[] Text, byte[] OpenMetrics)
{
    /// <summary>No families.</summary>
    public static RawExposition Empty { get; } = new([], []);
}
