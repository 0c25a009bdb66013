using Monitor.Agent.Collectors.Cpu;

namespace Monitor.Agent.Tests.Collectors.Cpu;

public sealed class CpuParserTests
{
    [Fact]
    public void Parse_CurrentKernelTenColumns_ReturnsEveryColumn()
    {
        var cpus = new List<CpuTicks>();

        var result = CpuParser.Parse("cpu  9 9 9 9 9 9 9 9 9 9\ncpu0 601812 780 198201 15901345 18231 0 14120 1301 46001 5\nintr 1 2\n", cpus);

        Assert.True(result.Success, result.Error);
        Assert.Equal(new CpuTicks(0, 601812, 780, 198201, 15901345, 18231, 0, 14120, 1301, 46001, 5), Assert.Single(cpus));
    }

    [Theory]
    [InlineData("cpu3 10 20 30 40", 0UL, 0UL, 0UL)] // 2.4: user nice system idle
    [InlineData("cpu3 10 20 30 40 50 60 70", 50UL, 70UL, 0UL)] // 2.6.0: + iowait irq softirq
    [InlineData("cpu3 10 20 30 40 50 60 70 80 90", 50UL, 70UL, 90UL)] // 2.6.24: + steal guest
    public void Parse_OlderKernelWithFewerColumns_MissingColumnsAreZero(string line, ulong iowait, ulong softirq, ulong guest)
    {
        var cpus = new List<CpuTicks>();

        var result = CpuParser.Parse(line, cpus);

        Assert.True(result.Success, result.Error);
        var cpu = Assert.Single(cpus);
        Assert.Equal((3, 10UL, 20UL, 30UL, 40UL), (cpu.Cpu, cpu.User, cpu.Nice, cpu.System, cpu.Idle));
        Assert.Equal((iowait, softirq, guest, 0UL), (cpu.Iowait, cpu.SoftIrq, cpu.Guest, cpu.GuestNice));
    }

    [Fact]
    public void Parse_ExtraColumnsFromAFutureKernel_AreIgnored()
    {
        var cpus = new List<CpuTicks>();

        var result = CpuParser.Parse("cpu1 1 2 3 4 5 6 7 8 9 10 11 12\n", cpus);

        Assert.True(result.Success, result.Error);
        Assert.Equal(10UL, cpus[0].GuestNice);
    }

    [Fact]
    public void Parse_OfflineCpuGap_ReturnsOnlyPresentCpus()
    {
        var cpus = new List<CpuTicks>();

        CpuParser.Parse("cpu0 1 1 1 1\ncpu2 2 2 2 2\n", cpus);

        Assert.Equal([0, 2], cpus.Select(c => c.Cpu));
    }

    [Theory]
    [InlineData("cpu0 1 2\n", "cpu0: expected at least 4 columns, found 2")]
    [InlineData("cpu0 1 2 x 4\n", "cpu0: column 3 is not an unsigned 64-bit integer: 'x'")]
    [InlineData("cpu0 1 2 3 18446744073709551616\n", "cpu0: column 4 is not an unsigned 64-bit integer: '18446744073709551616'")]
    [InlineData("cpuX 1 2 3 4\n", "'cpuX' is not cpu<number>")]
    [InlineData("cpu 1 2 3 4\nintr 5\n", "no cpuN lines")]
    [InlineData("", "no cpuN lines")]
    public void Parse_MalformedInput_FailsNamingTheProblem(string text, string expected)
    {
        var result = CpuParser.Parse(text, []);

        Assert.False(result.Success);
        Assert.Equal(expected, result.Error);
    }

    [Theory]
    [InlineData("0-3,8,10-11\n", new[] { 0, 1, 2, 3, 8, 10, 11 })]
    [InlineData("5", new[] { 5 })]
    [InlineData("\n", new int[0])]
    [InlineData("", new int[0])]
    public void ParseCpuList_ValidList_ReturnsEveryCpu(string text, int[] expected)
    {
        var cpus = new List<int>();

        var result = CpuParser.ParseCpuList(text, cpus);

        Assert.True(result.Success, result.Error);
        Assert.Equal(expected, cpus);
    }

    [Theory]
    [InlineData("3-1", "range '3-1' ends before it starts")]
    [InlineData("0-x", "'0-x' is not a CPU number or range")]
    [InlineData("0,,2", "'' is not a CPU number or range")]
    [InlineData("0-99999999999", "'0-99999999999' is not a CPU number or range")]
    public void ParseCpuList_Malformed_Fails(string text, string expected)
    {
        var result = CpuParser.ParseCpuList(text, []);

        Assert.False(result.Success);
        Assert.Equal(expected, result.Error);
    }
}
