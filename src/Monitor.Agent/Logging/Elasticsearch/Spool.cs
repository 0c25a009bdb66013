using System.Globalization;
using System.Text;

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
/// </summary>
internal sealed class Spool : IDisposable
{
    private const string Extension = ".seg";
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
    private FileStream _writer;
    private long _current;
    private long _writerLength;
    private long _committedLength;
    private long _totalBytes;
    private SpoolPosition _cursor;
    private long _lastAgeCheck;
    private byte[] _readBuffer = new byte[64 << 10];
    private bool _disposed;

    public Spool(string directory, long maxBytes, TimeSpan maxAge, long segmentBytes, TimeProvider time, ShipperMetrics metrics)
    {
        _directory = directory;
        _maxBytes = maxBytes;
        _maxAge = maxAge;
        _segmentBytes = segmentBytes;
        _time = time;
        _metrics = metrics;
        _cursorPath = Path.Join(directory, "cursor");
        Directory.CreateDirectory(directory);
        foreach (var file in Directory.EnumerateFiles(directory, "*" + Extension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(file), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                _segments.Add(number);
                _sizes[number] = new FileInfo(file).Length;
            }
        }

        _segments.Sort();
        _cursor = ReadCursor() ?? new SpoolPosition(_segments.Count > 0 ? _segments[0] : 1, 0);
        // Segments before the cursor are shipped; a crash can leave one behind between the commit and the delete.
        while (_segments.Count > 0 && _segments[0] < _cursor.Segment)
        {
            DeleteSegment(_segments[0]);
        }

        _current = Math.Max(_segments.Count > 0 ? _segments[^1] + 1 : 1, _cursor.Segment);
        if (_segments.Count == 0 || _cursor.Segment > _segments[^1])
        {
            _cursor = new SpoolPosition(_current, 0);
        }

        _writer = OpenSegment(_current);
        _totalBytes = _sizes.Values.Sum();
        _metrics.SpoolBytes = _totalBytes;
        WriteCursor();
    }

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

    /// <summary>Appends one whole record (ending in <c>\n</c>). Writer thread only; visible to the reader after <see cref="Flush"/>.</summary>
    public void Append(ReadOnlySpan<byte> record)
    {
        _writer.Write(record);
        _writerLength += record.Length;
        lock (_gate)
        {
            _sizes[_current] = _writerLength;
            _totalBytes += record.Length;
        }

        if (_writerLength >= _segmentBytes)
        {
            Roll();
        }
    }

    /// <summary>Hands what was appended to the OS (and to the disk with <paramref name="toDisk"/>), publishes it to the reader, and applies the caps.</summary>
    public void Flush(bool toDisk)
    {
        _writer.Flush(toDisk);
        Volatile.Write(ref _committedLength, _writerLength);
        EnforceLimits();
    }

    /// <summary>Reads up to <paramref name="maxCount"/> records and about <paramref name="maxBytes"/> from the cursor. Reader thread only; valid until the next call.</summary>
    public SpoolBatch ReadBatch(int maxCount, int maxBytes)
    {
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
            var read = ReadAt(position, length, limit);
            var records = new List<SpoolRecord>(Math.Min(maxCount, 1024));
            var consumed = 0;
            var bytes = 0;
            var span = _readBuffer.AsSpan(0, read);
            while (records.Count < maxCount && consumed < read)
            {
                var newline = span[consumed..].IndexOf((byte)'\n');
                if (newline < 0 || (bytes > 0 && bytes + newline > maxBytes))
                {
                    break;
                }

                if (TryParse(_readBuffer.AsMemory(consumed, newline), out var record))
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

            if (consumed == 0 && sealedSegment && read == limit - position.Offset)
            {
                // The rest of a sealed segment is one record without its newline: torn by a crash mid-write.
                FinishSegment(position, tornBytes: true);
                continue;
            }

            var end = position with { Offset = position.Offset + consumed };
            if (records.Count == 0 && consumed > 0)
            {
                Commit(end);
                continue;
            }

            return new SpoolBatch(records, end);
        }
    }

