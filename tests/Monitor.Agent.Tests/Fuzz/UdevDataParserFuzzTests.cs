using System.Text;
using CsCheck;
using Monitor.Agent.Collectors.DiskStats;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary><see cref="UdevDataParser"/>: any input returns properties without throwing; generated entries give back the last value of each property.</summary>
public sealed class UdevDataParserFuzzTests
{
    private static readonly string[] Seeds = HostFixture.Texts("run/udev/data", "*");

    private static readonly string[] Keys =
    [
        "ID_PATH", "ID_WWN", "ID_MODEL", "ID_SERIAL_SHORT", "ID_REVISION", "ID_FS_TYPE", "ID_FS_USAGE", "ID_FS_UUID", "ID_FS_VERSION",
        "DM_NAME", "DM_UUID", "DM_VG_NAME", "DM_LV_NAME", "DM_LV_LAYER", "ID_ATA", "ID_ATA_WRITE_CACHE", "ID_ATA_WRITE_CACHE_ENABLED",
        "ID_ATA_ROTATION_RATE_RPM", "ID_SERIAL", "ID_TYPE", "OTHER",
    ];

    [Fact]
    public void Parse_AnyText_ReturnsPropertiesWithinBounds() =>
        FuzzCheck.Run("UdevDataParser.Parse", FuzzGen.Text(Seeds), text => text.Length, text => UdevDataParser.Parse(text) is not null, ciIterations: 2_000);

    [Fact]
    public void Parse_GeneratedEntry_ReturnsLastValueOfEachProperty() =>
        FuzzCheck.Run(
            "UdevDataParser.Parse (generated)",
            Gen.Select(Gen.Int[0, Keys.Length - 1], Gen.String[Gen.Frequency((5, Gen.Char[' ', '~']), (1, Gen.Char['\u0080', '\u00ff'])), 0, 30], Gen.OneOf("E:", "E:", "E:", "S:", "I:", "G:", "")).Array[0, 40],
            lines => lines.Length,
            lines =>
            {
                var text = new StringBuilder();
                var expected = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var (key, value, prefix) in lines)
                {
                    text.Append(prefix).Append(Keys[key]).Append('=').Append(value).Append('\n');
                    if (prefix == "E:")
                    {
                        expected[Keys[key]] = value;
                    }
                }

                var udev = UdevDataParser.Parse(text.ToString());

                string Get(string key) => expected.GetValueOrDefault(key, "");
                Assert.Equal(
                    [Get("ID_PATH"), Get("ID_WWN"), Get("ID_MODEL"), Get("ID_SERIAL_SHORT"), Get("ID_REVISION"), Get("ID_FS_TYPE"), Get("ID_FS_USAGE"), Get("ID_FS_UUID"), Get("ID_FS_VERSION"), Get("DM_NAME"), Get("DM_UUID"), Get("DM_VG_NAME"), Get("DM_LV_NAME"), Get("DM_LV_LAYER"), Get("ID_ATA")],
                    [udev.Path, udev.Wwn, udev.Model, udev.SerialShort, udev.Revision, udev.FsType, udev.FsUsage, udev.FsUuid, udev.FsVersion, udev.DmName, udev.DmUuid, udev.DmVgName, udev.DmLvName, udev.DmLvLayer, udev.Ata]);
                Assert.Equal(expected.GetValueOrDefault("ID_ATA_WRITE_CACHE"), udev.AtaWriteCache);
                Assert.Equal(expected.GetValueOrDefault("ID_ATA_WRITE_CACHE_ENABLED"), udev.AtaWriteCacheEnabled);
                Assert.Equal(expected.GetValueOrDefault("ID_ATA_ROTATION_RATE_RPM"), udev.AtaRotationRateRpm);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);
}
