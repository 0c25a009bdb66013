using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Serilog.Core;
using Serilog.Events;

namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>
/// The Serilog sink that ships to Elasticsearch without loss. <see cref="Emit"/> only offers the event to a bounded
/// hand-off queue (a full queue counts a drop instead of blocking the caller); a writer thread formats each event as
/// an ECS document with a fresh 128-bit <c>_id</c> into a <see cref="RecordQueue"/> bounded in bytes and writes that
/// to the <see cref="Spool"/>; the <see cref="BulkShipper"/> ships from the spool. Nothing waits for Elasticsearch, at
/// startup or ever.
/// <para>
/// When the spool's disk refuses a write (full, failing, read-only), the records stay in the record queue, the oldest
/// dropped and counted beyond its bound; the writer tries the spool again every <see cref="FlushInterval"/> and empties
/// the queue into it as soon as the disk takes writes again; meanwhile the shipper ships them straight from memory.
/// No exception leaves the writer loop, and <see cref="DisposeAsync"/> never throws.
/// </para>
/// <para>
/// The shipper's own events (category <see cref="ShipperLog.Category"/>, ids 1300–1399) are left out here: they reach the
/// console only, so a rejection can never produce an event that is shipped and rejected again.
/// </para>
/// </summary>
internal sealed class ElasticsearchSink : ILogEventSink, IAsyncDisposable
{
    /// <summary>How often the writer syncs the spool to disk, and how often it tries a spool that refused a write again.</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);

    // Written to the spool in pieces of this size during a burst, so the record queue stays small while the disk is fine.
    private const int WriteChunkBytes = 256 << 10;
    private readonly ElasticsearchOptions _options;
    private readonly Channel<LogEvent> _queue;
    private readonly RecordQueue _pending;
    private readonly EcsJsonFormatter _formatter;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _drainDeadline = new();
    private readonly Task _writer;
    private readonly Task _shipping;
    private ILogger _logger = NullLogger.Instance;
    private long _lastAttempt;
    private bool _queueFullLogged;
    private int _tooLargeLogged;
    private int _internalLogged;
    private volatile bool _disposed;

