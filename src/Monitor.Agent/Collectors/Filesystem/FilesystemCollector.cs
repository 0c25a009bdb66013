using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Configuration;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Filesystem;

/// <summary>
/// node_exporter's filesystem collector (1.5.0 output): <c>node_filesystem_{size,free,avail}_bytes</c>,
/// <c>node_filesystem_{files,files_free}</c>, <c>node_filesystem_readonly</c> and
/// <c>node_filesystem_device_error</c>, labelled <c>{device,fstype,mountpoint}</c>, for every mount in
/// <c>/proc/1/mountinfo</c> not excluded by mount point or filesystem type.
/// </summary>
/// <remarks>
/// <para>
/// statfs runs on its own thread per call and the update waits at most <c>mount-timeout</c> for all of them together. A mount
/// that does not answer in time is reported with <c>device_error 1</c> and quarantined: it is not statfs'ed again
/// until the stuck call returns (node_exporter's <c>stuckMounts</c>). So a hung NFS server costs one blocked thread
/// per mount, never a blocked update. Unlike 1.5.0, whose scrape itself waited on the first hung call, an update
/// here returns after the timeout.
/// </para>
/// <para>
/// Like 1.5.0, a mount whose statfs failed or is stuck has only <c>device_error</c>; the other families are left out.
/// 1.5.0 has no <c>device_error</c> label (added upstream in 1.8.0), so none is emitted.
/// </para>
/// </remarks>
internal sealed class FilesystemCollector : ICollector
{
    /// <summary>node_exporter 1.5.0's default <c>--collector.filesystem.mount-points-exclude</c> (upstream, not Debian's patch).</summary>
    public const string DefaultMountPointsExclude = "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

    /// <summary>node_exporter 1.5.0's default <c>--collector.filesystem.fs-types-exclude</c>.</summary>
    public const string DefaultFsTypesExclude =
        "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

    /// <summary>node_exporter's default <c>--collector.filesystem.mount-timeout</c>.</summary>
    public const string DefaultMountTimeout = "5s";

    private static readonly string[] Labels = ["device", "fstype", "mountpoint"];

    private readonly TextFileReader _reader = new(longRecords: true);
    private readonly string _mountInfoPath;
    private readonly string _selfMountInfoPath;
    private readonly HostPaths _paths;
    private readonly Regex _mountPointsExclude;
    private readonly Regex _fsTypesExclude;
    private readonly TimeSpan _timeout;
    private readonly IStatFs _statFs;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    private readonly Dictionary<string, MountState> _lines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MountState>.AlternateLookup<ReadOnlySpan<char>> _lineLookup;
    private readonly Dictionary<string, StatFsWork> _work = new(StringComparer.Ordinal);
    private readonly HashSet<string> _labelSets = new(StringComparer.Ordinal);
    private readonly List<(MountState Mount, StatFsWork Work, bool Started)> _batch = [];
    private readonly List<string> _stale = [];
    private long _generation;

    private readonly MetricFamily _size;
    private readonly MetricFamily _free;
    private readonly MetricFamily _avail;
    private readonly MetricFamily _files;
    private readonly MetricFamily _filesFree;
    private readonly MetricFamily _readOnly;
    private readonly MetricFamily _deviceError;

    /// <summary>Creates the collector with the real libc statfs.</summary>
    public FilesystemCollector(CollectorContext context)
        : this(context, LibcStatFs.Instance)
    {
    }

