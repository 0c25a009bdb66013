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
    public void TryOpen_Missing_IsFalse_OtherErrorsThrowAsOpenDoes()
    {
        Assert.False(KernelFile.TryOpen(Path.Combine(_dir, "absent"), out _));
        Assert.False(KernelFile.TryOpen(Path.Combine(_dir, "no-such-dir", "file"), out _));

        // A path through a file (ENOTDIR) is as missing as one through a missing directory.
        var file = Path.Combine(_dir, "f");
        File.WriteAllText(file, "x");
        Assert.False(KernelFile.TryOpen(Path.Combine(file, "below"), out _));

        // Only missing is quiet: a name too long for the kernel is an error, as from Open.
        var tooLong = Path.Combine(_dir, new string('n', 300));
        Assert.IsType<IOException>(Record.Exception(() => KernelFile.TryOpen(tooLong, out _)), exactMatch: false);
        Assert.IsType<IOException>(Record.Exception(() => KernelFile.Open(tooLong)), exactMatch: false);
    }

    [Fact]
    public void TryReadAll_ReadsWhatReadAllReads_OrFalseWhenMissing()
    {
        var path = Path.Combine(_dir, "f");
        var content = string.Concat(Enumerable.Range(0, 3000).Select(i => $"line {i}\n")); // over the first 4 KiB buffer
        File.WriteAllText(path, content);
        var reader = new TextFileReader();

        Assert.True(reader.TryReadAll(path, out var text));
        Assert.Equal(content, text.ToString());
        Assert.Equal(content, reader.ReadAll(path).ToString());

        Assert.False(reader.TryReadAll(Path.Combine(_dir, "absent"), out var none));
        Assert.True(none.IsEmpty);
    }

    [Fact]
    public void TryForEachLine_StreamsEachLine_OrFalseWithoutCallingTheHandler()
    {
        var path = Path.Combine(_dir, "f");
        File.WriteAllText(path, "a\nbb\nccc");
        var reader = new ChunkedLineReader();
        var lines = new List<string>();

        Assert.True(reader.TryForEachLine(path, ref lines, static (line, number, ref lines) => lines.Add($"{number}:{line}")));
        Assert.Equal(["1:a", "2:bb", "3:ccc"], lines);

        lines.Clear();
        Assert.False(reader.TryForEachLine(Path.Combine(_dir, "absent"), ref lines, static (line, _, ref lines) => lines.Add(line.ToString())));
        Assert.Empty(lines);
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

    [Theory]
    [InlineData("/proc/stat", true)]
    [InlineData("/proc/net/dev", true)]
    [InlineData("/proc/sys/fs/file-nr", true)]
    [InlineData("/proc/self/stat", false)] // per process
    [InlineData("/proc/1/stat", false)]
    [InlineData("/proc/1/net/dev", false)]
    [InlineData("/proc/self/mountinfo", false)]
    [InlineData("/proc/statistics", false)]
    [InlineData("/sys/block/sda/stat", false)]
    public void IsKept_OnlySystemWideFilesAtTheProcfsRoot(string path, bool kept)
    {
        Assert.True(KernelFile.KeepOpenUnder("/proc"));
        Assert.Equal(kept, KernelFile.IsKept(path));
    }

    [Fact]
    public void KeepOpenUnder_AnOrdinaryFileSystem_IsRefused()
    {
        // A fixture tree (what --path.procfs points the tests at) is rewritten between reads: never kept.
        File.WriteAllText(Path.Combine(_dir, "stat"), "cpu 1\n");
        Assert.False(KernelFile.KeepOpenUnder(_dir));
        Assert.False(KernelFile.IsKept(Path.Combine(_dir, "stat")));
    }

    [Fact]
    public void Open_KeptProcFile_ReadsFreshContentEachTime_AndStaysOpen()
    {
        // /proc/stat's first line counts every CPU tick of the machine: after 50 ms of spinning it has moved. A kept
        // descriptor must make procfs regenerate the file on each read from offset 0.
        const string path = "/proc/stat";
        Assert.True(KernelFile.KeepOpenUnder("/proc"));
        static string FirstLine()
        {
            using var file = KernelFile.Open(path);
            var buffer = new byte[65536];
            var text = Encoding.ASCII.GetString(buffer, 0, file.Read(buffer, 0));
            return text[..text.IndexOf('\n', StringComparison.Ordinal)];
        }

        var before = FirstLine();
        var spin = System.Diagnostics.Stopwatch.StartNew();
        while (spin.ElapsedMilliseconds < 50)
        {
            Thread.SpinWait(100);
        }

        var after = FirstLine();
        Assert.StartsWith("cpu ", after, StringComparison.Ordinal);
        Assert.NotEqual(before, after);
        Assert.Contains(Directory.GetFileSystemEntries("/proc/self/fd").Select(Resolve), target => target == path);
    }
}
