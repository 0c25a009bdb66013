using Monitor.Agent.Collectors.Filesystem;

namespace Monitor.Agent.Tests.Collectors.Filesystem;

public sealed class MountInfoParserTests
{
    [Fact]
    public void ParseLine_WithOptionalFields_ReadsFieldsAfterSeparator()
    {
        var result = MountInfoParser.ParseLine("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue");

        Assert.True(result.Success, result.Error);
        Assert.Equal(new MountEntry("/dev/root", "/mnt2", "ext3", "rw,noatime", "rw,errors=continue"), result.Value);
    }

    [Fact]
    public void ParseLine_WithoutOptionalFields_ReadsFieldsAfterSeparator()
    {
        var result = MountInfoParser.ParseLine("26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard");

        Assert.True(result.Success, result.Error);
        Assert.Equal("/", result.Value.MountPoint);
        Assert.Equal("ext4", result.Value.FsType);
        Assert.Equal("/dev/vda", result.Value.Device);
    }

    [Theory]
    [InlineData(@"/srv/my\040data", "/srv/my data")]
    [InlineData(@"/mnt/tab\011here", "/mnt/tab\there")]
    [InlineData(@"/mnt/back\134slash", @"/mnt/back\slash")]
    [InlineData(@"/mnt/caf\303\251", "/mnt/café")]
    [InlineData(@"/mnt/not\04escape", @"/mnt/not\04escape")]
    public void ParseLine_EscapedMountPoint_IsDecoded(string raw, string expected)
    {
        var result = MountInfoParser.ParseLine($"35 27 8:17 / {raw} ro,relatime shared:33 - xfs /dev/sdb1 ro");

        Assert.True(result.Success, result.Error);
        Assert.Equal(expected, result.Value.MountPoint);
    }

    [Theory]
    [InlineData("rw,relatime", "rw", false)]
    [InlineData("ro,relatime", "rw", true)]
    [InlineData("rw,relatime", "ro,attr2", true)]
    [InlineData("rw,errors=remount-ro", "rw", false)]
    public void IsReadOnly_RoInMountOrSuperOptions_IsTrue(string mountOptions, string superOptions, bool expected) =>
        Assert.Equal(expected, new MountEntry("d", "/", "ext4", mountOptions, superOptions).IsReadOnly);

    [Fact]
    public void ParseLine_MissingSuperOptions_ParsesWithEmptySuperOptions()
    {
        var result = MountInfoParser.ParseLine("40 1 0:50 / /x rw - tmpfs tmpfs");

        Assert.True(result.Success, result.Error);
        Assert.Equal(string.Empty, result.Value.SuperOptions);
    }

    [Theory]
    [InlineData("", "found 0")]
    [InlineData("36 35 98:0 /mnt1", "found 4")]
    [InlineData("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1", "separator")]
    [InlineData("36 35 98:0 /mnt1 /mnt2 rw,noatime -", "filesystem type")]
    [InlineData("36 35 98:0 /mnt1 /mnt2 rw,noatime - ext4", "filesystem type")]
    [InlineData(@"36 35 98:0 / /bad\777 rw - ext4 /dev/sda rw", "bad escape")]
    public void ParseLine_Malformed_FailsWithReason(string line, string reason)
    {
        var result = MountInfoParser.ParseLine(line);

        Assert.False(result.Success);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_FixtureFile_ReadsEveryLine()
    {
        var text = File.ReadAllText(Monitor.Testing.Fixtures.Path("host", "proc", "1", "mountinfo"));

        var result = MountInfoParser.Parse(text);

        Assert.True(result.Success, result.Error);
        Assert.Equal(20, result.Value!.Count);
        Assert.Contains(result.Value, m => m.MountPoint == "/srv/my data" && m.IsReadOnly);
    }

    [Fact]
    public void Parse_EmptyFile_ReturnsNoMounts()
    {
        var result = MountInfoParser.Parse(string.Empty);

        Assert.True(result.Success);
        Assert.Empty(result.Value!);
    }

    [Fact]
    public void Parse_TruncatedLastLine_FailsNamingTheLine()
    {
        var result = MountInfoParser.Parse("26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n27 26 0:24 / /run rw,nosu");

        Assert.False(result.Success);
        Assert.StartsWith("line 2:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_HugeLine_FailsWithoutThrowing()
    {
        var result = MountInfoParser.Parse(new string('9', 1 << 20));

        Assert.False(result.Success);
    }
}
