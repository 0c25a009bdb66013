using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Runtime.InteropServices;

namespace Monitor.Agent.Collectors;

/// <summary>
/// open(2), pread(2) and close(2) for the procfs and sysfs files the collectors read on every scrape, without what
/// <see cref="File.OpenHandle(string, FileMode, FileAccess, FileShare, FileOptions, long)"/> adds around them.
/// </summary>
/// <remarks>
/// <para>
/// .NET's open on Unix also calls <c>fstat</c> (to refuse directories) and emulates <see cref="FileShare"/> with
/// <c>flock</c>, once on open and once on close: three extra system calls per file, 96 of the ~280 a default scrape made
/// (strace -c over 100 scrapes), on files that are never locked by anyone, plus a <c>SafeFileHandle</c> per file.
/// Here a file costs open, its reads and close; the path is marshalled on the stack.
/// </para>
/// <para>
/// Errors are the exceptions .NET throws for the same errno, because collectors tell a missing source from a failing
/// one by type: <see cref="FileNotFoundException"/> or <see cref="DirectoryNotFoundException"/> for ENOENT,
/// <see cref="UnauthorizedAccessException"/> for EACCES, EPERM and a directory, <see cref="IOException"/> otherwise.
/// </para>
/// </remarks>
internal static partial class KernelFile
{
    private const int ReadOnlyCloseOnExec = 0x80000; // O_RDONLY | O_CLOEXEC
    private const int EINTR = 4;
    private const int ENOENT = 2;
    private const int EACCES = 13;
    private const int EPERM = 1;
    private const int EISDIR = 21;
    private const int ENOTDIR = 20;

    /// <summary>procfs' <c>f_type</c> (PROC_SUPER_MAGIC).</summary>
    private const uint ProcSuperMagic = 0x9fa0;

