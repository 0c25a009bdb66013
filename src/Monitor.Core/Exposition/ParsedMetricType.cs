namespace Monitor.Core.Exposition;

/// <summary>The metric types a parsed exposition can declare (text 0.0.4 and OpenMetrics 1.0 together).</summary>
public enum ParsedMetricType
{
    /// <summary>No TYPE line, <c>untyped</c> (text) or <c>unknown</c> (OpenMetrics).</summary>
    Unknown,

    /// <summary><c>counter</c>.</summary>
    Counter,

    /// <summary><c>gauge</c>.</summary>
    Gauge,

    /// <summary><c>histogram</c>.</summary>
    Histogram,

    /// <summary><c>summary</c>.</summary>
    Summary,

    /// <summary><c>gaugehistogram</c> (OpenMetrics only).</summary>
    GaugeHistogram,

    /// <summary><c>stateset</c> (OpenMetrics only).</summary>
    StateSet,

    /// <summary><c>info</c> (OpenMetrics only).</summary>
    Info,
}
