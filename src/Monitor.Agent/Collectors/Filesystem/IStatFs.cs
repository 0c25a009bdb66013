namespace Monitor.Agent.Collectors.Filesystem;

/// <summary>Filesystem usage as <c>statfs(2)</c> reports it, in the kernel's units.</summary>
/// <param name="BlockSize"><c>f_bsize</c>: the block size node_exporter multiplies block counts by.</param>
/// <param name="Blocks"><c>f_blocks</c>: total blocks.</param>
/// <param name="BlocksFree"><c>f_bfree</c>: free blocks.</param>
/// <param name="BlocksAvailable"><c>f_bavail</c>: blocks free to unprivileged users.</param>
/// <param name="Files"><c>f_files</c>: total inodes.</param>
/// <param name="FilesFree"><c>f_ffree</c>: free inodes.</param>
internal readonly record struct FileSystemUsage(long BlockSize, ulong Blocks, ulong BlocksFree, ulong BlocksAvailable, ulong Files, ulong FilesFree);

/// <summary>
/// The <c>statfs</c> seam. The real implementation is a P/Invoke that may block for minutes on a dead NFS server;
/// tests inject implementations that block or fail.
/// </summary>
internal interface IStatFs
{
    /// <summary>Stats the filesystem holding <paramref name="path"/>. Returns 0, or the errno on failure.</summary>
    int StatFs(string path, out FileSystemUsage usage);
}