    /// <summary>
    /// The procfs files, relative to the procfs root, whose descriptor is kept open after the first read: system-wide
    /// files that exist for the life of the kernel and that procfs regenerates on every read from offset 0 (seq_file
    /// and sysctl handlers). Per-process, per-device and per-mount files are not here: a device can go and come back as
    /// another file.
    /// </summary>
    internal static readonly FrozenSet<string> KeptNames = new[]
    {
        "stat", "meminfo", "vmstat", "loadavg", "diskstats", "schedstat", "pressure/cpu", "pressure/io", "pressure/memory",
        "pressure/irq", "net/netstat", "net/snmp", "net/snmp6", "net/dev", "net/sockstat", "net/sockstat6", "net/udp",
        "net/udp6", "net/arp", "net/softnet_stat", "sys/fs/file-nr", "sys/net/netfilter/nf_conntrack_count",
        "sys/net/netfilter/nf_conntrack_max", "sys/kernel/random/entropy_avail", "sys/kernel/random/poolsize",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>
    /// The most bytes a read may return short of what was asked and still be taken as the end of the file, without a
    /// further read that returns 0 (<see cref="EndsFile"/>).
    /// </summary>
    internal const int ShortReadEnd = 2048;

    private static readonly ConcurrentDictionary<string, int> Kept = new(StringComparer.Ordinal);

    /// <summary>The procfs root whose <see cref="KeptNames"/> are kept open, with its trailing '/'; null: none.</summary>
    private static string? s_keptRoot;

    /// <summary>
    /// Keeps <see cref="KeptNames"/> under <paramref name="procfs"/> (the agent's <c>--path.procfs</c>) open from now
    /// on, if it is a procfs mount; returns whether it is. A fixture tree on an ordinary file system is never kept, so
    /// a test that rewrites a file reads the new one.
    /// </summary>
    public static bool KeepOpenUnder(string procfs)
    {
        if (StatFs(procfs, out var buffer) != 0 || (uint)buffer.Type != ProcSuperMagic)
        {
            return false;
        }

        Volatile.Write(ref s_keptRoot, Path.TrimEndingDirectorySeparator(procfs) + "/");
        return true;
    }

    /// <summary>Opens <paramref name="path"/> read-only; dispose the result to close it.</summary>
    /// <remarks>
    /// A file of <see cref="KeptNames"/> under the root given to <see cref="KeepOpenUnder"/> stays open after its first
    /// read and is read with pread from offset 0 from then on: open and close were half the cost of reading such a file
    /// (a path walk and a seq_file set-up each time), and a default scrape reads about twenty of them.
    /// </remarks>
    public static Descriptor Open(string path)
    {
        var errno = OpenCore(path, out var descriptor);
        return errno == 0 ? descriptor : throw Error(errno, path);
    }

    /// <summary>
    /// Opens <paramref name="path"/> like <see cref="Open"/>, but returns false instead of throwing when it does not exist
    /// (ENOENT, ENOTDIR): for optional sources read on every scrape (conntrack without its module, IPv6 off, no udev
    /// data), where one failed open replaces a stat before each read, and an exception per scrape (tens of
    /// microseconds, and the unwinder's code and tables paged in) is not paid. Other errors throw as from Open.
    /// </summary>
    public static bool TryOpen(string path, out Descriptor descriptor)
    {
        var errno = OpenCore(path, out descriptor);
        return errno switch
        {
            0 => true,
            ENOENT or ENOTDIR => false,
            _ => throw Error(errno, path),
        };
    }

    /// <summary>Opens <paramref name="path"/>; 0, or the errno it failed with (never EINTR).</summary>
    private static int OpenCore(string path, out Descriptor descriptor)
    {
        if (Kept.TryGetValue(path, out var kept))
        {
            descriptor = new Descriptor(kept, path, keep: true);
            return 0;
        }

        while (true)
        {
            var fd = OpenNative(path, ReadOnlyCloseOnExec);
            if (fd >= 0)
            {
                // The loser of a race to keep the same path closes its own descriptor as usual.
                var keep = IsKept(path) && Kept.TryAdd(path, fd);
                descriptor = new Descriptor(fd, path, keep);
                return 0;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
            {
                descriptor = default;
                return errno;
            }
        }
    }

    /// <summary>
    /// True when a read that returned <paramref name="read"/> bytes of the <paramref name="requested"/> asked for has
    /// reached the end of a procfs, sysfs or regular file, so the read that would return 0 can be skipped: one system
    /// call of two for most files a scrape reads (and, for <c>/proc/net/udp</c>, a second walk of the socket table).
    /// </summary>
    /// <remarks>
    /// A regular file returns less than asked only at its end. sysfs attributes, sysctl files and single-record seq_files
    /// (<c>/proc/stat</c>, <c>meminfo</c>, <c>net/snmp</c>, <c>pressure/*</c>) return their whole content to a read large
    /// enough. A seq_file with many records (<c>/proc/net/dev</c>, <c>diskstats</c>, <c>vmstat</c>) fills at most its buffer
    /// of a page or more with whole records per read, so it stops short of the end only when the next record does not
    /// fit in what is left of that page; after a read of at most <see cref="ShortReadEnd"/> bytes that record would be
    /// over 2 KiB. The files read this way have records of one line of a few hundred bytes at most. Files whose records
    /// can be longer (mountinfo with overlay mounts, mdstat) are read to a zero-byte read instead
    /// (<see cref="TextFileReader"/>'s <c>longRecords</c>).
    /// </remarks>
    internal static bool EndsFile(int read, int requested) => read < requested && read <= ShortReadEnd;

    /// <summary>True when <paramref name="path"/> is one of <see cref="KeptNames"/> under the kept procfs root.</summary>
    internal static bool IsKept(string path) =>
        Volatile.Read(ref s_keptRoot) is { } root && path.StartsWith(root, StringComparison.Ordinal) && KeptNames.Contains(path[root.Length..]);

    /// <summary>An open file descriptor; a struct, so opening a file allocates nothing.</summary>
    internal readonly struct Descriptor(int fd, string path, bool keep = false) : IDisposable
    {
        /// <summary>Reads at <paramref name="offset"/> into <paramref name="buffer"/>; 0 at end of file.</summary>
        public unsafe int Read(Span<byte> buffer, long offset)
        {
            fixed (byte* bytes = buffer)
            {
                while (true)
                {
                    var n = PRead(fd, bytes, (nuint)buffer.Length, offset);
                    if (n >= 0)
                    {
                        return (int)n;
                    }

                    var errno = Marshal.GetLastPInvokeError();
                    if (errno != EINTR)
                    {
                        throw Error(errno, path);
                    }
                }
            }
        }

        public void Dispose()
        {
            if (!keep)
            {
                _ = CloseNative(fd);
            }
        }
    }

    /// <summary>The exception .NET's file APIs throw for <paramref name="errno"/> on <paramref name="path"/>.</summary>
    internal static Exception Error(int errno, string path) => errno switch
    {
        // .NET tells a missing directory from a missing file by looking at the parent, on the error path only.
        ENOENT or ENOTDIR when !Directory.Exists(Path.GetDirectoryName(path)) => new DirectoryNotFoundException($"Could not find a part of the path '{path}'."),
        ENOENT => new FileNotFoundException($"Could not find file '{path}'.", path),
        EACCES or EPERM or EISDIR => new UnauthorizedAccessException($"Access to the path '{path}' is denied."),
        _ => new IOException($"{Marshal.GetPInvokeErrorMessage(errno)} : '{path}'", errno),
    };

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport("libc", EntryPoint = "pread64", SetLastError = true)]
    private static unsafe partial nint PRead(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatFs(string path, out Filesystem.LibcStatFs.NativeStatFs buffer);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseNative(int fd);
}
