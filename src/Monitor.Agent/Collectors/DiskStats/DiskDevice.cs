using System.Globalization;

namespace Monitor.Agent.Collectors.DiskStats;

/// <summary>
/// What the diskstats collector keeps about one block device between scrapes: its label strings and its udev
/// properties, re-parsed only when the udev file's content changes, so a steady-state scrape builds no strings.
/// </summary>
internal sealed class DiskDevice
{
    public DiskDevice(string name, uint major, uint minor, string udevDataDirectory)
    {
        Name = name;
        Major = major;
        Minor = minor;
        MajorLabel = major.ToString(CultureInfo.InvariantCulture);
        MinorLabel = minor.ToString(CultureInfo.InvariantCulture);
        UdevPath = Path.Join(udevDataDirectory, $"b{MajorLabel}:{MinorLabel}");
        SetUdev(null, UdevProperties.Empty);
    }

    /// <summary>Kernel device name, e.g. <c>nvme0n1</c>.</summary>
    public string Name { get; }

    /// <summary>Major number.</summary>
    public uint Major { get; }

    /// <summary>Minor number.</summary>
    public uint Minor { get; }

    /// <summary>Major number as a label value.</summary>
    public string MajorLabel { get; }

    /// <summary>Minor number as a label value.</summary>
    public string MinorLabel { get; }

    /// <summary>The device's udev database file.</summary>
    public string UdevPath { get; }

    /// <summary>The udev file content the properties were parsed from; null when the file was missing.</summary>
    public string? UdevText { get; private set; }

    /// <summary>Parsed udev properties.</summary>
    public UdevProperties Udev { get; private set; } = UdevProperties.Empty;

    /// <summary><c>node_disk_info</c> label values: device, major, minor, path, wwn, model, serial, revision.</summary>
    public string[] InfoLabels { get; private set; } = [];

    /// <summary><c>node_disk_filesystem_info</c> label values, or null when udev has no <c>ID_FS_TYPE</c>.</summary>
    public string[]? FilesystemLabels { get; private set; }

    /// <summary><c>node_disk_device_mapper_info</c> label values, or null when udev has no <c>DM_NAME</c>.</summary>
    public string[]? DeviceMapperLabels { get; private set; }

    /// <summary>The update this device was last seen in; devices not seen are dropped.</summary>
    public long LastSeen { get; set; }

    /// <summary>Replaces the udev properties and rebuilds the label arrays.</summary>
    public void SetUdev(string? text, UdevProperties udev)
    {
        UdevText = text;
        Udev = udev;
        InfoLabels = [Name, MajorLabel, MinorLabel, udev.Path, udev.Wwn, udev.Model, udev.SerialShort, udev.Revision];
        FilesystemLabels = udev.FsType.Length > 0 ? [Name, udev.FsType, udev.FsUsage, udev.FsUuid, udev.FsVersion] : null;
        DeviceMapperLabels = udev.DmName.Length > 0 ? [Name, udev.DmName, udev.DmUuid, udev.DmVgName, udev.DmLvName, udev.DmLvLayer] : null;
    }
}
