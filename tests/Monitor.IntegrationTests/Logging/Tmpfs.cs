using Monitor.Testing;

namespace Monitor.IntegrationTests.Logging;

/// <summary>
/// A small tmpfs mounted on a fresh temporary directory, for a disk that really fills up (ENOSPC) or is read-only.
/// Needs root (CI runs as root). Always unmounted on dispose, lazily so a process still holding a file there cannot
/// keep it mounted, and the directory removed.
/// </summary>
internal sealed class Tmpfs : IDisposable
{
    private Tmpfs(string path) => Path = path;

    /// <summary>The mount point.</summary>
    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> bytes.</summary>
    public static async Task<Tmpfs> MountAsync(long bytes)
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("this test mounts a tmpfs and needs root (CI and ./test.sh run as root)");
        }

        var directory = Directory.CreateTempSubdirectory("monitor-tmpfs-").FullName;
        var (code, _, stderr) = await ExternalTool.RunAsync("mount", ["-t", "tmpfs", "-o", $"size={bytes},mode=0755", "tmpfs", directory]);
        if (code != 0)
        {
            Directory.Delete(directory);
            throw new InvalidOperationException($"mount -t tmpfs failed ({code}): {stderr}");
        }

        return new Tmpfs(directory);
    }

    /// <summary>Remounts it read-only (nothing may have a file open for writing there).</summary>
    public async Task MakeReadOnlyAsync()
    {
        var (code, _, stderr) = await ExternalTool.RunAsync("mount", ["-o", "remount,ro", Path]);
        if (code != 0)
        {
            throw new InvalidOperationException($"mount -o remount,ro failed ({code}): {stderr}");
        }
    }

    /// <summary>Writes a file that takes every free byte left; returns its path.</summary>
    public string Fill(string name = "filler")
    {
        var path = System.IO.Path.Join(Path, name);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);
        var chunk = new byte[4096];
        try
        {
            while (true)
            {
                file.Write(chunk);
            }
        }
        catch (IOException)
        {
            // ENOSPC: full.
        }

        return path;
    }

    public void Dispose()
    {
        ExternalTool.RunAsync("umount", ["-l", Path]).GetAwaiter().GetResult();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Still busy after a lazy unmount: an empty directory in /tmp is all that is left.
        }
    }
}
