namespace Monitor.Agent.Configuration;

/// <summary>A flag or setting is invalid. The agent prints the message and exits with code 2.</summary>
internal sealed class OptionsException(string message) : Exception(message)
{
    /// <summary>The exit code for configuration errors (the convention of Go's flag package and node_exporter).</summary>
    public const int ExitCode = 2;
}
