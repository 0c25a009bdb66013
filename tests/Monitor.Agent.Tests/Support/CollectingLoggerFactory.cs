using Microsoft.Extensions.Logging;

namespace Monitor.Agent.Tests.Support;

/// <summary>A logger factory that keeps every message, for asserting what was logged and how often.</summary>
internal sealed class CollectingLoggerFactory : ILoggerFactory
{
    private readonly List<(string Category, LogLevel Level, EventId Id, string Message)> _entries = [];

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
            }
        }
    }
}
