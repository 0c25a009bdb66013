namespace Monitor.Agent.Collectors.DiskStats;

/// <summary>
/// The udev properties of a block device that node_exporter's diskstats collector turns into labels and ATA gauges,
/// from <c>/run/udev/data/b&lt;major&gt;:&lt;minor&gt;</c>. A property the file does not have is the empty string.
/// </summary>
internal sealed class UdevProperties
{
    /// <summary>No udev data.</summary>
    public static UdevProperties Empty { get; } = new();

    /// <summary><c>ID_PATH</c>.</summary>
    public string Path { get; init; } = "";

    /// <summary><c>ID_WWN</c>.</summary>
    public string Wwn { get; init; } = "";

    /// <summary><c>ID_MODEL</c>.</summary>
    public string Model { get; init; } = "";

    /// <summary><c>ID_SERIAL_SHORT</c> (node_exporter 1.5.0 uses neither ID_SERIAL nor SCSI_IDENT_SERIAL).</summary>
    public string SerialShort { get; init; } = "";

    /// <summary><c>ID_REVISION</c>.</summary>
    public string Revision { get; init; } = "";

    /// <summary><c>ID_FS_TYPE</c>; non-empty gives <c>node_disk_filesystem_info</c>.</summary>
    public string FsType { get; init; } = "";

    /// <summary><c>ID_FS_USAGE</c>.</summary>
    public string FsUsage { get; init; } = "";

    /// <summary><c>ID_FS_UUID</c>.</summary>
    public string FsUuid { get; init; } = "";

    /// <summary><c>ID_FS_VERSION</c>.</summary>
    public string FsVersion { get; init; } = "";

    /// <summary><c>DM_NAME</c>; non-empty gives <c>node_disk_device_mapper_info</c>.</summary>
    public string DmName { get; init; } = "";

    /// <summary><c>DM_UUID</c>.</summary>
    public string DmUuid { get; init; } = "";

    /// <summary><c>DM_VG_NAME</c>.</summary>
    public string DmVgName { get; init; } = "";

    /// <summary><c>DM_LV_NAME</c>.</summary>
    public string DmLvName { get; init; } = "";

    /// <summary><c>DM_LV_LAYER</c>.</summary>
    public string DmLvLayer { get; init; } = "";

    /// <summary><c>ID_ATA</c>; non-empty makes the ATA properties below count.</summary>
    public string Ata { get; init; } = "";

    /// <summary><c>ID_ATA_WRITE_CACHE</c>, or null when absent.</summary>
    public string? AtaWriteCache { get; init; }

    /// <summary><c>ID_ATA_WRITE_CACHE_ENABLED</c>, or null when absent.</summary>
    public string? AtaWriteCacheEnabled { get; init; }

    /// <summary><c>ID_ATA_ROTATION_RATE_RPM</c>, or null when absent.</summary>
    public string? AtaRotationRateRpm { get; init; }
}
