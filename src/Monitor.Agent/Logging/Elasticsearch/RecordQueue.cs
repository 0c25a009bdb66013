namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>
/// Formatted spool records (<c>&lt;id&gt; &lt;unix-ms&gt; &lt;ECS JSON&gt;\n</c>, no other newline inside) that have not
/// reached the spool yet: a FIFO ring bounded in <b>bytes</b>. Enqueueing beyond the bound drops the oldest records
/// first and returns how many, so the caller counts them. While the spool takes every write the queue holds only the
/// records of one writer pass; it fills only while the disk refuses writes. Every record gets a sequence number (one
/// more than the record before it), so the shipper can copy records out, ship them and then remove exactly those
/// that are still queued. The buffer starts at 64 KiB and doubles up to the bound; it shrinks back once empty.
/// Thread-safe: the spool writer enqueues and removes, the shipper copies and removes.
/// </summary>
internal sealed class RecordQueue
{
    private const int InitialBytes = 64 << 10;
    private readonly Lock _gate = new();
    private readonly int _maxBytes;
    private byte[] _buffer;
    private int _head;
    private int _length;
    private int _count;
    private long _firstSequence;
    private volatile bool _stranded;

    /// <param name="maxBytes">The bound in bytes; a record larger than this can never be queued.</param>
    public RecordQueue(int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        _maxBytes = maxBytes;
        _buffer = new byte[Math.Min(InitialBytes, maxBytes)];
    }

    /// <summary>The bound in bytes.</summary>
    public int MaxBytes => _maxBytes;

    /// <summary>Records queued.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Bytes queued.</summary>
    public int Bytes
    {
        get
        {
            lock (_gate)
            {
                return _length;
            }
        }
    }

    /// <summary>Bytes the ring holds allocated (for tests: it shrinks back once empty).</summary>
    public int Capacity
    {
        get
        {
            lock (_gate)
            {
                return _buffer.Length;
            }
        }
    }

    /// <summary>
    /// True while the queued records cannot reach the spool (its disk refused the last write, or shutdown gave up on
    /// it): the shipper may then ship them straight from memory.
    /// </summary>
    public bool Stranded
    {
        get => _stranded;
        set => _stranded = value;
    }

    /// <summary>Appends one record (ending in <c>\n</c>), dropping the oldest records to make room; returns how many were dropped.</summary>
    /// <exception cref="ArgumentException">The record is empty, larger than <see cref="MaxBytes"/>, or does not end in a newline.</exception>
    public int Enqueue(ReadOnlySpan<byte> record)
    {
        if (record.Length == 0 || record.Length > _maxBytes || record[^1] != (byte)'\n')
        {
            throw new ArgumentException($"a record is 1 to {_maxBytes} bytes ending in a newline", nameof(record));
        }

        lock (_gate)
        {
            var dropped = 0;
            while (_length + record.Length > _maxBytes)
            {
                RemoveFirstLocked(1);
                dropped++;
            }

            if (_buffer.Length - _length < record.Length)
            {
                Grow(_length + record.Length);
            }

            var tail = (_head + _length) % _buffer.Length;
            var first = Math.Min(record.Length, _buffer.Length - tail);
            record[..first].CopyTo(_buffer.AsSpan(tail));
            record[first..].CopyTo(_buffer);
            _length += record.Length;
            _count++;
            return dropped;
        }
    }

    /// <summary>
    /// The oldest whole records, about <paramref name="maxBytes"/> at most (at least one), as up to two spans of the
    /// ring. The spans stay valid until the next <see cref="Enqueue"/> or <see cref="TrimIfEmpty"/>, which only the
    /// caller (the spool writer) makes. Returns false when the queue is empty.
    /// </summary>
    public bool PeekChunk(int maxBytes, out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> second, out QueuedRange range)
    {
        lock (_gate)
        {
            first = default;
            second = default;
            range = default;
            if (_count == 0)
            {
                return false;
            }

            // The chunk ends after the last newline within maxBytes, or after the first newline when one record is longer.
            var window = Math.Min(_length, Math.Max(maxBytes, 1));
            var end = LastNewlineWithin(window);
            if (end < 0)
            {
                end = FirstNewlineFrom(0);
            }

            var bytes = end + 1;
            var firstLength = Math.Min(bytes, _buffer.Length - _head);
            first = _buffer.AsSpan(_head, firstLength);
            second = _buffer.AsSpan(0, bytes - firstLength);
            var records = first.Count((byte)'\n') + second.Count((byte)'\n');
            range = new QueuedRange(_firstSequence, records, bytes);
            return true;
        }
    }

