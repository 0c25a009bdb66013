using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Monitor.Agent.Collectors.Textfile;

/// <summary>
/// What <c>statx(2)</c> says about a path, following symlinks: enough to tell a regular file from a FIFO, device or
/// directory before opening it (opening a FIFO blocks), and to know whether a file changed since it was last parsed.
/// </summary>
/// <param name="IsRegular">S_IFREG.</param>
/// <param name="IsDirectory">S_IFDIR.</param>
/// <param name="Kind">The file type in words, for messages.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="Inode">Inode number (with <paramref name="Device"/>: a rename over the file is a change).</param>
/// <param name="Device">Device number.</param>
/// <param name="ModifiedNanoseconds">mtime in nanoseconds since the epoch.</param>
/// <param name="ChangedNanoseconds">ctime in nanoseconds since the epoch.</param>
internal readonly partial record struct FileStatus(
    bool IsRegular, bool IsDirectory, string Kind, long Size, ulong Inode, ulong Device, long ModifiedNanoseconds, long ChangedNanoseconds)
{
    private const int AtFdCwd = -100;
    private const uint StatxBasicStats = 0x7ff;
    private const int StatxSize = 256;

    /// <summary>Modification time in whole seconds, as node_exporter exports it.</summary>
    public long ModifiedSeconds => ModifiedNanoseconds / 1_000_000_000;

    /// <summary>Stats <paramref name="path"/>; returns errno on failure.</summary>
    /// <remarks>
    /// <c>struct statx</c> (linux/stat.h) has one layout on every architecture, which is why it is used here rather
    /// than <c>stat</c>: stx_mode at 28 (u16), stx_ino at 32, stx_size at 40, stx_ctime at 96 and stx_mtime at 112
    /// (each an i64 second and a u32 nanosecond), stx_dev_major at 136 and stx_dev_minor at 140.
    /// </remarks>
    public static int TryGet(string path, out FileStatus status)
    {
        Span<byte> buffer = stackalloc byte[StatxSize];
        int result;
        unsafe
        {
            fixed (byte* p = buffer)
            {
                result = Statx(AtFdCwd, path, 0, StatxBasicStats, p);
            }
        }

        if (result != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }

        var mode = BinaryPrimitives.ReadUInt16LittleEndian(buffer[28..]);
        var type = mode & 0xF000;
        status = new FileStatus(
            type == 0x8000,
            type == 0x4000,
            type switch
            {
                0x8000 => "regular file",
                0x4000 => "directory",
                0x1000 => "FIFO",
                0x2000 => "character device",
                0x6000 => "block device",
                0xC000 => "socket",
                _ => "special file",
            },
            (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(buffer[40..]), long.MaxValue),
            BinaryPrimitives.ReadUInt64LittleEndian(buffer[32..]),
            ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(buffer[136..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(buffer[140..]),
            Nanoseconds(buffer[112..]),
            Nanoseconds(buffer[96..]));
        return 0;
    }

    private static long Nanoseconds(ReadOnlySpan<byte> timestamp) =>
        (BinaryPrimitives.ReadInt64LittleEndian(timestamp) * 1_000_000_000) + BinaryPrimitives.ReadUInt32LittleEndian(timestamp[8..]);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);
}
