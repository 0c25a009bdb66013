using Monitor.Agent.Collectors.DiskStats;

namespace Monitor.Agent.Tests.Collectors.DiskStats;

public sealed class UdevDataParserTests
{
    [Fact]
    public void Parse_DatabaseEntry_ReadsOnlyDeviceProperties()
    {
        const string text = """
            S:disk/by-id/ata-Samsung_SSD
            W:12
            E:ID_MODEL=Samsung_SSD_860_EVO_1TB
            E:ID_SERIAL=Samsung_SSD_860_EVO_1TB_S3Z9
            E:ID_SERIAL_SHORT=S3Z9
            E:ID_ATA=1
            E:ID_ATA_ROTATION_RATE_RPM=0
            E:ID_PATH=pci-0000:00:17.0-ata-1
            G:systemd
            """;

        var udev = UdevDataParser.Parse(text);

        Assert.Equal(("Samsung_SSD_860_EVO_1TB", "S3Z9", "pci-0000:00:17.0-ata-1", "1"), (udev.Model, udev.SerialShort, udev.Path, udev.Ata));
        Assert.Equal("0", udev.AtaRotationRateRpm);
        Assert.Null(udev.AtaWriteCache);
        Assert.Equal("", udev.Wwn);
    }

    [Fact]
    public void Parse_ValueWithEqualsSignRepeatedKeyAndLineWithoutEquals_SplitsAtFirstEqualsAndKeepsLast()
    {
        var udev = UdevDataParser.Parse("E:DM_UUID=a=b\nE:ID_FS_TYPE=ext2\nE:ID_FS_TYPE=ext4\nE:DM_NAME\n");

        Assert.Equal("a=b", udev.DmUuid);
        Assert.Equal("ext4", udev.FsType);
        Assert.Equal("", udev.DmName);
    }

    [Fact]
    public void Parse_EmptyOrBinaryGarbage_ReturnsNoProperties()
    {
        Assert.Equal("", UdevDataParser.Parse("").Model);
        Assert.Equal("", UdevDataParser.Parse("\0\0\u00ff\n=\nE:").Model);
    }
}
