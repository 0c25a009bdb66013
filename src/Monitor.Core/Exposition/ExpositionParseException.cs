namespace Monitor.Core.Exposition;

/// <summary>Thrown by <see cref="TextParser"/> when its input is not valid exposition text.</summary>
public sealed class ExpositionParseException : Exception
{
    /// <summary>Creates an exception without a location.</summary>
    public ExpositionParseException()
        : this(0, "invalid exposition text")
    {
    }

    /// <summary>Creates an exception without a location.</summary>
    public ExpositionParseException(string message)
        : this(0, message)
    {
    }

    /// <summary>Creates an exception without a location, wrapping <paramref name="innerException"/>.</summary>
    public ExpositionParseException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = message;
    }

    /// <summary>Creates an exception for line <paramref name="lineNumber"/> (1-based; 0 when no line applies).</summary>
    public ExpositionParseException(int lineNumber, string reason)
        : base(lineNumber > 0 ? $"line {lineNumber}: {reason}" : reason)
    {
        LineNumber = lineNumber;
        Reason = reason;
    }

    /// <summary>The 1-based line the problem is on; 0 when it is not tied to a line.</summary>
    public int LineNumber { get; }

    /// <summary>What is wrong, without the line number.</summary>
    public string Reason { get; } = string.Empty;
}
