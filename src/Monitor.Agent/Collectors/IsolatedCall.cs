namespace Monitor.Agent.Collectors;

/// <summary>
/// A blocking kernel call (statfs on a mount, the sysfs reads of one InfiniBand device) run on its own short-lived
/// thread, so the collector can stop waiting for it. Not the thread pool: a hung call would hold a pool thread, and
/// on a 2-core node two hung calls starve the pool (Kestrel included) until it injects more threads. A thread per
/// call costs tens of microseconds, paid only in background updates. While a call is in flight
/// (<see cref="IsInFlight"/>) it is never started again: a source whose call outlived the timeout is quarantined until
/// that call returns, as node_exporter's <c>stuckMounts</c> does, so a hung source holds at most one thread no matter
/// how many updates run.
/// </summary>
/// <remarks>The call publishes its results in fields of its own; they are valid once <see cref="Wait"/> returned true.</remarks>
#pragma warning disable CA1001 // The event is only waited on through Wait, which never creates a kernel handle, so there is nothing to dispose.
internal sealed class IsolatedCall
#pragma warning restore CA1001
{
    /// <summary>The calls need almost no stack; a small one keeps a stuck thread cheap.</summary>
    private const int StackSize = 128 * 1024;

    private readonly Action _call;
    private readonly string _threadName;
    private readonly ManualResetEventSlim _done = new(initialState: true, spinCount: 0);

    /// <summary>Wraps <paramref name="call"/>, which must not throw (an exception it lets out is kept in <see cref="Fault"/>).</summary>
    public IsolatedCall(Action call, string threadName)
    {
        _call = call;
        _threadName = threadName;
    }

    /// <summary>True from <see cref="Start"/> until the call returns.</summary>
    public bool IsInFlight => !_done.IsSet;

    /// <summary>True once the collector gave up waiting on the current call and reported the source as stuck.</summary>
    public bool Stuck { get; set; }

    /// <summary>The exception the last finished call threw, if any. Only valid when not in flight.</summary>
    public Exception? Fault { get; private set; }

    /// <summary>Starts the call on a new thread. Only call when not <see cref="IsInFlight"/>.</summary>
    public void Start()
    {
        _done.Reset();
        var thread = new Thread(Execute, StackSize) { IsBackground = true, Name = _threadName };
        thread.UnsafeStart();
    }

    /// <summary>Waits for the call up to <paramref name="timeout"/>; true when it returned.</summary>
    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken) =>
        _done.IsSet || (timeout > TimeSpan.Zero && _done.Wait(timeout, cancellationToken));

    private void Execute()
    {
        try
        {
            Fault = null;
            _call();
        }
#pragma warning disable CA1031 // The thread must not die with an exception; the owner turns it into this source's error.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fault = ex;
        }
        finally
        {
            // Set publishes the call's results to the waiting collector (it is a full fence).
            _done.Set();
        }
    }
}