    /// <summary>Creates the collector with a given statfs (tests inject blocking or failing ones).</summary>
    public FilesystemCollector(CollectorContext context, IStatFs statFs)
    {
        ArgumentNullException.ThrowIfNull(context);
        _paths = context.Paths;
        _mountInfoPath = context.Paths.Proc("1/mountinfo");
        _selfMountInfoPath = context.Paths.Proc("self/mountinfo");
        _statFs = statFs;
        _time = context.Time;
        _logger = context.Logger;
        _lineLookup = _lines.GetAlternateLookup<ReadOnlySpan<char>>();

        _mountPointsExclude = CompileFlag(context, "mount-points-exclude", DefaultMountPointsExclude);
        _fsTypesExclude = CompileFlag(context, "fs-types-exclude", DefaultFsTypesExclude);
        _timeout = context.PositiveDuration("mount-timeout", DefaultMountTimeout);

        var g = context.Group;
        _size = g.Gauge("node_filesystem_size_bytes", "Filesystem size in bytes.", Labels);
        _free = g.Gauge("node_filesystem_free_bytes", "Filesystem free space in bytes.", Labels);
        _avail = g.Gauge("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", Labels);
        _files = g.Gauge("node_filesystem_files", "Filesystem total file nodes.", Labels);
        _filesFree = g.Gauge("node_filesystem_files_free", "Filesystem total free file nodes.", Labels);
        _readOnly = g.Gauge("node_filesystem_readonly", "Filesystem read-only status.", Labels);
        _deviceError = g.Gauge("node_filesystem_device_error", "Whether an error occurred while getting statistics for the given device.", Labels);
    }

