using Monitor.Agent.Collectors.MemInfo;

namespace Monitor.Agent.Tests.Collectors.MemInfo;

public sealed class MemInfoParserTests
{
    [Fact]
    public void Parse_NormalLines_ReturnsNamesValuesAndUnits()
    {
        const string text = "MemTotal:        3742148 kB\nActive(anon):       3556 kB\nHugePages_Total:      16\n";
        var fields = new List<MemInfoField>();

        var result = MemInfoParser.Parse(text, fields);

        Assert.True(result.Success, result.Error);
        Assert.Equal(3, result.Value);
        Assert.Equal(["MemTotal", "Active(anon)", "HugePages_Total"], fields.Select(f => text[f.Name]));
        Assert.Equal([3742148UL, 3556UL, 16UL], fields.Select(f => f.Value));
        Assert.Equal([true, true, false], fields.Select(f => f.InKibibytes));
    }

    [Fact]
    public void Parse_OldKernelWithoutMemAvailableAndBlankLine_ReturnsWhatIsThere()
    {
        // Kernels before 3.14 have no MemAvailable; some CentOS 6 kernels print blank lines.
        const string text = "MemTotal:        1000 kB\n\nMemFree:          200 kB\n";
        var fields = new List<MemInfoField>();

        var result = MemInfoParser.Parse(text, fields);

        Assert.True(result.Success, result.Error);
        Assert.Equal(["MemTotal", "MemFree"], fields.Select(f => text[f.Name]));
    }

    [Fact]
    public void Parse_ReusedList_IsClearedFirst()
    {
        var fields = new List<MemInfoField>();
        MemInfoParser.Parse("A: 1 kB\nB: 2 kB\n", fields);

        MemInfoParser.Parse("C: 3 kB\n", fields);

        Assert.Single(fields);
    }

    [Theory]
    [InlineData("MemTotal:\n", "line 1 (MemTotal:): no value")]
    [InlineData("MemTotal: 12ab kB\n", "line 1 (MemTotal:): value is not an unsigned 64-bit integer: '12ab'")]
    [InlineData("MemTotal: 1 kB\nMemFree: 99999999999999999999 kB\n", "line 2 (MemFree:): value is not an unsigned 64-bit integer: '99999999999999999999'")]
    [InlineData("MemTotal: 1 MB\n", "line 1 (MemTotal:): unknown unit 'MB'")]
    [InlineData("MemTotal 1 kB\n", "line 1: expected '<name>:', found 'MemTotal'")]
    [InlineData("MemTotal: 1 kB extra\n", "line 1 (MemTotal:): unexpected text 'extra'")]
    [InlineData("", "no fields")]
    [InlineData("\n\n", "no fields")]
    public void Parse_MalformedInput_FailsNamingTheProblem(string text, string expected)
    {
        var result = MemInfoParser.Parse(text, []);

        Assert.False(result.Success);
        Assert.Equal(expected, result.Error);
    }

    [Theory]
    [InlineData("MemTotal", true, "node_memory_MemTotal_bytes")]
    [InlineData("Active(anon)", true, "node_memory_Active_anon_bytes")]
    [InlineData("Inactive(file)", true, "node_memory_Inactive_file_bytes")]
    [InlineData("HugePages_Total", false, "node_memory_HugePages_Total")]
    [InlineData("Hugepagesize", true, "node_memory_Hugepagesize_bytes")]
    public void MetricName_Field_IsNodeExporterName(string field, bool inKibibytes, string expected) =>
        Assert.Equal(expected, MemInfoParser.MetricName(field, inKibibytes));
}
