namespace Monitor.Core.Exposition;

/// <summary>The metric types the agent exposes. Summaries and histograms are not needed by any collector yet.</summary>
public enum MetricType
{
    /// <summary>A monotonically increasing value. Names must end in <c>_total</c>.</summary>
    Counter,

    /// <summary>A value that can go up and down.</summary>
    Gauge,

    /// <summary>Untyped in the text format, <c>unknown</c> in OpenMetrics.</summary>
    Untyped,
}
