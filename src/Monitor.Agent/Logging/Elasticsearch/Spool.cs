using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>A place in the spool: a segment number and a byte offset in it.</summary>
/// <param name="Segment">Segment number (its file is <c>&lt;number:D12&gt;.seg</c>).</param>
/// <param name="Offset">Byte offset of the next record.</param>
internal readonly record struct SpoolPosition(long Segment, long Offset);

/// <summary>One spooled event.</summary>
/// <param name="Id">The document <c>_id</c> minted when the event was spooled.</param>
/// <param name="UnixMs">When it was spooled (Unix ms).</param>
/// <param name="Document">The ECS document, one line of JSON without the newline.</param>
internal readonly record struct SpoolRecord(string Id, long UnixMs, ReadOnlyMemory<byte> Document);

/// <summary>Records read from one segment; <see cref="End"/> is where the cursor goes once all of them are done.</summary>
/// <param name="Records">The records, in spool order.</param>
/// <param name="End">The position after the last record.</param>
internal sealed record SpoolBatch(IReadOnlyList<SpoolRecord> Records, SpoolPosition End);

/// <summary>
/// The bounded on-disk spool: append-only segment files of records <c>&lt;id&gt; &lt;unix-ms&gt; &lt;ECS JSON&gt;\n</c>
/// and a <c>cursor</c> file (<c>segment offset</c>) that moves only over events that are done, replaced atomically
/// (write, then rename) so a crash leaves the old or the new cursor, never half of one. A restart resumes from the
/// cursor and starts a new segment, so a record torn by a crash is only ever at the end of a sealed segment, where the
/// reader skips and counts it. One writer thread appends; one shipper thread reads and commits.
/// <para>
/// The disk may refuse any operation (ENOSPC, EIO, a read-only remount). None of them throws out of the spool after it
/// is open: each is counted and logged once through <see cref="Health"/>, and the operation reports false or is
/// retried. Writes go to an explicit offset (<c>pwrite</c>, not <c>O_APPEND</c>) and the reader sees only bytes after a
/// write that succeeded as a whole, so a write that failed half-way is simply written again at the same offset.
/// </para>
/// </summary>
internal sealed class Spool : IDisposable
{
    /// <summary>The largest record the spool writes or reads; a longer line in a segment is skipped as corrupt.</summary>
    public const int MaxRecordBytes = 1 << 20;

    /// <summary>The longest <c>_id</c> the reader accepts (the writer mints 32 hex digits).</summary>
    public const int MaxIdLength = 64;

    private const string Extension = ".seg";
    private const long MaxSegment = 999_999_999_999;
    private const int ScanChunk = 64 << 10;
    private readonly Lock _gate = new();
    private readonly string _directory;
    private readonly long _maxBytes;
    private readonly TimeSpan _maxAge;
    private readonly long _segmentBytes;
    private readonly TimeProvider _time;
    private readonly ShipperMetrics _metrics;
    private readonly List<long> _segments = [];
    private readonly Dictionary<long, long> _sizes = [];
    private readonly string _cursorPath;
    private SafeFileHandle? _writer;
    private long _current;
    private long _writerLength;
    private long _committedLength;
    private bool _unsynced;
    private long _totalBytes;
    private SpoolPosition _cursor;
    private bool _cursorDirty;
    private long _lastAgeCheck;
    private byte[] _readBuffer = new byte[64 << 10];
    private bool _disposed;

    /// <summary>Opens the spool in <paramref name="directory"/>, creating it when missing.</summary>
    /// <exception cref="IOException">The directory cannot be created or listed (a configuration error: the agent stops with exit code 2).</exception>
    /// <exception cref="UnauthorizedAccessException">The directory is not ours to use.</exception>
    public Spool(string directory, long maxBytes, TimeSpan maxAge, long segmentBytes, TimeProvider time, ShipperMetrics metrics)
    {
        _directory = directory;
        _maxBytes = maxBytes;
        _maxAge = maxAge;
        _segmentBytes = segmentBytes;
        _time = time;
        _metrics = metrics;
        Health = new SpoolHealth(metrics, time);
        _cursorPath = Path.Join(directory, "cursor");
        Directory.CreateDirectory(directory);
        foreach (var file in Directory.EnumerateFiles(directory, "*" + Extension))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            // Only names the spool writes: "1.seg" would parse to 1 and then be looked for as 000000000001.seg.
            if (name.Length == 12 && long.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is > 0 and < MaxSegment)
            {
                _segments.Add(number);
                _sizes[number] = LengthOf(file);
            }
        }

