using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Hosting;

/// <summary>
/// <c>--web.max-requests</c>: how many requests that do work (<c>/metrics</c> and <c>/api/v1/jobs</c>) may be in
/// flight together; one more is answered 503 at once and counted. Cheap answers (<c>/healthz</c>, <c>/</c>, 401, 404,
/// 405, 429) do not count against it.
/// </summary>
internal sealed partial class RequestLimiter
{
    private readonly int _limit;
    private readonly ILogger _logger;
    private readonly SharedSeries _rejected;
    private readonly TimeProvider _time;
    private int _inFlight;
    private long _unlogged;
    private long _lastLog = long.MinValue;

    /// <param name="limit">The limit; 0 disables it.</param>
    /// <param name="registry">Where the rejection counter is registered.</param>
    /// <param name="logger">Logs rejections, at most one line per 10 s with the count since the last line.</param>
    /// <param name="time">The clock of the log rate limit.</param>
    public RequestLimiter(int limit, MetricRegistry registry, ILogger logger, TimeProvider time)
    {
        _limit = limit;
        _logger = logger;
        _time = time;
        var group = new MetricGroup("http_requests");
        _rejected = SharedSeries.Start(group.Counter(
            "monitor_agent_scrapes_rejected_total",
            "Requests to the metrics path or /api/v1/jobs refused with 503 because --web.max-requests were already in flight.").Get());
        registry.Register(group);
    }

    /// <summary>Takes a slot; false (nothing taken) when <c>--web.max-requests</c> are in flight.</summary>
    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _inFlight) <= _limit || _limit <= 0)
        {
            return true;
        }

        Interlocked.Decrement(ref _inFlight);
        return false;
    }

    /// <summary>Gives back a slot taken by <see cref="TryEnter"/>.</summary>
    public void Exit() => Interlocked.Decrement(ref _inFlight);

    /// <summary>Counts, logs and answers a request <see cref="TryEnter"/> refused.</summary>
    public Task RejectAsync(HttpContext context)
    {
        _rejected.Add(1);
        Interlocked.Increment(ref _unlogged);
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastLog);
        if ((last == long.MinValue || _time.GetElapsedTime(last, now) >= LogInterval) && Interlocked.CompareExchange(ref _lastLog, now, last) == last)
        {
            LogRejected(_logger, Interlocked.Exchange(ref _unlogged, 0), _limit, context.Request.Path.Value ?? string.Empty);
        }

        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync($"Too many concurrent requests (limit {_limit}, --web.max-requests).\n", context.RequestAborted);
    }

    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    [LoggerMessage(EventId = EventIds.ScrapeRejected, EventName = "scrape_rejected", Level = LogLevel.Warning,
        Message = "{Count} request(s) rejected since the last such line: more than {Limit} in flight (--web.max-requests); the latest for {Path}")]
    private static partial void LogRejected(ILogger logger, long count, int limit, string path);
}
