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

    /// <summary>Opens <paramref name="path"/> read-only; dispose the result to close it.</summary>
    public static Descriptor Open(string path)
    {
        while (true)
        {
            var fd = OpenNative(path, ReadOnlyCloseOnExec);
            if (fd >= 0)
            {
                return new Descriptor(fd, path);
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
            {
                throw Error(errno, path);
            }
        }
    }

    /// <summary>An open file descriptor; a struct, so opening a file allocates nothing.</summary>
    internal readonly struct Descriptor(int fd, string path) : IDisposable
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

        public void Dispose() => _ = CloseNative(fd);
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

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseNative(int fd);
}
