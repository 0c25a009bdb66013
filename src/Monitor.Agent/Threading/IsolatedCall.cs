namespace Monitor.Agent.Threading;

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
    /// <summary>The thread's stack: the calls need almost no stack, and a small one keeps a stuck thread cheap.</summary>
    public int StackSize { get; init; } = 128 * 1024;

    private readonly Action _call;
    private readonly string _threadName;
    private static readonly TimeSpan IdleExit = TimeSpan.FromMinutes(1);

    private readonly ManualResetEventSlim _done = new(initialState: true, spinCount: 0);
    private readonly SemaphoreSlim _go = new(0);
    private readonly Lock _threadLock = new();
    private bool _threadAlive;

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

    /// <summary>
    /// Keep the thread between calls (it exits after a minute without one) instead of starting one per call: for
    /// sources read every few seconds with few instances (InfiniBand devices), where the thread start was a third of
    /// an update. Mounts keep the per-call thread: there can be many, and statfs runs less often.
    /// </summary>
    public bool Persistent { get; init; }

    /// <summary>Starts the call on its thread. Only call when not <see cref="IsInFlight"/>.</summary>
    public void Start()
    {
        _done.Reset();
        if (!Persistent)
        {
            var thread = new Thread(Execute, StackSize) { IsBackground = true, Name = _threadName };
            thread.UnsafeStart();
            return;
        }

        lock (_threadLock)
        {
            _go.Release();
            if (!_threadAlive)
            {
                _threadAlive = true;
                new Thread(Run, StackSize) { IsBackground = true, Name = _threadName }.UnsafeStart();
            }
        }
    }

    private void Run()
    {
        while (true)
        {
            if (_go.Wait(IdleExit))
            {
                Execute();
                continue;
            }

            lock (_threadLock)
            {
                if (_go.CurrentCount == 0)
                {
                    _threadAlive = false;
                    return;
                }
            }
        }
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