    public ElasticsearchSink(ElasticsearchOptions options, string service, string version, string host, TimeProvider time,
        Random? random = null, Func<TimeSpan, CancellationToken, Task>? delay = null)
    {
        _options = options;
        _time = time;
        Metrics = new ShipperMetrics();
        _formatter = new EcsJsonFormatter(service, version, host, options.Dataset);
        _queue = Channel.CreateBounded<LogEvent>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = false,
        });
        _pending = new RecordQueue(options.MemoryQueueMaxBytes);
        Spool = new Spool(options.SpoolPath, options.SpoolMaxBytes, options.SpoolMaxAge, options.EffectiveSegmentBytes, time, Metrics);
        Shipper = new BulkShipper(options, Spool, Metrics, time, random ?? Random.Shared, delay, memory: _pending);
        _writer = Task.Factory.StartNew(WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        _shipping = Task.Run(() => Shipper.RunAsync(_stop.Token, _drainDeadline.Token));
    }

    /// <summary>Counters for the shipper collector (Collectors/Shipper).</summary>
    public ShipperMetrics Metrics { get; }

    /// <summary>The spool.</summary>
    internal Spool Spool { get; }

    /// <summary>The shipper.</summary>
    internal BulkShipper Shipper { get; }

    /// <summary>Events formatted but not yet in the spool (they wait here while its disk refuses writes).</summary>
    internal RecordQueue Pending => _pending;

    /// <summary>Gives the sink's own log events a logger once the pipeline exists.</summary>
    public void SetLogger(ILogger logger)
    {
        _logger = logger;
        Shipper.SetLogger(logger);
        Spool.Health.SetLogger(logger);
    }

    public void Emit(LogEvent logEvent)
    {
        if (IsShipperEvent(logEvent))
        {
            // Kept off the shipping path: see the class comment.
            return;
        }

        // After shutdown began the console still has the event; it is not a drop of anything we promised to ship.
        if (!_queue.Writer.TryWrite(logEvent) && !_disposed)
        {
            Metrics.AddDroppedQueueFull(1);
        }
    }

    /// <summary>
    /// Stops intake, writes what is queued to the spool and syncs it, then ships for at most
    /// <see cref="ElasticsearchOptions.ShutdownTimeout"/>, from the spool and then from memory what the spool refused;
    /// the rest stays on disk for the next start, and what could reach neither is counted and logged. Never throws.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            _queue.Writer.TryComplete();
            await _writer.ConfigureAwait(false);
            _drainDeadline.CancelAfter(_options.ShutdownTimeout);
            await _stop.CancelAsync().ConfigureAwait(false);
            Shipper.Wake();
            await _shipping.ConfigureAwait(false);
            if (_drainDeadline.IsCancellationRequested)
            {
                Shipper.LogLeftOnDisk(_options.ShutdownTimeout);
            }

            var lost = _pending.Clear();
            if (lost > 0)
            {
                Metrics.AddDroppedSpoolUnwritable(lost);
                Metrics.MemoryQueueBytes = 0;
                ShipperLog.ShutdownLost(_logger, lost, Spool.DirectoryPath);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The process is ending: report, and still release the spool below.
            ReportInternal("shutdown", ex);
        }
        finally
        {
            Spool.Dispose();
            Shipper.Dispose();
            _stop.Dispose();
            _drainDeadline.Dispose();
        }
    }

    private static bool IsShipperEvent(LogEvent logEvent) =>
        logEvent.Properties.TryGetValue("SourceContext", out var source) && source is ScalarValue { Value: string category }
        && string.Equals(category, ShipperLog.Category, StringComparison.Ordinal);

    private async Task WriteLoop()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using var json = new Utf8JsonWriter(buffer, EcsJsonFormatter.JsonOptions);
        var lastSync = _time.GetTimestamp();
        var reader = _queue.Reader;
        var open = true;
        while (open)
        {
            try
            {
                open = await WaitAsync(reader).ConfigureAwait(false);
                while (reader.TryRead(out var logEvent))
                {
                    if (Format(buffer, json, logEvent))
                    {
                        Enqueue(buffer.WrittenSpan);
                    }

                    if (_pending.Bytes >= WriteChunkBytes && Metrics.SpoolWritable)
                    {
                        WritePending(sync: false, force: false);
                    }
                }

                // The hand-off queue is empty: publish to the shipper. Sync to disk at most once a second; a killed
                // process loses nothing that reached the OS, only a power cut can lose the last second.
                var sync = _time.GetElapsedTime(lastSync) >= FlushInterval;
                if (sync)
                {
                    lastSync = _time.GetTimestamp();
                }

                WritePending(sync, force: false);
                Shipper.Wake();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Not a disk fault (the spool reports those without throwing): a bug. Never leave the loop for it.
                ReportInternal("writer", ex);
                await Task.Delay(FlushInterval, _time).ConfigureAwait(false);
            }
        }

        try
        {
            WritePending(sync: true, force: true);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ReportInternal("writer", ex);
        }

        // What is still in memory could not reach the spool: the shutdown drain may ship it straight from memory.
        _pending.Stranded = _pending.Count > 0;
    }

    /// <summary>Waits for events; while records wait for a disk that refused them, also wakes when the next try is due. False once intake is closed.</summary>
    private async ValueTask<bool> WaitAsync(ChannelReader<LogEvent> reader)
    {
        if (_pending.Count == 0 && Metrics.SpoolWritable)
        {
            return await reader.WaitToReadAsync().ConfigureAwait(false);
        }

        var due = FlushInterval - _time.GetElapsedTime(_lastAttempt);
        if (due <= TimeSpan.Zero)
        {
            return !reader.Completion.IsCompleted;
        }

        using var timeout = new CancellationTokenSource(due, _time);
        try
        {
            return await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return true;
        }
    }

    private bool Format(ArrayBufferWriter<byte> buffer, Utf8JsonWriter json, LogEvent logEvent)
    {
        try
        {
            buffer.ResetWrittenCount();
            json.Reset(buffer);
            WritePrefix(buffer, logEvent);
            _formatter.Write(json, logEvent);
            json.Flush();
            buffer.GetSpan(1)[0] = (byte)'\n';
            buffer.Advance(1);
            return true;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException)
        {
            // An event the formatter cannot render (e.g. invalid UTF-16 in a property): dropped and counted, the rest go on.
            Metrics.AddDroppedCorrupt(1);
            return false;
        }
    }

    private void Enqueue(ReadOnlySpan<byte> record)
    {
        if (record.Length > Spool.MaxRecordBytes || record.Length > _pending.MaxBytes)
        {
            Metrics.AddDroppedTooLarge(1);
            if (Interlocked.Exchange(ref _tooLargeLogged, 1) == 0)
            {
                ShipperLog.TooLarge(_logger, record.Length, Math.Min(Spool.MaxRecordBytes, _pending.MaxBytes));
            }

            return;
        }

        if (Metrics.SpoolWritable && _pending.Bytes + record.Length > _pending.MaxBytes)
        {
            // A healthy spool never makes the queue drop: write what waits first.
            WritePending(sync: false, force: false);
        }

        var dropped = _pending.Enqueue(record);
        if (dropped > 0)
        {
            Metrics.AddDroppedSpoolUnwritable(dropped);
            if (!_queueFullLogged)
            {
                _queueFullLogged = true;
                ShipperLog.MemoryQueueFull(_logger, Spool.DirectoryPath, _pending.MaxBytes);
            }
        }
    }

    /// <summary>
    /// Writes the record queue to the spool, oldest first, and publishes it. While the disk refuses writes it is tried
    /// once per <see cref="FlushInterval"/> (or now with <paramref name="force"/>); the records stay queued meanwhile.
    /// </summary>
    private void WritePending(bool sync, bool force)
    {
        if (_pending.Count > 0 && (Metrics.SpoolWritable || force || _time.GetElapsedTime(_lastAttempt) >= FlushInterval))
        {
            _lastAttempt = _time.GetTimestamp();
            while (_pending.PeekChunk(WriteChunkBytes, out var first, out var second, out var range))
            {
                if (!Spool.TryWrite(first, second))
                {
                    // Counted and logged (once) by the spool's health; from now on the shipper may ship from memory.
                    Metrics.SpoolWritable = false;
                    _pending.Stranded = true;
                    break;
                }

                _pending.Remove(range);
                if (!Metrics.SpoolWritable)
                {
                    Metrics.SpoolWritable = true;
                    _pending.Stranded = false;
                    _queueFullLogged = false;
                }
            }

            _pending.TrimIfEmpty();
        }
        else if (_pending.Count == 0 && !Metrics.SpoolWritable && (force || _time.GetElapsedTime(_lastAttempt) >= FlushInterval))
        {
            // The shipper emptied the queue from memory: ask the disk directly, so spooling (and its durability)
            // resumes without waiting for an event to find out.
            _lastAttempt = _time.GetTimestamp();
            if (Spool.TryProbe())
            {
                Metrics.SpoolWritable = true;
                _pending.Stranded = false;
                _queueFullLogged = false;
            }
        }

        Metrics.MemoryQueueBytes = _pending.Bytes;
        Spool.Flush(sync);
    }

    private void ReportInternal(string loop, Exception ex)
    {
        Metrics.AddInternalError();
        if (Interlocked.Exchange(ref _internalLogged, 1) == 0)
        {
            ShipperLog.InternalError(_logger, ex, loop, FlushInterval.TotalSeconds);
        }
    }

    private static void WritePrefix(ArrayBufferWriter<byte> buffer, LogEvent logEvent)
    {
        // <id> <unix-ms> : the id is a random 128-bit GUID in hex, minted once so a re-send after a crash is a 409.
        var span = buffer.GetSpan(64);
        Guid.NewGuid().TryFormat(span, out var written, "N");
        span[written++] = (byte)' ';
        logEvent.Timestamp.ToUnixTimeMilliseconds().TryFormat(span[written..], out var digits, default, CultureInfo.InvariantCulture);
        written += digits;
        span[written++] = (byte)' ';
        buffer.Advance(written);
    }
}
