using System.Globalization;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Hosting;

/// <summary>
/// systemd's service protocol (sd_notify(3)) for <c>Type=notify</c> and <c>WatchdogSec=</c>: <c>READY=1</c> once the
/// listener is bound, <c>STOPPING=1</c> when shutting down, and <c>WATCHDOG=1</c> every half watchdog interval while
/// the agent's supervision loop (<see cref="BackgroundSampler"/>) is ticking and its HTTP server answers a request
/// through its own listener. Without <c>NOTIFY_SOCKET</c> (not started by systemd) every call does nothing.
/// </summary>
/// <remarks>
/// <para>
/// What the pings prove: the supervision loop runs on the thread pool and a timer, as every request does, so a
/// starved pool, a deadlock in it or a stopped timer wheel stops the pings; the self-request goes through the accept
/// loop, the connection limiter and the request pipeline, so a listener that no longer answers stops them too. Then
/// systemd restarts the agent after <c>WatchdogSec</c>.
/// </para>
/// <para>
/// What does not stop them: a hung GPU, a blocked file read or a stuck log destination. Those are isolated by design
/// (the GPU sampler's own thread, per-collector deadlines, the spool) and reported as metrics and events; restarting
/// the agent would not unhang a GPU, and would lose the node's other metrics while it starts again.
/// </para>
/// <para>
/// The datagrams are sent with Microsoft.Extensions.Hosting.Systemd's <see cref="SystemdNotifier"/>. Its
/// <c>UseSystemd()</c> lifetime is not used: it sends READY only when the parent process is systemd (so a stand-in
/// socket in tests would see nothing) and does nothing about the watchdog.
/// </para>
/// </remarks>
internal sealed partial class SystemdService(ISystemdNotifier notifier, SupervisorHeartbeat heartbeat, TimeProvider time, ILogger logger)
{
    private static readonly ServiceState Watchdog = new("WATCHDOG=1");

    /// <summary>The longest a self-request may take before the check counts as failed.</summary>
    private static readonly TimeSpan MaxCheckTime = TimeSpan.FromSeconds(5);

    /// <summary>True when systemd gave a notification socket.</summary>
    public bool Enabled => notifier.IsEnabled;

