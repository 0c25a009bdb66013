using System.Runtime.InteropServices;
using Monitor.Agent.Collectors.Filesystem;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Selinux;

/// <summary>
/// node_exporter's selinux collector: <c>node_selinux_enabled</c>, and when SELinux is enabled
/// <c>node_selinux_config_mode</c> (SELINUX= of <c>/etc/selinux/config</c>: enforcing 1, permissive 0, else -1) and
/// <c>node_selinux_current_mode</c> (<c>&lt;selinuxfs&gt;/enforce</c>).
/// </summary>
/// <remarks>
/// As node_exporter 1.5.0 through opencontainers/go-selinux, it reads this machine, never <c>--path.*</c>, and decides
/// once whether SELinux is enabled: a writable selinuxfs (statfs magic 0xf97cff8c at <c>/sys/fs/selinux</c>, else the
/// selinuxfs mount of <c>/proc/self/mountinfo</c> when <c>/proc/filesystems</c> lists it) and a process label other than
/// <c>kernel</c>. Disabled: <c>node_selinux_enabled 0</c> only. The modes read -1 when their file cannot be read, as
/// go-selinux returns.
/// </remarks>
internal sealed partial class SelinuxCollector : ICollector
{
    private const long SelinuxMagic = 0xf97cff8c;
    private const long ReadOnlyFlag = 1; // ST_RDONLY

    private readonly TextFileReader _reader = new();
    private readonly MetricFamily _configMode;
    private readonly MetricFamily _currentMode;
    private readonly MetricFamily _enabled;
    private string? _selinuxfs;
    private bool _decided;
    private bool _isEnabled;

    public SelinuxCollector(CollectorContext context)
    {
        var g = context.Group;
        _configMode = g.Gauge("node_selinux_config_mode", "Configured SELinux enforcement mode");
        _currentMode = g.Gauge("node_selinux_current_mode", "Current SELinux enforcement mode");
        _enabled = g.Gauge("node_selinux_enabled", "SELinux is enabled, 1 is true, 0 is false");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "selinux", "SELinux status and enforcement modes (this machine's, not --path.*).", true, Cadence.OnScrape, TimeSpan.Zero,
        c => new SelinuxCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        if (!_decided)
        {
            _selinuxfs = FindSelinuxfs();
            _isEnabled = _selinuxfs is not null && CurrentLabel() is { } label && label != "kernel";
            _decided = true;
        }

        if (!_isEnabled)
        {
            _enabled.Get().Set(0);
            return;
        }

        _enabled.Get().Set(1);
        _configMode.Get().Set(ConfigMode());
        _currentMode.Get().Set(ReadNumber(Path.Join(_selinuxfs!, "enforce")));
    }

    private static string? FindSelinuxfs()
    {
        if (IsSelinuxfs("/sys/fs/selinux"))
        {
            return "/sys/fs/selinux";
        }

        string filesystems;
        try
        {
            filesystems = File.ReadAllText("/proc/filesystems");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        if (!filesystems.Contains("\tselinuxfs\n", StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                // ... mountpoint(5th) ... - fstype source options
                var fields = line.Split(' ');
                var dash = Array.IndexOf(fields, "-");
                if (fields.Length > 4 && dash > 0 && dash + 1 < fields.Length && fields[dash + 1] == "selinuxfs" && IsSelinuxfs(fields[4]))
                {
                    return fields[4];
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return null;
    }

    private static bool IsSelinuxfs(string path) =>
        StatFs(path, out var buffer) == 0 && (uint)buffer.Type == SelinuxMagic && (buffer.Flags & ReadOnlyFlag) == 0;

    private string? CurrentLabel()
    {
        foreach (var path in (string[])["/proc/thread-self/attr/current", $"/proc/self/task/{Environment.CurrentManagedThreadId}/attr/current"])
        {
            try
            {
                return _reader.ReadAll(path).TrimEnd("\n\0").ToString();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return null;
    }

    /// <summary>go-selinux's DefaultEnforceMode: SELINUX= in /etc/selinux/config.</summary>
    private double ConfigMode()
    {
        try
        {
            var lines = new LineReader(_reader.ReadAll("/etc/selinux/config"));
            while (lines.TryNext(out var line))
            {
                line = line.Trim();
                if (line.StartsWith("SELINUX="))
                {
                    return line[8..].Trim('"') switch
                    {
                        "enforcing" => 1,
                        "permissive" => 0,
                        _ => -1,
                    };
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return -1;
    }

    private double ReadNumber(string path)
    {
        try
        {
            return Numbers.TryParseInt64(_reader.ReadAll(path).Trim(), out var value) ? value : -1;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatFs(string path, out LibcStatFs.NativeStatFs buffer);
}
