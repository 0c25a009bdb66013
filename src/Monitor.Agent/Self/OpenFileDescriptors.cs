using System.Runtime.InteropServices;
using Monitor.Agent.Collectors.Textfile;

namespace Monitor.Agent.Self;

/// <summary>
/// Counts this process's open file descriptors: the size <c>stat</c> gives <c>/proc/self/fd</c> (Linux 6.2 and later),
/// else by listing <c>/proc/self/fd</c> with libc's <c>readdir</c>.
/// </summary>
/// <remarks>
/// .NET's directory enumeration stats every entry, and each entry here is a symlink it follows: about 8 µs per
/// descriptor, over 1 ms per scrape with the agent's ~130 descriptors. <c>readdir</c> only lists names, but procfs
/// still builds a dentry for each (perf showed it; the self collector took 0.28 ms a scrape before this change). Since Linux 6.2 the
/// directory's size is the count, one system call; older kernels report 0 there (a live process has descriptors), and
/// then the listing is used.
/// </remarks>
internal static unsafe partial class OpenFileDescriptors
{
    /// <summary>Offset of <c>d_name</c> in glibc's <c>struct dirent64</c> (ino 8, off 8, reclen 2, type 1).</summary>
    private const int NameOffset = 19;

    /// <summary>The number of open descriptors, not counting the one the count itself uses; -1 if unreadable.</summary>
    public static int Count()
    {
        if (FileStatus.TryGet("/proc/self/fd", out var status) == 0 && status.Size > 0)
        {
            return (int)Math.Min(status.Size, int.MaxValue);
        }

        var dir = OpenDir("/proc/self/fd");
        if (dir == IntPtr.Zero)
        {
            return -1;
        }

        var count = 0;
        try
        {
            IntPtr entry;
            while ((entry = ReadDir(dir)) != IntPtr.Zero)
            {
                var name = (byte*)entry + NameOffset;
                if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))
                {
                    continue;
                }

                count++;
            }
        }
        finally
        {
            _ = CloseDir(dir);
        }

        return Math.Max(count - 1, 0);
    }

    [LibraryImport("libc", EntryPoint = "opendir", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr OpenDir(string path);

    [LibraryImport("libc", EntryPoint = "readdir64")]
    private static partial IntPtr ReadDir(IntPtr dir);

    [LibraryImport("libc", EntryPoint = "closedir")]
    private static partial int CloseDir(IntPtr dir);
}
