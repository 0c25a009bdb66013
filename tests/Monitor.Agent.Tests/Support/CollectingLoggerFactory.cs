using Microsoft.Extensions.Logging;

namespace Monitor.Agent.Tests.Support;

/// <summary>A logger factory that keeps every message, for asserting what was logged and how often.</summary>
internal sealed class CollectingLoggerFactory : ILoggerFactory
{
    private readonly List<(string Category, LogLevel Level, EventId Id, string Message)> _entries = [];
    private readonly List<(EventId Id, LogLevel Level, IReadOnlyDictionary<string, object?> Fields)> _structured = [];

    public IReadOnlyList<(string Category, LogLevel Level, EventId Id, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>Every entry with its structured fields (the message template's named values), for asserting event payloads.</summary>
    public IReadOnlyList<(EventId Id, LogLevel Level, IReadOnlyDictionary<string, object?> Fields)> Structured
    {
        get
        {
            lock (_entries)
            {
                return [.. _structured];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(CollectingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._entries)
            {
                owner._entries.Add((category, logLevel, eventId, formatter(state, exception)));
                var fields = state is IEnumerable<KeyValuePair<string, object?>> pairs
                    ? pairs.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal)
                    : new Dictionary<string, object?>(StringComparer.Ordinal);
                owner._structured.Add((eventId, logLevel, fields));
            }
        }
    }
}
