using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Monitor.Agent.Logging.Elasticsearch;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Logging.Elasticsearch;

/// <summary>
/// Property and fuzz tests of the spool's record reader (issue 12's rule: no input makes a parser throw anything but
/// its documented exception, hang, or allocate without bound). Segment files are built from valid records, records
/// with one byte changed, random bytes and torn tails; an independent oracle (a regular expression over the same
/// bytes) says which lines must come back. CI runs a bounded number of cases; see <see cref="FuzzCheck"/> for the
/// long run (bench/fuzz.sh). CsCheck prints the seed of a failing case.
/// </summary>
public sealed partial class SpoolReaderFuzzTests
{
    private static readonly Gen<string> Id = Gen.Frequency(
        (4, Gen.String[Gen.Char["0123456789abcdef"], 32, 32]),
        (1, Gen.String[Gen.Char["abcdefXYZ0123456789-_"], 1, 64]));

    /// <summary>A valid record line (no newline): id, Unix ms, and a "JSON object" of bytes that are anything but a newline.</summary>
    private static readonly Gen<byte[]> ValidLine = Gen.Select(Id, Gen.Long[0, long.MaxValue], Gen.Byte.Array[0, 120]).Select((id, ms, body) =>
    {
        var inner = body.Select(b => b == (byte)'\n' ? (byte)'.' : b).ToArray();
        return (byte[])[.. Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{id} {ms} {{")), .. inner, (byte)'}'];
    });

    private static readonly Gen<byte[]> Piece = Gen.Frequency(
        (8, ValidLine),
        (3, Gen.Select(ValidLine, Gen.Int, Gen.Byte).Select((line, at, b) =>
        {
            // One byte changed: most such lines are invalid, some stay valid; the oracle decides.
            var copy = line.ToArray();
            copy[(int)((uint)at % (uint)copy.Length)] = b;
            return copy;
        })),
        (2, Gen.Byte.Array[0, 200]),
        (1, Gen.Select(Id, Gen.Long).Select((id, ms) => Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{id} {ms}")))));

    /// <summary>A segment: pieces, each followed by a newline nine times in ten (otherwise it runs into the next one).</summary>
    private static readonly Gen<byte[]> Segment = Gen.Select(Piece, Gen.Int[0, 9]).Select((p, n) => n == 0 ? p : [.. p, (byte)'\n'])
        .Array[0, 12].Select(parts => parts.SelectMany(p => p).ToArray());

    private static readonly Gen<(long Number, byte[] Bytes)[]> Segments = Gen.Select(Gen.Int[1, 3], Gen.Int[1, 40].Array[3], Segment.Array[3])
        .Select((count, numbers, contents) => numbers.Distinct().Take(count).Order().Select((n, i) => ((long)n, contents[i])).ToArray());

    [Fact]
    public async Task ReadBatch_GarbageAndTornSegments_ReturnsExactlyTheValidRecordsAndCountsTheRest()
    {
        var gen = Gen.Select(Segments, Gen.Int[1, 50], Gen.Int[1, 20_000], Gen.Bool);
        await RunBoundedAsync(() => gen.Sample((segments, maxCount, maxBytes, junk) =>
        {
            using var directory = new SpoolDirectory();
            directory.Write(segments, cursor: null, junk);
            var expected = new List<string>();
            long corrupt = 0;
            foreach (var (_, bytes) in segments)
            {
                Oracle(bytes, expected, ref corrupt);
            }

            var (records, metrics, allocated) = Drain(directory.Path, maxCount, maxBytes, segments.Sum(s => s.Bytes.Length));

            Assert.Equal(expected, records);
            Assert.Equal(corrupt, metrics.DroppedCorrupt);
            Assert.InRange(allocated, 0, AllocationBound(segments.Sum(s => s.Bytes.Length)));
        }, iter: FuzzCheck.Iterations(200, longRunShare: 0.01), threads: 1));
    }

    [Fact]
    public async Task ReadBatch_GarbageCursorFile_NeverThrowsAndReturnsOnlyLinesThatAreInTheFiles()
    {
        var cursor = Gen.Frequency(
            (2, Gen.Byte.Array[0, 40].Select(b => Encoding.Latin1.GetString(b))),
            (3, Gen.Select(Gen.Long[0, 60], Gen.Long[0, 3000]).Select((s, o) => string.Create(CultureInfo.InvariantCulture, $"{s} {o}\n"))),
            (1, Gen.Select(Gen.Long, Gen.Long).Select((s, o) => string.Create(CultureInfo.InvariantCulture, $"{s} {o}"))));
        var gen = Gen.Select(Segments, cursor, Gen.Int[1, 50], Gen.Int[1, 20_000]);
        await RunBoundedAsync(() => gen.Sample((segments, cursorText, maxCount, maxBytes) =>
        {
            using var directory = new SpoolDirectory();
            directory.Write(segments, cursorText, junk: false);
            var all = Encoding.Latin1.GetString(segments.SelectMany(s => s.Bytes).ToArray());

            var (records, _, allocated) = Drain(directory.Path, maxCount, maxBytes, segments.Sum(s => s.Bytes.Length));

            foreach (var record in records)
            {
                var match = LineSpec().Match(record);
                Assert.True(match.Success, record);
                // The line is in the files as it came back (the milliseconds perhaps with leading zeros), ending in a newline.
                var pattern = Regex.Escape(match.Groups[1].Value) + " 0*" + match.Groups[2].Value + " " + Regex.Escape(match.Groups[3].Value) + "\n";
                Assert.Matches(new Regex(pattern, RegexOptions.Singleline | RegexOptions.CultureInvariant), all);
            }

            Assert.InRange(allocated, 0, AllocationBound(segments.Sum(s => s.Bytes.Length)));
        }, iter: FuzzCheck.Iterations(200, longRunShare: 0.01), threads: 1));
    }

    [Fact]
    public void TryParse_AnyBytes_MatchesTheOracleAndNeverThrows()
    {
        var line = Gen.Frequency((3, Piece), (1, Gen.Byte.Array[0, 100]));
        FuzzCheck.Run(
            "spool record line",
            line,
            static bytes => bytes.Length,
            static bytes => (Parsed: Spool.TryParse(bytes, out var record), Record: record),
            static (bytes, result) =>
            {
                var match = LineSpec().Match(Encoding.Latin1.GetString(bytes));
                var valid = match.Success && long.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out _);
                Assert.Equal(valid, result.Parsed);
                if (result.Parsed)
                {
                    Assert.Equal(match.Groups[1].Value, result.Record.Id);
                    Assert.Equal(long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture), result.Record.UnixMs);
                    Assert.Equal(match.Groups[3].Value, Encoding.Latin1.GetString(result.Record.Document.Span));
                }

                return result.Parsed;
            },
            ciIterations: 20_000);
    }

    [Fact]
    public void ReadBatch_LinesAroundTheRecordLimit_LongerOnesAreSkippedWithoutHoldingThem()
    {
        using var directory = new SpoolDirectory();
        byte[] Line(string id, int length)
        {
            var prefix = $"{id} 1 {{\"p\":\"";
            return [.. Encoding.ASCII.GetBytes(prefix), .. Enumerable.Repeat((byte)'x', length - prefix.Length - 2), (byte)'"', (byte)'}'];
        }

        byte[] segment = [.. Line("fits", Spool.MaxRecordBytes), (byte)'\n', .. Line("toolong", Spool.MaxRecordBytes + 1), (byte)'\n',
            .. Line("after", 100), (byte)'\n', .. Line("tornlong", 3 * Spool.MaxRecordBytes)];
        directory.Write([(1, segment)], cursor: null, junk: false);

        var (records, metrics, allocated) = Drain(directory.Path, 100, 1 << 20, segment.Length);

        Assert.Equal(["fits", "after"], records.Select(r => r[..r.IndexOf(' ', StringComparison.Ordinal)]));
        Assert.Equal(2, metrics.DroppedCorrupt);
        // The 3 MiB torn line was skipped in chunks: the reader never held it whole (its buffer grew to 1 MiB + 1 once).
        Assert.InRange(allocated, 0, 5L * Spool.MaxRecordBytes / 2);
    }

    /// <summary>Reads everything the spool in <paramref name="path"/> yields; bounded, so a reader that stops moving fails instead of hanging.</summary>
    private static (List<string> Records, ShipperMetrics Metrics, long Allocated) Drain(string path, int maxCount, int maxBytes, long inputBytes)
    {
        var metrics = new ShipperMetrics();
        var records = new List<string>();
        // Only the spool's own allocations count, not the strings this test builds.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var spool = new Spool(path, 1L << 40, TimeSpan.FromDays(3650), 1 << 20, TimeProvider.System, metrics);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        using (spool)
        {
            for (var calls = 0; ; calls++)
            {
                Assert.True(calls <= inputBytes + 10, "the reader keeps returning records past the end of its input");
                before = GC.GetAllocatedBytesForCurrentThread();
                var batch = spool.ReadBatch(maxCount, maxBytes);
                allocated += GC.GetAllocatedBytesForCurrentThread() - before;
                if (batch.Records.Count == 0)
                {
                    break;
                }

                Assert.InRange(batch.Records.Count, 1, maxCount);
                foreach (var record in batch.Records)
                {
                    records.Add(string.Create(CultureInfo.InvariantCulture, $"{record.Id} {record.UnixMs} {Encoding.Latin1.GetString(record.Document.Span)}"));
                }

                spool.Commit(batch.End);
            }
        }

        return (records, metrics, allocated);
    }

    /// <summary>Generous but finite: the read buffer, one string per record, the file handles.</summary>
    private static long AllocationBound(long inputBytes) => (4L << 20) + (32 * inputBytes);

    /// <summary>The spec, written independently of the reader: complete lines matching it are records, other complete lines and a non-empty tail are corrupt.</summary>
    private static void Oracle(byte[] segment, List<string> records, ref long corrupt)
    {
        var text = Encoding.Latin1.GetString(segment);
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var last = i == lines.Length - 1;
            if (last)
            {
                corrupt += lines[i].Length > 0 ? 1 : 0;
                break;
            }

            var match = LineSpec().Match(lines[i]);
            if (match.Success && lines[i].Length <= Spool.MaxRecordBytes && long.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            {
                records.Add(string.Create(CultureInfo.InvariantCulture, $"{match.Groups[1].Value} {ms} {match.Groups[3].Value}"));
            }
            else
            {
                corrupt++;
            }
        }
    }

    private static async Task RunBoundedAsync(Action property)
    {
        // A reader that loops forever fails the test instead of hanging CI: a generous bound per case.
        var timeout = TimeSpan.FromSeconds(120) + TimeSpan.FromMilliseconds(20 * FuzzCheck.Iterations(200, longRunShare: 0.01));
        await Task.Run(property).WaitAsync(timeout);
    }

    [GeneratedRegex(@"\A([A-Za-z0-9_-]{1,64}) ([0-9]+) (\{.*\})\z", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex LineSpec();

    /// <summary>A temporary spool directory with segment files, a cursor, and (with junk) files the spool must ignore.</summary>
    private sealed class SpoolDirectory : IDisposable
    {
        public string Path { get; } = System.IO.Path.Join(System.IO.Path.GetTempPath(), "spool-fuzz-" + Guid.NewGuid().ToString("N"));

        public void Write((long Number, byte[] Bytes)[] segments, string? cursor, bool junk)
        {
            Directory.CreateDirectory(Path);
            foreach (var (number, bytes) in segments)
            {
                File.WriteAllBytes(System.IO.Path.Join(Path, number.ToString("D12", CultureInfo.InvariantCulture) + ".seg"), bytes);
            }

            if (cursor is not null)
            {
                File.WriteAllText(System.IO.Path.Join(Path, "cursor"), cursor, Encoding.Latin1);
            }

            if (junk)
            {
                // Not names the spool writes: never read, never deleted.
                File.WriteAllText(System.IO.Path.Join(Path, "1.seg"), "x 1 {\"junk\":1}\n");
                File.WriteAllText(System.IO.Path.Join(Path, "cursor.tmp"), "garbage");
            }
        }

        public void Dispose()
        {
            if (Directory.Exists(Path))
            {
                Directory.Delete(Path, recursive: true);
            }
        }
    }
}
