using Monitor.Agent.Hosting;

namespace Monitor.Agent.Tests.Hosting;

public sealed class NativeMemoryTests
{
    private const string Executable = "/usr/lib/monitor/monitor-agent";

    [Theory]
    [InlineData("55d0c1a19000-55d0c21bd000 r-xp 00019000 08:01 1234 /usr/lib/monitor/monitor-agent", true)]
    [InlineData("55d0c21bd000-55d0c28a3000 r--p 007bd000 08:01 1234 /usr/lib/monitor/monitor-agent", true)]
    [InlineData("55d0c28a3000-55d0c28a5000 rw-p 00ea2000 08:01 1234 /usr/lib/monitor/monitor-agent", false)]
    [InlineData("55d0c21bd000-55d0c28a3000 r--s 007bd000 08:01 1234 /usr/lib/monitor/monitor-agent", false)]
    [InlineData("7f27a0800000-7f27a0aa1000 r--p 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6", true)]
    [InlineData("7f27a0800000-7f27a0aa1000 r-xp 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libm.so.6", true)]
    [InlineData("7f27a0800000-7f27a0aa1000 r-xp 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", true)]
    [InlineData("7f27a0800000-7f27a0aa1000 rw-p 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6", false)]
    [InlineData("7f27a0800000-7f27a0aa1000 r-xp 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15", false)]
    [InlineData("7f27a0800000-7f27a0aa1000 r-xp 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libssl.so.3", false)]
    [InlineData("7f27a0800000-7f27a0aa1000 r--p 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6 (deleted)", false)]
    [InlineData("55d0c21bd000-55d0c28a3000 r--p 007bd000 08:01 1234 /usr/lib/monitor/monitor-agent (deleted)", false)]
    [InlineData("7f27a0800000-7f27a0aa1000 rw-p 00000000 00:00 0 ", false)]
    public void TryParseMappingHeader_Header_ReadsRangeAndWhetherItIsTheExecutableOrCLibraryReadOnly(string line, bool candidate)
    {
        Assert.True(NativeMemory.TryParseMappingHeader(line, Executable, out var start, out var end, out var isCandidate));
        Assert.Equal(candidate, isCandidate);
        Assert.True(end > start);
        Assert.Equal(Convert.ToInt64(line[..line.IndexOf('-', StringComparison.Ordinal)], 16), (long)start);
    }

    [Theory]
    [InlineData("Rss:                 856 kB")]
    [InlineData("Anonymous:             0 kB")]
    [InlineData("VmFlags: rd ex mr mw me dw sd")]
    [InlineData("")]
    public void TryParseMappingHeader_FieldLine_IsNotAHeader(string line)
    {
        Assert.False(NativeMemory.TryParseMappingHeader(line, Executable, out _, out _, out var candidate));
        Assert.False(candidate);
    }

    [Fact]
    public void DropExecutablePages_UnderTheJit_DoesNothing()
    {
        // The test host runs under the JIT; the AOT binary's path is covered by tests/aot-integration.sh, where every
        // agent-process test runs after the drop.
        Assert.Equal(0, NativeMemory.DropExecutablePages());
    }
}