        _segments.Sort();
        _cursor = ReadCursor() ?? new SpoolPosition(_segments.Count > 0 ? _segments[0] : 1, 0);
        lock (_gate)
        {
            // Segments before the cursor are shipped; a crash can leave one behind between the commit and the delete.
            while (_segments.Count > 0 && _segments[0] < _cursor.Segment)
            {
                DeleteSegment(_segments[0]);
            }
        }

        _current = Math.Max(_segments.Count > 0 ? _segments[^1] + 1 : 1, _cursor.Segment);
        if (_segments.Count == 0 || _cursor.Segment > _segments[^1])
        {
            _cursor = new SpoolPosition(_current, 0);
        }

        // The current segment is registered even when its file cannot be created now; the first write creates it.
        _segments.Add(_current);
        _sizes[_current] = 0;
        _totalBytes = _sizes.Values.Sum();
        _metrics.SpoolBytes = _totalBytes;
        TryOpenCurrent();
        lock (_gate)
        {
            WriteCursor();
        }
    }

    /// <summary>Counts and logs the spool's disk failures.</summary>
    public SpoolHealth Health { get; }

    /// <summary>The spool directory.</summary>
    public string DirectoryPath => _directory;

    /// <summary>Test seam: called before each disk operation; a fault injector throws the <see cref="IOException"/> the disk would.</summary>
    internal Action<SpoolOperation>? FaultInjection { get; set; }

    /// <summary>The cursor: everything before it is done.</summary>
    public SpoolPosition Cursor
    {
        get
        {
            lock (_gate)
            {
                return _cursor;
            }
        }
    }

    /// <summary>True when <paramref name="ex"/> is how the file system refuses an operation (full, failing, read-only, gone, not permitted).</summary>
    public static bool IsDiskError(Exception ex) => ex is IOException or UnauthorizedAccessException;

    /// <summary>
    /// Writes whole records, <paramref name="first"/> then <paramref name="second"/> (contiguous in spool order), to the
    /// current segment, starting a new one first when it is full. False when the disk refused (counted and logged by
    /// <see cref="Health"/>): then none of the bytes counts as written, and the same records can be written again. Writer thread only;
    /// visible to the reader after <see cref="Flush"/>.
    /// </summary>
    public bool TryWrite(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        if ((_writer is null || _writerLength >= _segmentBytes) && !TryRoll())
        {
            return false;
        }

        try
        {
            FaultInjection?.Invoke(SpoolOperation.Write);
            RandomAccess.Write(_writer!, first, _writerLength);
            if (!second.IsEmpty)
            {
                RandomAccess.Write(_writer!, second, _writerLength + first.Length);
            }
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            // A part may have reached the file past the committed length: the reader never looks there, the next try
            // overwrites it, and trimming it (when the disk lets us) keeps a restart from reading it as a torn record.
            TryTruncate();
            Health.Failed(SpoolOperation.Write, SegmentPath(_current), ex);
            return false;
        }

        var total = first.Length + second.Length;
        _writerLength += total;
        _unsynced = true;
        lock (_gate)
        {
            _sizes[_current] = _writerLength;
            _totalBytes += total;
        }

        Health.Succeeded(SpoolOperation.Write);
        return true;
    }

    /// <summary>
    /// Whether the disk takes writes again, asked without adding a record: a page of zeros past the last record,
    /// removed again. A page, not a byte: a byte would fit in the last page of a file on a full file system and report
    /// it writable. Counted and logged like a write. Writer thread only.
    /// </summary>
    public bool TryProbe()
    {
        if ((_writer is null || _writerLength >= _segmentBytes) && !TryRoll())
        {
            return false;
        }

        try
        {
            FaultInjection?.Invoke(SpoolOperation.Write);
            Span<byte> page = stackalloc byte[4096];
            page.Clear();
            RandomAccess.Write(_writer!, page, _writerLength);
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            TryTruncate();
            Health.Failed(SpoolOperation.Write, SegmentPath(_current), ex);
            return false;
        }

        TryTruncate();
        Health.Succeeded(SpoolOperation.Write);
        return true;
    }

    /// <summary>Appends one whole record (ending in <c>\n</c>); false when the disk refused. Writer thread only.</summary>
    public bool Append(ReadOnlySpan<byte> record) => TryWrite(record, default);

    /// <summary>
    /// Publishes what was written to the reader, syncs it to the disk with <paramref name="toDisk"/>, applies the caps,
    /// and retries a cursor the disk refused before. Never throws. Writer thread only.
    /// </summary>
    public void Flush(bool toDisk)
    {
        if (toDisk && _unsynced && _writer is not null)
        {
            Sync(_writer, _current);
            _unsynced = false;
        }

        Volatile.Write(ref _committedLength, _writerLength);
        EnforceLimits();
        RetryCursor();
    }

    /// <summary>Persists the cursor again if the disk refused it last time.</summary>
    public void RetryCursor()
    {
        lock (_gate)
        {
            if (_cursorDirty)
            {
                WriteCursor();
            }
        }
    }

    /// <summary>
    /// Reads up to <paramref name="maxCount"/> records and about <paramref name="maxBytes"/> from the cursor. Reader
    /// thread only; valid until the next call. Malformed lines (torn by a crash, garbage, longer than
    /// <see cref="MaxRecordBytes"/>) are skipped and counted as corrupt, and a segment file that vanished is skipped:
    /// whatever a segment holds, the reader moves forward, reads at most <see cref="MaxRecordBytes"/> or
    /// <paramref name="maxBytes"/> at a time, and throws nothing but the <see cref="IOException"/> or
    /// <see cref="UnauthorizedAccessException"/> of a disk that refuses to be read.
    /// </summary>
    public SpoolBatch ReadBatch(int maxCount, int maxBytes)
    {
        maxCount = Math.Max(1, maxCount);
        maxBytes = Math.Max(1, maxBytes);
        while (true)
        {
            SpoolPosition position;
            bool sealedSegment;
            long limit;
            lock (_gate)
            {
                position = _cursor;
                sealedSegment = position.Segment != _current;
                limit = sealedSegment ? _sizes.GetValueOrDefault(position.Segment) : Volatile.Read(ref _committedLength);
            }

            if (position.Offset >= limit)
            {
                if (!sealedSegment)
                {
                    return new SpoolBatch([], position);
                }

                FinishSegment(position, tornBytes: false);
                continue;
            }

            var length = (int)Math.Min(limit - position.Offset, Math.Max(maxBytes, 4096));
            int read;
            try
            {
                FaultInjection?.Invoke(SpoolOperation.Read);
                read = ReadAt(position, length, limit);
            }
            catch (Exception ex) when (sealedSegment && ex is FileNotFoundException or DirectoryNotFoundException)
            {
                // Deleted behind our back: what it held is gone; move on rather than retry forever.
                Health.Failed(SpoolOperation.Read, SegmentPath(position.Segment), ex);
                FinishSegment(position, tornBytes: false);
                continue;
            }

            var span = _readBuffer.AsSpan(0, read);
            if (read > MaxRecordBytes && span.IndexOf((byte)'\n') < 0)
            {
                // A line longer than any record the writer makes: skip it without holding it in memory.
                _metrics.AddDroppedCorrupt(1);
                var next = SkipLine(position, limit);
                if (next < 0)
                {
                    if (!sealedSegment)
                    {
                        return new SpoolBatch([], position);
                    }

                    FinishSegment(position, tornBytes: false);
                }
                else
                {
                    Commit(position with { Offset = next });
                }

                continue;
            }

            var records = new List<SpoolRecord>(Math.Min(maxCount, 1024));
            var consumed = 0;
            var bytes = 0;
            while (records.Count < maxCount && consumed < read)
            {
                var newline = span[consumed..].IndexOf((byte)'\n');
                if (newline < 0 || (bytes > 0 && bytes + newline > maxBytes))
                {
                    break;
                }

                if (newline <= MaxRecordBytes && TryParse(_readBuffer.AsMemory(consumed, newline), out var record))
                {
                    records.Add(record);
                    bytes += newline;
                }
                else
                {
                    _metrics.AddDroppedCorrupt(1);
                }

                consumed += newline + 1;
            }

            if (consumed == 0)
            {
                if (!sealedSegment)
                {
                    // The committed part of the current segment always ends with a whole record: nothing new yet.
                    return new SpoolBatch([], position);
                }

                // The rest of a sealed segment is one record without its newline: torn by a crash mid-write.
                FinishSegment(position, tornBytes: true);
                continue;
            }

            var end = position with { Offset = position.Offset + consumed };
            if (records.Count == 0)
            {
                Commit(end);
                continue;
            }

            return new SpoolBatch(records, end);
        }
    }

    /// <summary>Moves the cursor to <paramref name="end"/> (never backwards) and persists it (retried later when the disk refuses).</summary>
    public void Commit(SpoolPosition end)
    {
        lock (_gate)
        {
            if (end.Segment < _cursor.Segment || (end.Segment == _cursor.Segment && end.Offset <= _cursor.Offset))
            {
                return;
            }

            _cursor = end;
            WriteCursor();
        }
    }

    /// <summary>Syncs and closes the current segment. Never throws.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_writer is not null)
        {
            if (_unsynced)
            {
                Sync(_writer, _current);
            }

            _writer.Dispose();
        }

        RetryCursor();
    }

    /// <summary>
    /// Parses one spool line (without its newline): an id of 1 to <see cref="MaxIdLength"/> ASCII letters, digits,
    /// <c>-</c> or <c>_</c>, a space, decimal Unix milliseconds, a space, and a JSON object (<c>{</c>…<c>}</c>). False for
    /// anything else; never throws.
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> line, out SpoolRecord record)
    {
        record = default;
        var span = line.Span;
        var first = span.IndexOf((byte)' ');
        if (first <= 0 || first > MaxIdLength)
        {
            return false;
        }

        foreach (var b in span[..first])
        {
            if (!char.IsAsciiLetterOrDigit((char)b) && b is not ((byte)'-' or (byte)'_'))
            {
                return false;
            }
        }

        var second = span[(first + 1)..].IndexOf((byte)' ');
        if (second <= 0 || !TryParseDigits(span.Slice(first + 1, second), out var unixMs))
        {
            return false;
        }

        var start = first + 1 + second + 1;
        if (start >= span.Length - 1 || span[start] != (byte)'{' || span[^1] != (byte)'}')
        {
            return false;
        }

        record = new SpoolRecord(Encoding.ASCII.GetString(span[..first]), unixMs, line[start..]);
        return true;
    }

    /// <summary>
    /// Decimal digits only, into a non-negative long. Not <c>long.TryParse</c>: it accepts trailing NUL characters
    /// ("123\0"), which the spool's fuzz test found.
    /// </summary>
    private static bool TryParseDigits(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        foreach (var b in digits)
        {
            if (!char.IsAsciiDigit((char)b) || value > (long.MaxValue - (b - '0')) / 10)
            {
                return false;
            }

            value = (value * 10) + (b - '0');
        }

        return true;
    }

    /// <summary>Reads <paramref name="length"/> bytes at <paramref name="position"/>, or on until a newline for a longer record, but never more than <see cref="MaxRecordBytes"/> + 1.</summary>
    private int ReadAt(SpoolPosition position, int length, long limit)
    {
        using var file = File.OpenHandle(SegmentPath(position.Segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var total = 0;
        while (true)
        {
            if (_readBuffer.Length < length)
            {
                Array.Resize(ref _readBuffer, length);
            }

            while (total < length)
            {
                var n = RandomAccess.Read(file, _readBuffer.AsSpan(total, length - total), position.Offset + total);
                if (n == 0)
                {
                    // Shorter than its recorded size (truncated behind our back): what is there is all there is.
                    return total;
                }

                total += n;
            }

            // A record longer than the batch limit: read on until its newline so it is still shipped (alone).
            if (_readBuffer.AsSpan(0, total).IndexOf((byte)'\n') >= 0 || position.Offset + total >= limit || total > MaxRecordBytes)
            {
                return total;
            }

            length = (int)Math.Min(Math.Min(limit - position.Offset, (long)length * 2), MaxRecordBytes + 1L);
        }
    }

    /// <summary>The offset after the next newline from <paramref name="position"/>, or -1 when there is none before <paramref name="limit"/>; reads in bounded chunks.</summary>
    private long SkipLine(SpoolPosition position, long limit)
    {
        using var file = File.OpenHandle(SegmentPath(position.Segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var offset = position.Offset;
        while (offset < limit)
        {
            var n = RandomAccess.Read(file, _readBuffer.AsSpan(0, (int)Math.Min(ScanChunk, limit - offset)), offset);
            if (n == 0)
            {
                return -1;
            }

            var newline = _readBuffer.AsSpan(0, n).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                return offset + newline + 1;
            }

            offset += n;
        }

        return -1;
    }

    private void FinishSegment(SpoolPosition position, bool tornBytes)
    {
        lock (_gate)
        {
            if (_cursor != position)
            {
                return;
            }

            if (tornBytes)
            {
                _metrics.AddDroppedCorrupt(1);
            }

            var next = _segments.FirstOrDefault(s => s > position.Segment, _current);
            _cursor = new SpoolPosition(next, 0);
            WriteCursor();
            DeleteSegment(position.Segment);
        }
    }

    /// <summary>Creates the next segment file (or, after a failed create, the current one) and makes it the current segment.</summary>
    private bool TryRoll()
    {
        // After a failed create the current segment has no file yet and is created now; otherwise the next one is.
        var number = _writer is null && !File.Exists(SegmentPath(_current)) ? _current : _current + 1;
        SafeFileHandle handle;
        try
        {
            FaultInjection?.Invoke(SpoolOperation.Create);
            while (File.Exists(SegmentPath(number)))
            {
                number++;
            }

            // Recreated when someone removed it; a no-op otherwise.
            Directory.CreateDirectory(_directory);
            handle = File.OpenHandle(SegmentPath(number), FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete);
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            Health.Failed(SpoolOperation.Create, SegmentPath(number), ex);
            return false;
        }

        Health.Succeeded(SpoolOperation.Create);
        var old = _writer;
        if (old is not null && _unsynced)
        {
            // Sealed from now on: give it to the disk before moving on, as the periodic sync covers only the current segment.
            Sync(old, _current);
        }

        lock (_gate)
        {
            if (number != _current)
            {
                _current = number;
                _segments.Add(number);
                _sizes[number] = 0;
            }

            _writer = handle;
            _writerLength = 0;
            _unsynced = false;
            Volatile.Write(ref _committedLength, 0);
        }

        old?.Dispose();
        EnforceLimits();
        return true;
    }

    private void TryOpenCurrent()
    {
        try
        {
            FaultInjection?.Invoke(SpoolOperation.Create);
            _writer = File.OpenHandle(SegmentPath(_current), FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete);
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            // The spool starts without a segment; events wait in memory and the first write tries again.
            Health.Failed(SpoolOperation.Create, SegmentPath(_current), ex);
        }
    }

    private void Sync(SafeFileHandle handle, long segment)
    {
        try
        {
            FaultInjection?.Invoke(SpoolOperation.Sync);
            RandomAccess.FlushToDisk(handle);
            Health.Succeeded(SpoolOperation.Sync);
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            Health.Failed(SpoolOperation.Sync, SegmentPath(segment), ex);
        }
    }

    private void TryTruncate()
    {
        try
        {
            RandomAccess.SetLength(_writer!, _writerLength);
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            // Left for the next write to overwrite.
        }
    }

    private void EnforceLimits()
    {
        var now = _time.GetUtcNow();
        var checkAge = now.ToUnixTimeMilliseconds() - _lastAgeCheck > 10_000;
        lock (_gate)
        {
            while (_totalBytes > _maxBytes && _segments.Count > 1)
            {
                DropOldest(age: false);
            }

            if (checkAge)
            {
                _lastAgeCheck = now.ToUnixTimeMilliseconds();
                while (_segments.Count > 1 && LastWrite(_segments[0]) < now.UtcDateTime - _maxAge)
                {
                    DropOldest(age: true);
                }
            }

            _metrics.SpoolBytes = _totalBytes;
        }
    }

    /// <summary>Drops the oldest (sealed) segment, counting the records the cursor had not passed yet.</summary>
    private void DropOldest(bool age)
    {
        var segment = _segments[0];
        long lost = 0;
        if (segment >= _cursor.Segment)
        {
            lost = CountRecords(segment, segment == _cursor.Segment ? _cursor.Offset : 0);
            _cursor = new SpoolPosition(_segments.Count > 1 ? _segments[1] : _current, 0);
            WriteCursor();
        }

        DeleteSegment(segment);
        if (age)
        {
            _metrics.AddDroppedSpoolAge(lost);
        }
        else
        {
            _metrics.AddDroppedSpoolFull(lost);
        }
    }

    private long CountRecords(long segment, long offset)
    {
        try
        {
            using var file = File.OpenHandle(SegmentPath(segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var buffer = new byte[64 << 10];
            long count = 0;
            int n;
            while ((n = RandomAccess.Read(file, buffer, offset)) > 0)
            {
                count += buffer.AsSpan(0, n).Count((byte)'\n');
                offset += n;
            }

            return count;
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            Health.Failed(SpoolOperation.Read, SegmentPath(segment), ex);
            return 0;
        }
    }

    private DateTime LastWrite(long segment)
    {
        try
        {
            // A file that is gone reads as 1601: old enough to be dropped, which is what it should be.
            return File.GetLastWriteTimeUtc(SegmentPath(segment));
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            return DateTime.MaxValue;
        }
    }

    /// <summary>Forgets a segment and removes its file; a file the disk will not delete stays (counted, logged once). Under <see cref="_gate"/>.</summary>
    private void DeleteSegment(long segment)
    {
        _segments.Remove(segment);
        if (_sizes.Remove(segment, out var size))
        {
            _totalBytes -= size;
        }

        try
        {
            FaultInjection?.Invoke(SpoolOperation.Delete);
            File.Delete(SegmentPath(segment));
            Health.Succeeded(SpoolOperation.Delete);
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            Health.Failed(SpoolOperation.Delete, SegmentPath(segment), ex);
        }

        _metrics.SpoolBytes = _totalBytes;
    }

    private string SegmentPath(long segment) => Path.Join(_directory, segment.ToString("D12", CultureInfo.InvariantCulture) + Extension);

    private static long LengthOf(string file)
    {
        try
        {
            return new FileInfo(file).Length;
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            return 0;
        }
    }

    private SpoolPosition? ReadCursor()
    {
        string text;
        try
        {
            text = File.ReadAllText(_cursorPath);
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            if (ex is not (FileNotFoundException or DirectoryNotFoundException))
            {
                // Unreadable: start from the first segment; what was shipped is sent again and answered 409.
                Health.Failed(SpoolOperation.Cursor, _cursorPath, ex);
            }

            return null;
        }

        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var segment)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            && segment is > 0 and <= MaxSegment)
        {
            return new SpoolPosition(segment, offset);
        }

        return null;
    }

    /// <summary>Persists the cursor; under <see cref="_gate"/>. A refusal leaves it dirty for <see cref="RetryCursor"/>.</summary>
    private void WriteCursor()
    {
        var temp = _cursorPath + ".tmp";
        try
        {
            FaultInjection?.Invoke(SpoolOperation.Cursor);
            File.WriteAllText(temp, string.Create(CultureInfo.InvariantCulture, $"{_cursor.Segment} {_cursor.Offset}\n"));
            File.Move(temp, _cursorPath, overwrite: true);
            _cursorDirty = false;
            Health.Succeeded(SpoolOperation.Cursor);
        }
        catch (Exception ex) when (IsDiskError(ex))
        {
            _cursorDirty = true;
            Health.Failed(SpoolOperation.Cursor, _cursorPath, ex);
            try
            {
                File.Delete(temp);
            }
            catch (Exception again) when (IsDiskError(again))
            {
                // Overwritten by the next try.
            }
        }
    }
}
