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

    [Theory]
    [InlineData(100, false, 1)] // a short read of a few bytes ends the file: no read that returns 0
    [InlineData(2048, false, 1)]
    [InlineData(2049, false, 2)] // over 2 KiB a seq_file may have stopped at the end of its page: read on
    [InlineData(3000, false, 2)]
    [InlineData(100, true, 2)] // files with long records always read on to a read that returns 0
    [InlineData(6000, false, 2)] // 4,096 then 1,904 of the 4,096 asked for
    public void ReadAll_ReadCalls_AsTheShortReadRuleSays(int size, bool longRecords, int reads)
    {
        var path = Path.Combine(_dir, "f");
        var content = new string('x', size - 1) + "\n";
        File.WriteAllText(path, content);
        var reader = new TextFileReader(longRecords);

        var (text, calls) = CountingReads(() => reader.ReadAll(path).ToString());

        Assert.Equal(content, text);
        Assert.Equal(reads, calls);
    }

    [Theory]
    [InlineData("a\nbb\nccc", 1)]
    [InlineData(null, 2)] // 3,000 bytes: over 2 KiB, so a second read
    public void ForEachLine_ReadCalls_AsTheShortReadRuleSays(string? content, int reads)
    {
        content ??= string.Concat(Enumerable.Range(0, 300).Select(i => $"line {i,4}\n"));
        var path = Path.Combine(_dir, "f");
        File.WriteAllText(path, content);
        var reader = new ChunkedLineReader();

        var (lines, calls) = CountingReads(() =>
        {
            var lines = new List<string>();
            reader.ForEachLine(path, ref lines, static (line, _, ref lines) => lines.Add(line.ToString()));
            return lines;
        });

        Assert.Equal(content.Split('\n').Where(l => l.Length > 0), lines);
        Assert.Equal(reads, calls);
    }

    [Fact]
    public void ForEachLine_ProcFileOfManyPages_MatchesDotNet()
    {
        // /proc/kallsyms: a seq_file of short records over hundreds of pages, each read stopping at a page's last
        // whole record. It changes when a module or BPF program loads, so the count is taken from .NET's reader just
        // before and just after ours, until the two agree.
        var reader = new ChunkedLineReader();
        int before, ours, after;
        var tries = 0;
        do
        {
            before = File.ReadLines("/proc/kallsyms").Count();
            ours = 0;
            reader.ForEachLine("/proc/kallsyms", ref ours, static (_, _, ref count) => count++);
            after = File.ReadLines("/proc/kallsyms").Count();
        }
        while (before != after && ++tries < 5);

        Assert.True(ours > 1000, $"{ours} lines");
        Assert.Equal(before, after);
        Assert.Equal(before, ours);
    }

    /// <summary>
    /// Runs <paramref name="action"/> and counts the read system calls it made on this thread: the kernel's own count
    /// (<c>syscr</c> in /proc/thread-self/io), less what reading that file costs.
    /// </summary>
    private static (T Result, long Reads) CountingReads<T>(Func<T> action)
    {
        static long Syscr() => long.Parse(File.ReadLines("/proc/thread-self/io").First(l => l.StartsWith("syscr:", StringComparison.Ordinal))[6..], System.Globalization.CultureInfo.InvariantCulture);

        var a = Syscr();
        var b = Syscr();
        var result = action();
        var c = Syscr();
        return (result, c - b - (b - a));
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
