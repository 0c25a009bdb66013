namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>The sink's counters, written by the writer and shipper threads and read by the shipper collector (Collectors/Shipper).</summary>
internal sealed class ShipperMetrics
{
    private long _shipped;
    private long _retried;
    private long _duplicates;
    private long _deadLettered;
    private long _droppedSpoolFull;
    private long _droppedSpoolAge;
    private long _droppedQueueFull;
    private long _droppedCorrupt;
    private long _spoolBytes;
    private long _oldestUnshippedUnixMs;
    private long _requestsFailed;
    private long _droppedSpoolUnwritable;
    private long _droppedTooLarge;
    private long _internalErrors;
    private long _memoryQueueBytes;
    private int _spoolWritable = 1;
    private readonly long[] _spoolErrors = new long[Enum.GetValues<SpoolOperation>().Length];
    private int _up;

    /// <summary>Documents Elasticsearch acknowledged as created.</summary>
    public long Shipped => Interlocked.Read(ref _shipped);

    /// <summary>Documents sent again after a retryable failure (per attempt).</summary>
    public long Retried => Interlocked.Read(ref _retried);

    /// <summary>Documents answered with 409: already stored, counted as done.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Documents rejected permanently and written to the dead-letter file.</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>Events dropped because the spool reached its size cap.</summary>
    public long DroppedSpoolFull => Interlocked.Read(ref _droppedSpoolFull);

    /// <summary>Events dropped because their segment outlived the spool's maximum age.</summary>
    public long DroppedSpoolAge => Interlocked.Read(ref _droppedSpoolAge);

    /// <summary>Events dropped because the in-memory queue in front of the spool writer was full.</summary>
    public long DroppedQueueFull => Interlocked.Read(ref _droppedQueueFull);

    /// <summary>Records dropped because they were torn (a crash mid-write) or unreadable.</summary>
    public long DroppedCorrupt => Interlocked.Read(ref _droppedCorrupt);

    /// <summary>Events dropped, oldest first, from the in-memory queue that holds them while the spool's disk refuses writes.</summary>
    public long DroppedSpoolUnwritable => Interlocked.Read(ref _droppedSpoolUnwritable);

    /// <summary>Events dropped because their document was larger than <see cref="Spool.MaxRecordBytes"/>.</summary>
    public long DroppedTooLarge => Interlocked.Read(ref _droppedTooLarge);

    /// <summary>Every dropped event.</summary>
    public long Dropped => DroppedSpoolFull + DroppedSpoolAge + DroppedQueueFull + DroppedCorrupt + DroppedSpoolUnwritable + DroppedTooLarge;

    /// <summary>Bytes of events waiting in memory for the spool.</summary>
    public long MemoryQueueBytes
    {
        get => Interlocked.Read(ref _memoryQueueBytes);
        set => Interlocked.Exchange(ref _memoryQueueBytes, value);
    }

    /// <summary>False while the spool's disk refuses writes.</summary>
    public bool SpoolWritable
    {
        get => Volatile.Read(ref _spoolWritable) == 1;
        set => Volatile.Write(ref _spoolWritable, value ? 1 : 0);
    }

    /// <summary>Unexpected exceptions caught by the writer and shipper loops (bugs, not disk or network faults).</summary>
    public long InternalErrors => Interlocked.Read(ref _internalErrors);

    /// <summary>Failed disk operations of the spool, by operation.</summary>
    public long SpoolErrors(SpoolOperation operation) => Interlocked.Read(ref _spoolErrors[(int)operation]);

    /// <summary>Bytes in the spool's segment files.</summary>
    public long SpoolBytes
    {
        get => Interlocked.Read(ref _spoolBytes);
        set => Interlocked.Exchange(ref _spoolBytes, value);
    }

    /// <summary>Timestamp (Unix ms) of the oldest event not yet done, or 0 when everything is shipped.</summary>
    public long OldestUnshippedUnixMs
    {
        get => Interlocked.Read(ref _oldestUnshippedUnixMs);
        set => Interlocked.Exchange(ref _oldestUnshippedUnixMs, value);
    }

    /// <summary>Whole <c>_bulk</c> requests that failed (connection, timeout, 5xx, 429, 401/403).</summary>
    public long RequestsFailed => Interlocked.Read(ref _requestsFailed);

    /// <summary>True while the last <c>_bulk</c> request got an answer it could use.</summary>
    public bool Up
    {
        get => Volatile.Read(ref _up) == 1;
        set => Volatile.Write(ref _up, value ? 1 : 0);
    }

    public void AddShipped(long n) => Interlocked.Add(ref _shipped, n);

    public void AddRetried(long n) => Interlocked.Add(ref _retried, n);

    public void AddDuplicates(long n) => Interlocked.Add(ref _duplicates, n);

    public void AddDeadLettered(long n) => Interlocked.Add(ref _deadLettered, n);

    public void AddDroppedSpoolFull(long n) => Interlocked.Add(ref _droppedSpoolFull, n);

    public void AddDroppedSpoolAge(long n) => Interlocked.Add(ref _droppedSpoolAge, n);

    public void AddDroppedQueueFull(long n) => Interlocked.Add(ref _droppedQueueFull, n);

    public void AddDroppedCorrupt(long n) => Interlocked.Add(ref _droppedCorrupt, n);

    public void AddDroppedSpoolUnwritable(long n) => Interlocked.Add(ref _droppedSpoolUnwritable, n);

    public void AddDroppedTooLarge(long n) => Interlocked.Add(ref _droppedTooLarge, n);

    public void AddSpoolError(SpoolOperation operation) => Interlocked.Increment(ref _spoolErrors[(int)operation]);

    public void AddInternalError() => Interlocked.Increment(ref _internalErrors);

    public void AddRequestFailed() => Interlocked.Increment(ref _requestsFailed);
}
