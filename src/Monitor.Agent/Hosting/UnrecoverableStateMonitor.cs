using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Ends the agent with <see cref="ExitCodeUnrecoverable"/> when it logs a failure the runtime never retries, so that
/// systemd's <c>Restart=on-failure</c> restarts it instead of leaving a process that listens and fails every request.
/// </summary>
/// <remarks>
/// Watched: any logged exception whose chain holds a failed type initializer or a failed assembly load (the runtime
/// caches both for the life of the process; running out of file descriptors at the wrong moment causes them), and
/// Kestrel's critical "the connection listener failed to accept any new connections" (its accept loop has ended).
/// It is a logger provider because those failures surface only as log events, many of them inside Kestrel.
/// </remarks>
internal sealed partial class UnrecoverableStateMonitor : ILoggerProvider
{
    /// <summary>The exit code after an unrecoverable failure (EX_SOFTWARE).</summary>
    public const int ExitCodeUnrecoverable = 70;

    private readonly Observer _observer;
    private IHostApplicationLifetime? _lifetime;
    private ILogger? _logger;
    private int _triggered;
    private int _exitCode = ExitCodeUnrecoverable;

    public UnrecoverableStateMonitor() => _observer = new Observer(this);

    /// <summary>The process exit code it asked for; null while healthy.</summary>
    public int? ExitCode => Volatile.Read(ref _triggered) != 0 ? Volatile.Read(ref _exitCode) : null;

    /// <summary>Stops the host with <paramref name="exitCode"/> (the caller has logged why); the first request wins.</summary>
    public void RequestExit(int exitCode)
    {
        Volatile.Write(ref _exitCode, exitCode);
        if (Interlocked.Exchange(ref _triggered, 1) == 0)
        {
            _lifetime?.StopApplication();
        }
        else
        {
            Volatile.Write(ref _exitCode, ExitCodeUnrecoverable);
        }
    }

    /// <summary>Connects the monitor to the host it stops.</summary>
    public void Attach(IHostApplicationLifetime lifetime, ILogger logger)
    {
        _lifetime = lifetime;
        _logger = logger;
    }

    public ILogger CreateLogger(string categoryName) => _observer;

    public void Dispose()
    {
    }

    /// <summary>True for the failures the runtime never retries.</summary>
    internal static bool IsUnrecoverable(Exception? exception)
    {
        for (var depth = 0; exception is not null && depth < 16; depth++, exception = exception.InnerException)
        {
            switch (exception)
            {
                case TypeInitializationException:
                case FileLoadException:
                case BadImageFormatException:
                // An assembly that cannot be found names itself by display name (a missing data file does not).
                case FileNotFoundException { FileName: { } name } when name.Contains("PublicKeyToken=", StringComparison.Ordinal):
                    return true;
                case AggregateException aggregate when aggregate.InnerExceptions.Any(IsUnrecoverable):
                    return true;
            }
        }

        return false;
    }

    private void Observe(LogLevel level, string? message, Exception? exception)
    {
        string? reason = null;
        if (IsUnrecoverable(exception))
        {
            reason = $"{exception!.GetType().Name}: {exception.Message}";
        }
        else if (level == LogLevel.Critical && message is not null && message.Contains("failed to accept any new connections", StringComparison.Ordinal))
        {
            reason = message;
        }

        if (reason is null || Interlocked.Exchange(ref _triggered, 1) != 0)
        {
            return;
        }

        if (_logger is not null)
        {
            LogUnrecoverable(_logger, reason, ExitCodeUnrecoverable);
        }

        _lifetime?.StopApplication();
    }

    [LoggerMessage(EventId = EventIds.UnrecoverableState, EventName = "unrecoverable_state", Level = LogLevel.Critical,
        Message = "The agent is in a state the runtime never recovers from ({Reason}); stopping with exit code {ExitCode} so that its supervisor restarts it")]
    private static partial void LogUnrecoverable(ILogger logger, string reason, int exitCode);

    private sealed class Observer(UnrecoverableStateMonitor owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel < LogLevel.Error || (exception is null && logLevel != LogLevel.Critical))
            {
                return;
            }

            // Our own critical line passes through here too; the latch makes it a no-op.
            owner.Observe(logLevel, logLevel == LogLevel.Critical ? formatter(state, exception) : null, exception);
        }
    }
}
