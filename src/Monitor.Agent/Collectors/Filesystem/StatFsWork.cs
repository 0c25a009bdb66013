using Monitor.Agent.Threading;
namespace Monitor.Agent.Collectors.Filesystem;

/// <summary>
/// One mount's <c>statfs</c> call, run through an <see cref="IsolatedCall"/> (its own short-lived thread, never
/// started again while in flight) so the collector can stop waiting for it and quarantine a mount whose call hangs,
/// as node_exporter's <c>stuckMounts</c> does.
/// </summary>
internal sealed class StatFsWork
{
    /// <summary>errno reported when the statfs implementation throws instead of returning one (EIO).</summary>
    internal const int ThrewErrno = 5;

    private readonly IStatFs _statFs;
    private readonly IsolatedCall _call;
    private FileSystemUsage _usage;
    private int _errno;

    public StatFsWork(IStatFs statFs, string path)
    {
        _statFs = statFs;
        Path = path;
        _call = new IsolatedCall(Execute, "statfs");
    }

    /// <summary>The rootfs-joined path handed to statfs.</summary>
    public string Path { get; }

    /// <summary>True from <see cref="Start"/> until the call returns.</summary>
    public bool IsInFlight => _call.IsInFlight;

    /// <summary>True once the collector gave up waiting on the current call and reported the mount as stuck.</summary>
    public bool Stuck
    {
        get => _call.Stuck;
        set => _call.Stuck = value;
    }

    /// <summary>Queues the call. Only call when not <see cref="IsInFlight"/>.</summary>
    public void Start() => _call.Start();

    /// <summary>Waits for the call up to <paramref name="timeout"/>; true when it returned.</summary>
    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken) => _call.Wait(timeout, cancellationToken);

    /// <summary>The result of the last finished call: 0 and the usage, or an errno. Only valid when not in flight.</summary>
    public int Result(out FileSystemUsage usage)
    {
        usage = _usage;
        return _errno;
    }

    /// <summary>Runs the call; a statfs that throws is reported as EIO.</summary>
    private void Execute()
    {
        try
        {
            _errno = _statFs.StatFs(Path, out _usage);
        }
#pragma warning disable CA1031 // Any failure is this mount's device_error.
        catch (Exception)
#pragma warning restore CA1031
        {
            _errno = ThrewErrno;
            _usage = default;
        }
    }
}