    /// <summary>Registration: enabled by default, sampled in the background because statfs can hang.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "filesystem",
        "Filesystem usage (statfs) for mounts in /proc/1/mountinfo.",
        true,
        Cadence.Background,
        TimeSpan.FromSeconds(10),
        c => new FilesystemCollector(c),
        [
            new CollectorFlag("mount-points-exclude", DefaultMountPointsExclude, "Regexp of mount points to exclude for filesystem collector.", FlagKind.Regex),
            new CollectorFlag("fs-types-exclude", DefaultFsTypesExclude, "Regexp of filesystem types to exclude for filesystem collector.", FlagKind.Regex),
            new CollectorFlag("mount-timeout", DefaultMountTimeout, "How long to wait for a mount to respond before marking it as stale.", FlagKind.Duration),
        ]);

    /// <inheritdoc/>
    public void Update(CancellationToken cancellationToken)
    {
        var generation = ++_generation;
        var text = ReadMountInfo();
        _batch.Clear();
        _labelSets.Clear();

        var lines = new LineReader(text);
        while (lines.TryNext(out var line))
        {
            if (line.IsWhiteSpace())
            {
                continue;
            }

            var mount = Resolve(line);
            mount.LastSeen = generation;

            // A mount listed twice (bind mounts, a re-mount over itself) is exposed once, as node_exporter does.
            if (mount.Excluded || !_labelSets.Add(mount.LabelKey))
            {
                continue;
            }

            if (!_work.TryGetValue(mount.StatPath, out var work))
            {
                work = new StatFsWork(_statFs, mount.StatPath);
                _work.Add(mount.StatPath, work);
            }

            if (work.IsInFlight)
            {
                // Quarantined: the call that timed out earlier has not returned. Do not wait on it and do not
                // start another, so a hung server never piles up threads or slows the update down.
                work.Stuck = true;
                SetError(mount);
                _batch.Add((mount, work, false));
                continue;
            }

            if (work.Stuck)
            {
                work.Stuck = false;
                FilesystemLog.MountRecovered(_logger, mount.MountPoint);
            }

            work.Start();
            _batch.Add((mount, work, true));
        }

        // One deadline for all calls: they run in parallel, so the update waits at most mount-timeout in all.
        var started = _time.GetTimestamp();
        foreach (var (mount, work, waitFor) in _batch)
        {
            if (!waitFor)
            {
                continue;
            }

            var remaining = _timeout - _time.GetElapsedTime(started);
            if (!work.Wait(remaining, cancellationToken))
            {
                if (!work.Stuck)
                {
                    work.Stuck = true;
                    FilesystemLog.MountStuck(_logger, mount.MountPoint, _timeout);
                }

                SetError(mount);
                continue;
            }

            var errno = work.Result(out var usage);
            if (errno != 0)
            {
                FilesystemLog.StatFsFailed(_logger, mount.StatPath, errno);
                SetError(mount);
                continue;
            }

            _deviceError.Get(mount.Device, mount.FsType, mount.MountPoint).Set(0);
            _readOnly.Get(mount.Device, mount.FsType, mount.MountPoint).Set(mount.ReadOnly ? 1 : 0);
            _size.Get(mount.Device, mount.FsType, mount.MountPoint).Set((double)usage.Blocks * usage.BlockSize);
            _free.Get(mount.Device, mount.FsType, mount.MountPoint).Set((double)usage.BlocksFree * usage.BlockSize);
            _avail.Get(mount.Device, mount.FsType, mount.MountPoint).Set((double)usage.BlocksAvailable * usage.BlockSize);
            _files.Get(mount.Device, mount.FsType, mount.MountPoint).Set(usage.Files);
            _filesFree.Get(mount.Device, mount.FsType, mount.MountPoint).Set(usage.FilesFree);
        }

        Prune(generation);
    }

    private static Regex CompileFlag(CollectorContext context, string flag, string fallback)
    {
        var pattern = context.Settings[flag] ?? fallback;
        try
        {
            // Go's RE2 syntax for these patterns is a subset of .NET's; matching is unanchored as in Go.
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Collectors:filesystem:{flag}: '{pattern}' is not a valid regular expression: {ex.Message}", nameof(context), ex);
        }
    }

    private void SetError(MountState mount) =>
        _deviceError.Get(mount.Device, mount.FsType, mount.MountPoint).Set(1);

    private ReadOnlySpan<char> ReadMountInfo()
    {
        try
        {
            return _reader.ReadAll(_mountInfoPath);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            // hidepid hides /proc/1 (ENOENT) or its files (EACCES); our own mount namespace is the next best view.
            return _reader.ReadAll(_selfMountInfoPath);
        }
    }

    /// <summary>The remembered state of a line, parsing and matching it only the first time it is seen.</summary>
    private MountState Resolve(ReadOnlySpan<char> line)
    {
        if (_lineLookup.TryGetValue(line, out var known))
        {
            return known;
        }

        var key = line.ToString();
        var parsed = MountInfoParser.ParseLine(line);
        MountState state;
        if (!parsed.Success)
        {
            FilesystemLog.MalformedLine(_logger, key, parsed.Error!);
            state = MountState.CreateMalformed();
        }
        else
        {
            var entry = parsed.Value;
            var mountPoint = StripRootfsPrefix(entry.MountPoint);
            var excluded = _mountPointsExclude.IsMatch(mountPoint) || _fsTypesExclude.IsMatch(entry.FsType);
            state = new MountState(entry, mountPoint, excluded, _paths.Root(mountPoint));
        }

        _lines.Add(key, state);
        return state;
    }

    /// <summary>
    /// node_exporter's <c>rootfsStripPrefix</c>: when the agent runs in a container with the host at
    /// <c>--path.rootfs</c>, mounts listed under it are reported with their host paths.
    /// </summary>
    private string StripRootfsPrefix(string mountPoint)
    {
        var rootfs = _paths.Rootfs;
        if (rootfs == "/" || !mountPoint.StartsWith(rootfs, StringComparison.Ordinal))
        {
            return mountPoint;
        }

        var stripped = mountPoint[rootfs.Length..];
        return stripped.Length == 0 ? "/" : stripped;
    }

    private void Prune(long generation)
    {
        _stale.Clear();
        foreach (var (key, state) in _lines)
        {
            if (state.LastSeen != generation)
            {
                _stale.Add(key);
            }
        }

        foreach (var key in _stale)
        {
            _lines.Remove(key);
        }

        if (_work.Count == _batch.Count)
        {
            return;
        }

        _stale.Clear();
        foreach (var (path, _) in _work)
        {
            if (!_batch.Exists(b => b.Mount.StatPath == path))
            {
                // A call still in flight keeps running; its result is simply never read.
                _stale.Add(path);
            }
        }

        foreach (var path in _stale)
        {
            _work.Remove(path);
        }
    }
}
