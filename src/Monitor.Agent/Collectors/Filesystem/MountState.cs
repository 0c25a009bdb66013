namespace Monitor.Agent.Collectors.Filesystem;

/// <summary>
/// What the collector remembers about one mountinfo line, so an unchanged line is not parsed, unescaped or matched
/// against the exclude regexes again: its labels, the exclusion decision and the rootfs-joined path.
/// </summary>
internal sealed class MountState
{
    public MountState(MountEntry entry, string mountPoint, bool excluded, string statPath)
    {
        Device = entry.Device;
        MountPoint = mountPoint;
        FsType = entry.FsType;
        ReadOnly = entry.IsReadOnly;
        Excluded = excluded;
        StatPath = statPath;
        LabelKey = string.Join('\0', Device, MountPoint, FsType);
    }

    /// <summary>A line that could not be parsed: remembered so it is logged once, and skipped.</summary>
    private MountState()
    {
        Device = MountPoint = FsType = StatPath = LabelKey = string.Empty;
        Excluded = true;
    }

    /// <summary>The state of a malformed line.</summary>
    public static MountState CreateMalformed() => new();

    /// <summary><c>device</c> label.</summary>
    public string Device { get; }

    /// <summary><c>mountpoint</c> label (rootfs prefix stripped, escapes decoded).</summary>
    public string MountPoint { get; }

    /// <summary><c>fstype</c> label.</summary>
    public string FsType { get; }

    /// <summary>Whether <c>ro</c> is among the options.</summary>
    public bool ReadOnly { get; }

    /// <summary>Excluded by mount-points-exclude or fs-types-exclude (or malformed).</summary>
    public bool Excluded { get; }

    /// <summary>The path statfs is called on (rootfs joined with the mount point).</summary>
    public string StatPath { get; }

    /// <summary>The label set, for de-duplicating mounts listed twice.</summary>
    public string LabelKey { get; }

    /// <summary>The update that last saw this line.</summary>
    public long LastSeen { get; set; }
}
