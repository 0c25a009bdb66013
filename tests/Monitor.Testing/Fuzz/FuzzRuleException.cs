namespace Monitor.Testing.Fuzz;

/// <summary>A fuzz case broke the rule's allocation or time bound (never a parser's documented exception).</summary>
public sealed class FuzzRuleException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FuzzRuleException()
    {
    }

    /// <summary>Creates the exception with what was exceeded.</summary>
    public FuzzRuleException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with what was exceeded and a cause.</summary>
    public FuzzRuleException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
