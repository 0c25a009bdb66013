namespace Monitor.Agent.Collectors.Filesystem;

/// <summary>
/// One mount's <c>statfs</c> call, run on its own short-lived thread so the collector can stop waiting for it.
/// Not the thread pool: a hung call would hold a pool thread, and on a 2-core node two hung mounts starve the
/// pool (Kestrel included) until it injects more threads. A thread per call costs tens of microseconds, paid only
/// in the background filesystem update. While a call
/// is in flight (<see cref="IsInFlight"/>) it is never queued again: a mount whose call outlived the timeout is
/// quarantined until that call returns, as node_exporter's <c>stuckMounts</c> does, so a dead NFS server holds at
/// most one thread per mount no matter how many updates run.
/// </summary>
#pragma warning disable CA1001 // The event is only waited on through Wait, which never creates a kernel handle, so there is nothing to dispose.
internal sealed class StatFsWork
#pragma warning restore CA1001
{
    /// <summary>errno reported when the statfs implementation throws instead of returning one (EIO).</summary>
    internal const int ThrewErrno = 5;

    /// <summary>statfs needs almost no stack; a small one keeps a stuck thread cheap.</summary>
    private const int StackSize = 128 * 1024;

    private readonly IStatFs _statFs;
    private readonly ManualResetEventSlim _done = new(initialState: true, spinCount: 0);
    private FileSystemUsage _usage;
    private int _errno;

    public StatFsWork(IStatFs statFs, string path)
    {
        _statFs = statFs;
        Path = path;
    }

    /// <summary>The rootfs-joined path handed to statfs.</summary>
    public string Path { get; }

    /// <summary>True from <see cref="Start"/> until the call returns.</summary>
    public bool IsInFlight => !_done.IsSet;

    /// <summary>True once the collector gave up waiting on the current call and reported the mount as stuck.</summary>
    public bool Stuck { get; set; }

    /// <summary>Queues the call. Only call when not <see cref="IsInFlight"/>.</summary>
    public void Start()
    {
        _done.Reset();
        var thread = new Thread(Execute, StackSize) { IsBackground = true, Name = "statfs" };
        thread.UnsafeStart();
    }

    /// <summary>Waits for the call up to <paramref name="timeout"/>; true when it returned.</summary>
    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken) =>
        _done.IsSet || (timeout > TimeSpan.Zero && _done.Wait(timeout, cancellationToken));

    /// <summary>The result of the last finished call: 0 and the usage, or an errno. Only valid when not in flight.</summary>
    public int Result(out FileSystemUsage usage)
    {
        usage = _usage;
        return _errno;
    }

    /// <summary>Runs the call and publishes its result.</summary>
    private void Execute()
    {
        try
        {
            _errno = _statFs.StatFs(Path, out _usage);
        }
#pragma warning disable CA1031 // The thread must not die with an exception; any failure is this mount's device_error.
        catch (Exception)
#pragma warning restore CA1031
        {
            _errno = ThrewErrno;
            _usage = default;
        }
        finally
        {
            // Set publishes _errno and _usage to the waiting collector (it is a full fence).
            _done.Set();
        }
    }
}