    /// <summary>Copies up to <paramref name="maxCount"/> of the oldest records, about <paramref name="maxBytes"/> at most (at least one), for the shipper.</summary>
    public (byte[] Bytes, QueuedRange Range) Copy(int maxCount, int maxBytes)
    {
        lock (_gate)
        {
            if (_count == 0)
            {
                return ([], default);
            }

            var bytes = 0;
            var records = 0;
            while (records < Math.Min(maxCount, _count))
            {
                var next = FirstNewlineFrom(bytes) + 1;
                if (records > 0 && next > maxBytes)
                {
                    break;
                }

                bytes = next;
                records++;
            }

            var copy = new byte[bytes];
            var firstLength = Math.Min(bytes, _buffer.Length - _head);
            _buffer.AsSpan(_head, firstLength).CopyTo(copy);
            _buffer.AsSpan(0, bytes - firstLength).CopyTo(copy.AsSpan(firstLength));
            return (copy, new QueuedRange(_firstSequence, records, bytes));
        }
    }

    /// <summary>Removes the records of <paramref name="range"/> that are still queued (some may have been dropped or removed since); returns how many it removed.</summary>
    public int Remove(QueuedRange range)
    {
        lock (_gate)
        {
            var end = range.Start + range.Records;
            if (end <= _firstSequence || _count == 0)
            {
                return 0;
            }

            if (range.Start == _firstSequence && range.Records <= _count)
            {
                // Nothing moved since the range was taken: its byte length is exact.
                _head = _length == range.Bytes ? 0 : (_head + range.Bytes) % _buffer.Length;
                _length -= range.Bytes;
                _count -= range.Records;
                _firstSequence = end;
                return range.Records;
            }

            var n = (int)Math.Min(end - _firstSequence, _count);
            RemoveFirstLocked(n);
            return n;
        }
    }

    /// <summary>Drops every queued record; returns how many.</summary>
    public int Clear()
    {
        lock (_gate)
        {
            var n = _count;
            _firstSequence += n;
            _head = 0;
            _length = 0;
            _count = 0;
            return n;
        }
    }

    /// <summary>Gives a buffer grown during an outage back once the queue is empty again.</summary>
    public void TrimIfEmpty()
    {
        lock (_gate)
        {
            if (_count == 0 && _buffer.Length > InitialBytes)
            {
                _buffer = new byte[Math.Min(InitialBytes, _maxBytes)];
                _head = 0;
            }
        }
    }

    private void RemoveFirstLocked(int records)
    {
        var bytes = 0;
        for (var i = 0; i < records; i++)
        {
            bytes = FirstNewlineFrom(bytes) + 1;
        }

        _head = _length == bytes ? 0 : (_head + bytes) % _buffer.Length;
        _length -= bytes;
        _count -= records;
        _firstSequence += records;
    }

    /// <summary>Offset (from the head) of the first newline at or after <paramref name="from"/>; the queue always ends in one.</summary>
    private int FirstNewlineFrom(int from)
    {
        var start = (_head + from) % _buffer.Length;
        var contiguous = Math.Min(_length - from, _buffer.Length - start);
        var index = _buffer.AsSpan(start, contiguous).IndexOf((byte)'\n');
        if (index >= 0)
        {
            return from + index;
        }

        index = _buffer.AsSpan(0, _length - from - contiguous).IndexOf((byte)'\n');
        return index < 0 ? throw new InvalidOperationException("the record queue does not end in a newline") : from + contiguous + index;
    }

    /// <summary>Offset (from the head) of the last newline among the first <paramref name="window"/> bytes, or -1.</summary>
    private int LastNewlineWithin(int window)
    {
        var contiguous = Math.Min(window, _buffer.Length - _head);
        var index = _buffer.AsSpan(0, window - contiguous).LastIndexOf((byte)'\n');
        if (index >= 0)
        {
            return contiguous + index;
        }

        return _buffer.AsSpan(_head, contiguous).LastIndexOf((byte)'\n');
    }

    private void Grow(int needed)
    {
        var size = _buffer.Length;
        while (size < needed)
        {
            size = (int)Math.Min((long)size * 2, _maxBytes);
        }

        var bigger = new byte[size];
        var firstLength = Math.Min(_length, _buffer.Length - _head);
        _buffer.AsSpan(_head, firstLength).CopyTo(bigger);
        _buffer.AsSpan(0, _length - firstLength).CopyTo(bigger.AsSpan(firstLength));
        _buffer = bigger;
        _head = 0;
    }
}
