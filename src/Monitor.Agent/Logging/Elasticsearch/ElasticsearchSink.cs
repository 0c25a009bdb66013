using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Serilog.Core;
using Serilog.Events;

namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>
/// The Serilog sink that ships to Elasticsearch without loss. <see cref="Emit"/> only offers the event to a bounded
/// in-memory queue (a full queue counts a drop instead of blocking the caller); a writer thread formats each event as
/// an ECS document with a fresh 128-bit <c>_id</c> and appends it to the <see cref="Spool"/>; the
/// <see cref="BulkShipper"/> ships from the spool. Nothing waits for Elasticsearch, at startup or ever.
/// </summary>
internal sealed class ElasticsearchSink : ILogEventSink, IAsyncDisposable
{
    private readonly ElasticsearchOptions _options;
    private readonly Channel<LogEvent> _queue;
    private readonly EcsJsonFormatter _formatter;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _drainDeadline;
    private readonly Task _writer;
    private readonly Task _shipping;
    private bool _disposed;

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
        Spool = new Spool(options.SpoolPath, options.SpoolMaxBytes, options.SpoolMaxAge, options.EffectiveSegmentBytes, time, Metrics);
        Shipper = new BulkShipper(options, Spool, Metrics, time, random ?? Random.Shared, delay);
        _drainDeadline = new CancellationTokenSource();
        _writer = Task.Factory.StartNew(WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        _shipping = Task.Run(() => Shipper.RunAsync(_stop.Token, _drainDeadline.Token));
    }

    /// <summary>Counters for <see cref="ShipperCollector"/>.</summary>
    public ShipperMetrics Metrics { get; }

    /// <summary>The spool.</summary>
    internal Spool Spool { get; }

    /// <summary>The shipper.</summary>
    internal BulkShipper Shipper { get; }

    /// <summary>Gives the sink's own log events a logger once the pipeline exists.</summary>
    public void SetLogger(ILogger logger) => Shipper.SetLogger(logger);

    public void Emit(LogEvent logEvent)
    {
        // After shutdown began the console still has the event; it is not a drop of anything we promised to ship.
        if (!_queue.Writer.TryWrite(logEvent) && !_disposed)
        {
            Metrics.AddDroppedQueueFull(1);
        }
    }

    /// <summary>
    /// Stops intake, writes what is queued to the spool and syncs it, then ships for at most
    /// <see cref="ElasticsearchOptions.ShutdownTimeout"/>; the rest stays on disk for the next start.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        _drainDeadline.CancelAfter(_options.ShutdownTimeout);
        await _stop.CancelAsync().ConfigureAwait(false);
        Shipper.Wake();
        try
        {
            await _shipping.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The drain deadline passed mid-request.
        }

        if (_drainDeadline.IsCancellationRequested)
        {
            Shipper.LogLeftOnDisk(_options.ShutdownTimeout);
        }

        Spool.Dispose();
        Shipper.Dispose();
        _stop.Dispose();
        _drainDeadline.Dispose();
    }

    private async Task WriteLoop()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        var json = new Utf8JsonWriter(buffer, EcsJsonFormatter.JsonOptions);
        var lastSync = _time.GetTimestamp();
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var logEvent))
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
                        Spool.Append(buffer.WrittenSpan);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
                    {
                        Metrics.AddDroppedCorrupt(1);
                    }
                }

                // The queue is empty: publish to the shipper. Sync to disk at most once a second; a killed process
                // loses nothing that reached the OS, only a power cut can lose the last second.
                var sync = _time.GetElapsedTime(lastSync) >= TimeSpan.FromSeconds(1);
                if (sync)
                {
                    lastSync = _time.GetTimestamp();
                }

                Spool.Flush(sync);
                Shipper.Wake();
            }

            Spool.Flush(toDisk: true);
        }
        finally
        {
            await json.DisposeAsync().ConfigureAwait(false);
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
