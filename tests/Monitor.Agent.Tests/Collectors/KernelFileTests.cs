using System.Text;
using Monitor.Agent.Collectors;

namespace Monitor.Agent.Tests.Collectors;

public sealed class KernelFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kernelfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Read_ReturnsTheBytesAtEachOffset_AndZeroAtEnd()
    {
        var path = Path.Combine(_dir, "f");
        var content = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(i => $"{i}\n")));
        File.WriteAllBytes(path, content);

        using var file = KernelFile.Open(path);
        var buffer = new byte[4096];
        var read = new List<byte>();
        long offset = 0;
        int n;
        while ((n = file.Read(buffer, offset)) > 0)
        {
            read.AddRange(buffer.AsSpan(0, n).ToArray());
            offset += n;
        }

        Assert.Equal(content, read.ToArray());
    }

    [Fact]
    public void Read_ProcFile_MatchesDotNet()
    {
        // /proc/self/limits does not change while the test runs.
        using var file = KernelFile.Open("/proc/self/limits");
        var buffer = new byte[65536];
        var n = file.Read(buffer, 0);

        Assert.Equal(File.ReadAllText("/proc/self/limits"), Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public void Open_Errors_AreTheExceptionsDotNetThrows()
    {
        Assert.Throws<FileNotFoundException>(() => KernelFile.Open(Path.Combine(_dir, "absent")));
        Assert.Throws<DirectoryNotFoundException>(() => KernelFile.Open(Path.Combine(_dir, "no-such-dir", "file")));

        // A directory opens (O_RDONLY) but cannot be read; .NET refuses it on open with the same exception.
        var error = Record.Exception(() =>
        {
            using var file = KernelFile.Open(_dir);
            file.Read(new byte[16], 0);
        });
        Assert.IsType<UnauthorizedAccessException>(error);
        Assert.IsType<UnauthorizedAccessException>(Record.Exception(() => File.OpenHandle(_dir).Dispose()));
    }

    [Fact]
    public void Open_ThenDispose_ClosesTheDescriptor()
    {
        var path = Path.Combine(_dir, "f");
        File.WriteAllText(path, "x");
        var fdDir = "/proc/self/fd";

        var file = KernelFile.Open(path);
        var open = Directory.EnumerateFileSystemEntries(fdDir).Count(e => Resolve(e) == path);
        file.Dispose();
        var after = Directory.EnumerateFileSystemEntries(fdDir).Count(e => Resolve(e) == path);

        Assert.Equal(1, open);
        Assert.Equal(0, after);
    }

    private static string? Resolve(string link)
    {
        try
        {
            return new FileInfo(link).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
