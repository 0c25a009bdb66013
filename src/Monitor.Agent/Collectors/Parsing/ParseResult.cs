namespace Monitor.Agent.Collectors.Parsing;

/// <summary>
/// The outcome of a parser: a value, or a message that says what was wrong with the input. Parsers never throw on
/// malformed input; collectors decide whether a failure fails the collector (<see cref="ValueOrThrow"/>) or only one
/// device.
/// </summary>
/// <typeparam name="T">The parsed value.</typeparam>
internal readonly struct ParseResult<T>
{
    private ParseResult(T? value, string? error)
    {
        Value = value;
        Error = error;
    }

    /// <summary>The parsed value when <see cref="Success"/>.</summary>
    public T? Value { get; }

    /// <summary>What was wrong, when not <see cref="Success"/>.</summary>
    public string? Error { get; }

    /// <summary>True when the input parsed.</summary>
    public bool Success => Error is null;

    /// <summary>A parsed value.</summary>
    public static ParseResult<T> Ok(T value) => new(value, null);

    /// <summary>A failure with a message naming what was wrong.</summary>
    public static ParseResult<T> Fail(string error) => new(default, error);

    /// <summary>The value, or a <see cref="MalformedSourceException"/> naming <paramref name="source"/>.</summary>
    public T ValueOrThrow(string source) => Success ? Value! : throw new MalformedSourceException(source, Error!);
}

/// <summary>A kernel file did not have the expected shape.</summary>
internal sealed class MalformedSourceException(string source, string problem)
    : Exception($"{source}: {problem}")
{
    /// <summary>The file that was malformed.</summary>
    public string SourcePath { get; } = source;

    /// <summary>What was wrong.</summary>
    public string Problem { get; } = problem;
}