    /// <summary>
    /// systemd's watchdog interval from <c>WATCHDOG_USEC</c>, as sd_watchdog_enabled(3) reads it: null when unset,
    /// not a positive number, or when <c>WATCHDOG_PID</c> names another process.
    /// </summary>
    public static TimeSpan? WatchdogInterval(Func<string, string?> environment, int processId)
    {
        if (!ulong.TryParse(environment("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) || usec == 0)
        {
            return null;
        }

        if (environment("WATCHDOG_PID") is { Length: > 0 } pid &&
            (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var target) || target != processId))
        {
            return null;
        }

        return TimeSpan.FromMicroseconds(Math.Min(usec, (ulong)TimeSpan.MaxValue.TotalMicroseconds / 2));
    }

    /// <summary>Tells systemd the service is up (the listener is bound), with a status line for <c>systemctl status</c>.</summary>
    public void Ready(string status) => notifier.Notify(new ServiceState($"READY=1\nSTATUS={status}"));

    /// <summary>Tells systemd the service is stopping.</summary>
    public void Stopping() => notifier.Notify(ServiceState.Stopping);

    /// <summary>
    /// Pings every half <paramref name="watchdog"/> while the agent is healthy (see the class remarks), until
    /// <paramref name="stoppingToken"/> fires. <paramref name="address"/> is the listener the self-request goes to.
    /// </summary>
    public async Task RunWatchdogAsync(TimeSpan watchdog, string address, CancellationToken stoppingToken)
    {
        var interval = watchdog / 2;
        var checkTime = interval < MaxCheckTime ? interval : MaxCheckTime;
        LogWatchdog(logger, watchdog.TotalSeconds, interval.TotalSeconds, address);
        using var timer = new PeriodicTimer(interval, time);
        string? withheld = null;
        try
        {
            do
            {
                var problem = await CheckAsync(address, checkTime, stoppingToken).ConfigureAwait(false);
                if (problem is null)
                {
                    notifier.Notify(Watchdog);
                    if (withheld is not null)
                    {
                        LogResumed(logger);
                        withheld = null;
                    }
                }
                else if (withheld is null && !stoppingToken.IsCancellationRequested)
                {
                    // Once per episode: systemd restarts the agent WatchdogSec after the last ping.
                    LogWithheld(logger, problem);
                    withheld = problem;
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    /// <summary>Null when the agent is healthy; otherwise what is wrong, in words.</summary>
    private async Task<string?> CheckAsync(string address, TimeSpan checkTime, CancellationToken stoppingToken)
    {
        var age = heartbeat.Age;
        if (age > SupervisorHeartbeat.StaleAfter)
        {
            return string.Create(CultureInfo.InvariantCulture, $"the supervision loop last ran {age.TotalSeconds:0.0} s ago (limit {SupervisorHeartbeat.StaleAfter.TotalSeconds:0} s)");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(checkTime);
        try
        {
            var status = await StartupWarmup.RequestSelfAsync(address, timeout.Token).ConfigureAwait(false);
            return status.StartsWith("HTTP/", StringComparison.Ordinal) ? null : $"the HTTP self-check to {address} got no HTTP answer ('{status}')";
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return string.Create(CultureInfo.InvariantCulture, $"the HTTP self-check to {address} got no answer within {checkTime.TotalSeconds:0.0} s");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !stoppingToken.IsCancellationRequested)
        {
            return $"the HTTP self-check to {address} failed: {ex.Message}";
        }
    }

    [LoggerMessage(EventId = EventIds.SystemdWatchdog, EventName = "systemd_watchdog", Level = LogLevel.Information,
        Message = "systemd watchdog: WatchdogSec {WatchdogSeconds} s; pinging every {IntervalSeconds} s while the supervision loop runs and {Address} answers")]
    private static partial void LogWatchdog(ILogger logger, double watchdogSeconds, double intervalSeconds, string address);

    [LoggerMessage(EventId = EventIds.WatchdogWithheld, EventName = "watchdog_withheld", Level = LogLevel.Error,
        Message = "Not pinging the systemd watchdog: {Reason}; systemd restarts the agent if this lasts WatchdogSec")]
    private static partial void LogWithheld(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.WatchdogResumed, EventName = "watchdog_resumed", Level = LogLevel.Information,
        Message = "Pinging the systemd watchdog again")]
    private static partial void LogResumed(ILogger logger);
}

/// <summary>When the supervision loop (<see cref="BackgroundSampler"/>) last ran, for the watchdog.</summary>
internal sealed class SupervisorHeartbeat
{
    /// <summary>How old the last beat may be: three of the loop's 2 s ticks.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(6);

    private readonly TimeProvider _time;
    private long _last;

    public SupervisorHeartbeat(TimeProvider time)
    {
        _time = time;
        _last = time.GetTimestamp();
    }

    /// <summary>The loop ran now.</summary>
    public void Beat() => Volatile.Write(ref _last, _time.GetTimestamp());

    /// <summary>Time since the last beat.</summary>
    public TimeSpan Age => _time.GetElapsedTime(Volatile.Read(ref _last));
}

/// <summary>
/// Faults the integration tests switch on through <c>MONITOR_AGENT_TEST_FAULT</c>, to show what the watchdog does when
/// the agent itself is wedged. Not a supported setting: docs/testing.md lists it.
/// </summary>
/// <param name="WedgeSupervisorAfter"><c>wedge-supervisor-after=SECONDS</c>: the supervision loop stops ticking that long after start.</param>
internal sealed record TestFaults(TimeSpan? WedgeSupervisorAfter)
{
    /// <summary>The variable's name.</summary>
    public const string Variable = "MONITOR_AGENT_TEST_FAULT";

    /// <summary>No faults.</summary>
    public static TestFaults None { get; } = new((TimeSpan?)null);

    /// <summary>Reads <see cref="Variable"/>; an unknown or malformed value is an error, so a test cannot silently run without its fault.</summary>
    public static TestFaults Parse(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return None;
        }

        const string wedge = "wedge-supervisor-after=";
        if (value.StartsWith(wedge, StringComparison.Ordinal) &&
            double.TryParse(value.AsSpan(wedge.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) &&
            seconds >= 0 && seconds < 86400)
        {
            return new TestFaults(TimeSpan.FromSeconds(seconds));
        }

        throw new FormatException($"{Variable}='{value}' is not a known fault (wedge-supervisor-after=SECONDS)");
    }
}
