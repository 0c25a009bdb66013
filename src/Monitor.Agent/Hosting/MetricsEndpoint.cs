using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Monitor.Agent.Collectors;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Serves <c>/metrics</c>: refreshes the on-scrape collectors, renders the registry in the negotiated format into a
/// pooled buffer, and sends it, gzipped when the client accepts it (in two halves on two threads, <see cref="SplitGzip"/>).
/// Rendering first and sending after keeps the registry walk short and lets every response carry Content-Length.
/// </summary>
internal sealed class MetricsEndpoint
{
    private readonly MetricRegistry _registry;
    private readonly CollectorRunner _runner;
    private readonly TimeProvider _time;
    private readonly RequestLimiter _limiter;
    private readonly Series _textScrapes;
    private readonly Series _openMetricsScrapes;
    private readonly Lock _countLock = new();
    private readonly SplitGzip _gzip = new();
    private int _sizeHint = 64 * 1024;

    public MetricsEndpoint(MetricRegistry registry, CollectorRunner runner, TimeProvider time, RequestLimiter limiter)
    {
        _registry = registry;
        _runner = runner;
        _time = time;
        _limiter = limiter;
        var group = new MetricGroup("exposition");
        var scrapes = group.Counter("monitor_agent_scrapes_total", "Scrapes served, by exposition format.", "format");
        _textScrapes = scrapes.Get("text");
        _openMetricsScrapes = scrapes.Get("openmetrics");
        _textScrapes.Set(0);
        _openMetricsScrapes.Set(0);
        registry.Register(group);
    }

    /// <summary>Handles one scrape.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var arrived = _time.GetTimestamp();
        if (!_limiter.TryEnter())
        {
            await _limiter.RejectAsync(context).ConfigureAwait(false);
            return;
        }

        try
        {
            await _runner.UpdateForScrapeAsync(arrived, context.RequestAborted).ConfigureAwait(false);
            var format = ExpositionFormats.Negotiate(context.Request.Headers.Accept.ToString());
            Count(format == ExpositionFormat.OpenMetrics100 ? _openMetricsScrapes : _textScrapes);
            var response = context.Response;
            response.ContentType = ExpositionFormats.ContentType(format);
            response.Headers.Vary = "Accept, Accept-Encoding";
            if (HttpMethods.IsHead(context.Request.Method))
            {
                return;
            }

            var sizeHint = Volatile.Read(ref _sizeHint);
            if (AcceptsGzip(context.Request.Headers.AcceptEncoding))
            {
                using var gzipped = new PooledBufferWriter(Math.Max(sizeHint / 4, 4096));
                int size;
                using (var pinned = _registry.Pin())
                {
                    size = await _gzip.WriteAsync(pinned, format, gzipped, sizeHint).ConfigureAwait(false);
                }

                Volatile.Write(ref _sizeHint, Math.Max(size + 4096, 16 * 1024));
                response.Headers.ContentEncoding = "gzip";
                response.ContentLength = gzipped.WrittenCount;
                await response.Body.WriteAsync(gzipped.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                using var buffer = new PooledBufferWriter(sizeHint);
                _registry.WriteTo(buffer, format);
                Volatile.Write(ref _sizeHint, Math.Max(buffer.WrittenCount + 4096, 16 * 1024));
                response.ContentLength = buffer.WrittenCount;
                await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The scraper gave up (its scrape_timeout); nothing to send.
        }
        finally
        {
            _limiter.Exit();
        }
    }

    // Series.Add is single-writer; scrapes run concurrently, and a counter must never step back.
    private void Count(Series series)
    {
        lock (_countLock)
        {
            series.Add(1);
        }
    }

    /// <summary>True when Accept-Encoding lists gzip (or *) with a non-zero q.</summary>
    internal static bool AcceptsGzip(StringValues acceptEncoding)
    {
        foreach (var header in acceptEncoding)
        {
            foreach (var item in (header ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var semicolon = item.IndexOf(';', StringComparison.Ordinal);
                var coding = semicolon < 0 ? item : item[..semicolon].Trim();
                if (!coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) && coding != "*")
                {
                    continue;
                }

                var q = semicolon < 0 ? string.Empty : item[(semicolon + 1)..].Replace(" ", string.Empty, StringComparison.Ordinal);
                if (q is "q=0" or "q=0.0" or "q=0.00" or "q=0.000")
                {
                    continue;
                }

                return true;
            }
        }

        return false;
    }
}
