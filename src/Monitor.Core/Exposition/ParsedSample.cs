namespace Monitor.Core.Exposition;

/// <summary>One sample line: the sample's metric name, its labels as written, its value and optional timestamp.</summary>
public sealed class ParsedSample
{
    /// <summary>Creates a sample.</summary>
    public ParsedSample(string name, IReadOnlyList<KeyValuePair<string, string>> labels, double value, long? timestampMilliseconds)
    {
        Name = name;
        Labels = labels;
        Value = value;
        TimestampMilliseconds = timestampMilliseconds;
    }

    /// <summary>The name on the sample line, suffix included (<c>foo_total</c>, <c>foo_bucket</c>).</summary>
    public string Name { get; }

    /// <summary>The labels in the order they were written, values unescaped.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Labels { get; }

    /// <summary>The value (NaN and ±Inf included).</summary>
    public double Value { get; }

    /// <summary>
    /// The timestamp in milliseconds since the Unix epoch, if the line had one. Text 0.0.4 writes milliseconds;
    /// OpenMetrics writes seconds, which are converted (rounded to the nearest millisecond).
    /// </summary>
    public long? TimestampMilliseconds { get; }

    /// <summary>The value of label <paramref name="name"/>, or null when the sample does not have it.</summary>
    public string? Label(string name)
    {
        foreach (var (key, value) in Labels)
        {
            if (key == name)
            {
                return value;
            }
        }

        return null;
    }
}
