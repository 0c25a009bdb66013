namespace Monitor.Agent.Collectors.DiskStats;

/// <summary>
/// Parses a udev database entry (<c>/run/udev/data/b8:0</c>): lines <c>E:KEY=VALUE</c> are device properties, every
/// other line (<c>S:</c> symlinks, <c>I:</c>, <c>G:</c> tags…) is skipped, as are property lines without <c>=</c>.
/// A property given twice keeps its last value. This cannot fail, so it returns the properties directly.
/// </summary>
internal static class UdevDataParser
{
    /// <summary>Parses the file content; never throws.</summary>
    public static UdevProperties Parse(ReadOnlySpan<char> text)
    {
        string path = "", wwn = "", model = "", serialShort = "", revision = "";
        string fsType = "", fsUsage = "", fsUuid = "", fsVersion = "";
        string dmName = "", dmUuid = "", dmVgName = "", dmLvName = "", dmLvLayer = "", ata = "";
        string? writeCache = null, writeCacheEnabled = null, rotationRate = null;

        var lines = new Parsing.LineReader(text);
        while (lines.TryNext(out var line))
        {
            if (!line.StartsWith("E:", StringComparison.Ordinal))
            {
                continue;
            }

            var property = line[2..];
            var eq = property.IndexOf('=');
            if (eq < 0)
            {
                continue;
            }

            var key = property[..eq];
            var value = property[(eq + 1)..];
            switch (key)
            {
                case "ID_PATH": path = value.ToString(); break;
                case "ID_WWN": wwn = value.ToString(); break;
                case "ID_MODEL": model = value.ToString(); break;
                case "ID_SERIAL_SHORT": serialShort = value.ToString(); break;
                case "ID_REVISION": revision = value.ToString(); break;
                case "ID_FS_TYPE": fsType = value.ToString(); break;
                case "ID_FS_USAGE": fsUsage = value.ToString(); break;
                case "ID_FS_UUID": fsUuid = value.ToString(); break;
                case "ID_FS_VERSION": fsVersion = value.ToString(); break;
                case "DM_NAME": dmName = value.ToString(); break;
                case "DM_UUID": dmUuid = value.ToString(); break;
                case "DM_VG_NAME": dmVgName = value.ToString(); break;
                case "DM_LV_NAME": dmLvName = value.ToString(); break;
                case "DM_LV_LAYER": dmLvLayer = value.ToString(); break;
                case "ID_ATA": ata = value.ToString(); break;
                case "ID_ATA_WRITE_CACHE": writeCache = value.ToString(); break;
                case "ID_ATA_WRITE_CACHE_ENABLED": writeCacheEnabled = value.ToString(); break;
                case "ID_ATA_ROTATION_RATE_RPM": rotationRate = value.ToString(); break;
                default: break;
            }
        }

        return new UdevProperties
        {
            Path = path, Wwn = wwn, Model = model, SerialShort = serialShort, Revision = revision,
            FsType = fsType, FsUsage = fsUsage, FsUuid = fsUuid, FsVersion = fsVersion,
            DmName = dmName, DmUuid = dmUuid, DmVgName = dmVgName, DmLvName = dmLvName, DmLvLayer = dmLvLayer,
            Ata = ata, AtaWriteCache = writeCache, AtaWriteCacheEnabled = writeCacheEnabled, AtaRotationRateRpm = rotationRate,
        };
    }
}