    /// <summary>Moves the cursor to <paramref name="end"/> (never backwards) and persists it.</summary>
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

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _writer.Flush(flushToDisk: true);
        _writer.Dispose();
    }

    private int ReadAt(SpoolPosition position, int length, long limit)
    {
        using var file = new FileStream(SegmentPath(position.Segment), new FileStreamOptions
        {
            Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete, BufferSize = 0,
        });
        var total = 0;
        while (true)
        {
            if (_readBuffer.Length < length)
            {
                Array.Resize(ref _readBuffer, length);
            }

            while (total < length)
            {
                var n = RandomAccess.Read(file.SafeFileHandle, _readBuffer.AsSpan(total, length - total), position.Offset + total);
                if (n == 0)
                {
                    return total;
                }

                total += n;
            }

            // A record longer than the batch limit: read on until its newline so it is still shipped (alone).
            if (_readBuffer.AsSpan(0, total).IndexOf((byte)'\n') >= 0 || position.Offset + total >= limit)
            {
                return total;
            }

            length = (int)Math.Min(limit - position.Offset, (long)length * 2);
        }
    }

    private static bool TryParse(ReadOnlyMemory<byte> line, out SpoolRecord record)
    {
        record = default;
        var span = line.Span;
        var first = span.IndexOf((byte)' ');
        if (first <= 0)
        {
            return false;
        }

        var second = span[(first + 1)..].IndexOf((byte)' ');
        if (second <= 0 || !long.TryParse(span.Slice(first + 1, second), NumberStyles.None, CultureInfo.InvariantCulture, out var unixMs))
        {
            return false;
        }

        var start = first + 1 + second + 1;
        if (start >= span.Length || span[start] != (byte)'{')
        {
            return false;
        }

        record = new SpoolRecord(Encoding.ASCII.GetString(span[..first]), unixMs, line[start..]);
        return true;
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

    private void Roll()
    {
        _writer.Flush(flushToDisk: false);
        _writer.Dispose();
        lock (_gate)
        {
            _current++;
            Volatile.Write(ref _committedLength, 0);
            _writerLength = 0;
            _writer = OpenSegment(_current);
        }

        EnforceLimits();
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
                while (_segments.Count > 1 && File.GetLastWriteTimeUtc(SegmentPath(_segments[0])) < now.UtcDateTime - _maxAge)
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
        catch (IOException)
        {
            return 0;
        }
    }

    private void DeleteSegment(long segment)
    {
        _segments.Remove(segment);
        if (_sizes.Remove(segment, out var size))
        {
            _totalBytes -= size;
        }

        try
        {
            File.Delete(SegmentPath(segment));
        }
        catch (IOException)
        {
            // Deleted already, or the disk is failing: the size bookkeeping above is what the caps use.
        }

        _metrics.SpoolBytes = _totalBytes;
    }

    private FileStream OpenSegment(long segment)
    {
        _segments.Add(segment);
        _sizes[segment] = 0;
        return new FileStream(SegmentPath(segment), new FileStreamOptions
        {
            Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read | FileShare.Delete, BufferSize = 64 << 10,
        });
    }

    private string SegmentPath(long segment) => Path.Join(_directory, segment.ToString("D12", CultureInfo.InvariantCulture) + Extension);

    private SpoolPosition? ReadCursor()
    {
        try
        {
            var parts = File.ReadAllText(_cursorPath).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == 2
                && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var segment)
                && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                return new SpoolPosition(segment, offset);
            }
        }
        catch (FileNotFoundException)
        {
        }

        return null;
    }

    private void WriteCursor()
    {
        var temp = _cursorPath + ".tmp";
        File.WriteAllText(temp, string.Create(CultureInfo.InvariantCulture, $"{_cursor.Segment} {_cursor.Offset}\n"));
        File.Move(temp, _cursorPath, overwrite: true);
    }
}
