using System.Runtime.InteropServices;

namespace Monitor.Agent.Collectors.Filesystem;

/// <summary>
/// <c>statfs(2)</c> through glibc on 64-bit Linux (x86_64 and aarch64 share the generic layout), as node_exporter
/// calls <c>unix.Statfs</c>.
/// </summary>
internal sealed partial class LibcStatFs : IStatFs
{
    /// <summary>ENOSYS: returned where the struct layout below is not known to be right.</summary>
    private const int ENOSYS = 38;

    /// <summary>The shared instance; it holds no state.</summary>
    public static LibcStatFs Instance { get; } = new();

    /// <summary>True on the platforms whose <c>struct statfs</c> layout <see cref="NativeStatFs"/> matches.</summary>
    public static bool IsSupported { get; } =
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <inheritdoc/>
    public int StatFs(string path, out FileSystemUsage usage)
    {
        usage = default;
        if (!IsSupported)
        {
            return ENOSYS;
        }

        if (NativeMethods.StatFs(path, out var buffer) != 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        usage = new FileSystemUsage(buffer.BlockSize, buffer.Blocks, buffer.BlocksFree, buffer.BlocksAvailable, buffer.Files, buffer.FilesFree);
        return 0;
    }

    /// <summary>
    /// <c>struct statfs</c> from glibc's bits/statfs.h on 64-bit Linux: every <c>__fsword_t</c>, <c>fsblkcnt_t</c> and
    /// <c>fsfilcnt_t</c> is 8 bytes, <c>fsid_t</c> is two ints; 120 bytes in all (checked with gcc on Debian 12
    /// x86_64: f_bsize at 8, f_blocks 16, f_bavail 32, f_ffree 48, f_fsid 56, f_flags 80, f_spare 88). Go's
    /// <c>unix.Statfs_t</c> for linux/amd64 has the same shape.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeStatFs
    {
        public long Type;
        public long BlockSize;
        public ulong Blocks;
        public ulong BlocksFree;
        public ulong BlocksAvailable;
        public ulong Files;
        public ulong FilesFree;
        public int FsId0;
        public int FsId1;
        public long NameLength;
        public long FragmentSize;
        public long Flags;
        public long Spare0;
        public long Spare1;
        public long Spare2;
        public long Spare3;
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int StatFs(string path, out NativeStatFs buffer);
    }
}
