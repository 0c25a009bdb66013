namespace Monitor.Aggregator;

/// <summary>The host's own log lines.</summary>
internal static partial class AggregatorLog
{
    [LoggerMessage(EventId = 5100, EventName = "listening", Level = LogLevel.Information,
        Message = "Listening on {Address} (monitor-aggregator, {Targets} static targets, {Files} target files, store {Store})")]
    public static partial void Listening(ILogger logger, string address, int targets, int files, string store);

    [LoggerMessage(EventId = 5101, EventName = "access_open", Level = LogLevel.Warning,
        Message = "No --web.tokens-file: anyone who can reach the port reads every job and account's usage")]
    public static partial void Open(ILogger logger);
}
