using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Monitor.Agent.Collectors.Filesystem;

namespace Monitor.Agent.Tests.Collectors.Filesystem;

public sealed class LibcStatFsTests
{
    [Fact]
    public void NativeStatFs_Layout_MatchesGlibcStructStatfsOn64BitLinux()
    {
        // sizeof(struct statfs) and offsetof(...) printed by gcc on Debian 12 x86_64 (glibc 2.36).
        Assert.Equal(120, Unsafe.SizeOf<LibcStatFs.NativeStatFs>());
        Assert.Equal(8, (int)Marshal.OffsetOf<LibcStatFs.NativeStatFs>(nameof(LibcStatFs.NativeStatFs.BlockSize)));
        Assert.Equal(16, (int)Marshal.OffsetOf<LibcStatFs.NativeStatFs>(nameof(LibcStatFs.NativeStatFs.Blocks)));
        Assert.Equal(32, (int)Marshal.OffsetOf<LibcStatFs.NativeStatFs>(nameof(LibcStatFs.NativeStatFs.BlocksAvailable)));
        Assert.Equal(48, (int)Marshal.OffsetOf<LibcStatFs.NativeStatFs>(nameof(LibcStatFs.NativeStatFs.FilesFree)));
        Assert.Equal(56, (int)Marshal.OffsetOf<LibcStatFs.NativeStatFs>(nameof(LibcStatFs.NativeStatFs.FsId0)));
        Assert.Equal(80, (int)Marshal.OffsetOf<LibcStatFs.NativeStatFs>(nameof(LibcStatFs.NativeStatFs.Flags)));
        Assert.Equal(88, (int)Marshal.OffsetOf<LibcStatFs.NativeStatFs>(nameof(LibcStatFs.NativeStatFs.Spare0)));
    }

    [Fact]
    public void StatFs_ExistingDirectory_ReturnsUsage()
    {
        Assert.True(LibcStatFs.IsSupported);

        var errno = LibcStatFs.Instance.StatFs(Monitor.Testing.Fixtures.Path("host", "home"), out var usage);

        Assert.Equal(0, errno);
        Assert.True(usage.BlockSize > 0);
        Assert.True(usage.Blocks > 0);
        Assert.InRange(usage.BlocksAvailable, 0UL, usage.Blocks);
        Assert.InRange(usage.BlocksFree, usage.BlocksAvailable, usage.Blocks);
    }

    [Fact]
    public void StatFs_MissingPath_ReturnsEnoent()
    {
        var errno = LibcStatFs.Instance.StatFs("/nonexistent/monitor-test", out var usage);

        Assert.Equal(2, errno);
        Assert.Equal(default, usage);
    }
}
