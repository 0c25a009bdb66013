using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Hosting;

/// <summary>
/// <c>--web.max-connections</c>: caps the connections the listener holds, so a flood of connections (slowloris, or
/// more idle keep-alive clients than descriptors) can never exhaust the process's file descriptors, which the runtime
/// itself needs (it aborts with "Out of memory." when its own /proc reads fail with EMFILE).
/// </summary>
/// <remarks>
/// <para>
/// The cap is enforced at accept: at the cap the listener stops accepting and excess connections wait in the kernel's
/// listen backlog, where they cost the agent no descriptor. When a connection does come in at the cap, it displaces
/// the connection that has waited longest without completing a request (a slowloris connection dribbling headers, a
/// TLS handshake that never finishes, a client whose credentials were refused), or else the authorized keep-alive
/// connection idle longest. A connection with a request in progress is never displaced; when every connection is
/// serving one, the new connection is closed at once and counted.
/// </para>
/// <para>
/// So a flood of connections that never complete a request churns among itself, and Prometheus, which sends its
/// request as soon as it connects, always gets a slot.
/// </para>
/// </remarks>
internal sealed partial class ConnectionLimiter
{
    /// <summary>Connections beyond the cap that may be open while the ones they displaced close.</summary>
    internal const int DisplacementSlack = 16;

    private const string ItemKey = "monitor-agent.connection";
    private static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private readonly HashSet<Entry> _entries = [];
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Series _open;
    private readonly Series _limit;
    private readonly Series _displaced;
    private readonly Series _refused;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _waiting;
    private int _limitValue;
    private int _evicting;
    private long _lastLog = long.MinValue;
    private long _unloggedDisplaced;
    private long _unloggedRefused;

    /// <param name="limit">The cap (at least 1).</param>
    /// <param name="registry">Where the connection metrics go; null in unit tests.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Logs displacement and refusal, at most once a minute.</param>
    public ConnectionLimiter(int limit, MetricRegistry? registry, TimeProvider time, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        _limitValue = limit;
        _time = time;
        _logger = logger;
        var group = new MetricGroup("http_connections");
        _open = group.Gauge("monitor_agent_http_connections", "HTTP connections the listener holds open.").Get();
        _limit = group.Gauge("monitor_agent_http_connections_limit", "The most HTTP connections the listener holds (--web.max-connections, or what the file descriptor limit leaves).").Get();
        _displaced = group.Counter("monitor_agent_http_connections_displaced_total", "Idle HTTP connections closed to make room for a new one at the connection limit.").Get();
        _refused = group.Counter("monitor_agent_http_connections_refused_total", "HTTP connections closed at once because every connection slot was serving a request.").Get();
        _open.Set(0);
        _limit.Set(limit);
        _displaced.Set(0);
        _refused.Set(0);
        registry?.Register(group);
    }

    /// <summary>The cap.</summary>
    public int Limit => Volatile.Read(ref _limitValue);

    /// <summary>Changes the cap (start-up refines it once the descriptors in use are known).</summary>
    public void SetLimit(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        lock (_lock)
        {
            Volatile.Write(ref _limitValue, limit);
            _limit.Set(limit);
            SignalLocked();
        }
    }

    /// <summary>Connections held now (including ones being displaced).</summary>
    public int Open
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Waits until a new connection could be admitted: below the cap, or an idle connection can make room.</summary>
    public async ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_entries.Count < Limit + DisplacementSlack && (_entries.Count - _evicting < Limit || FindVictim() is not null))
                {
                    return;
                }

                _waiting = true;
                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Admits an accepted connection: returns the wrapper Kestrel should serve, displacing an idle connection first
    /// when at the cap, or null when no slot could be made (the caller closes the connection).
    /// </summary>
    public ConnectionContext? Admit(ConnectionContext connection)
    {
        Entry? victim = null;
        var now = _time.GetTimestamp();
        var entry = new Entry(this, connection, now);
        lock (_lock)
        {
            if (_entries.Count - _evicting >= Limit || _entries.Count >= Limit + DisplacementSlack)
            {
                victim = _entries.Count < Limit + DisplacementSlack ? FindVictim() : null;
                if (victim is null)
                {
                    _refused.Add(1);
                    _unloggedRefused++;
                    MaybeLog(now);
                    return null;
                }

                victim.Evicting = true;
                _evicting++;
                _displaced.Add(1);
                _unloggedDisplaced++;
                MaybeLog(now);
            }

            _entries.Add(entry);
            _open.Set(_entries.Count);
        }

        victim?.Connection.Abort(new ConnectionAbortedException("Displaced at the connection limit (--web.max-connections)."));
        connection.Items[ItemKey] = entry;
        return new LimitedConnection(connection, entry);
    }

    /// <summary>Marks the request's connection busy until the returned scope is disposed.</summary>
    public static RequestScope BeginRequest(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items is { } items ? BeginRequest(items) : default;

    /// <summary>Marks the connection whose items are <paramref name="connectionItems"/> busy until the scope is disposed.</summary>
    internal static RequestScope BeginRequest(IDictionary<object, object?> connectionItems) =>
        connectionItems.TryGetValue(ItemKey, out var item) && item is Entry entry ? entry.Begin() : default;

    private void Release(Entry entry)
    {
        lock (_lock)
        {
            if (!_entries.Remove(entry))
            {
                return;
            }

            if (entry.Evicting)
            {
                _evicting--;
            }

            _open.Set(_entries.Count);
            SignalLocked();
        }
    }

    private void RequestEnded()
    {
        lock (_lock)
        {
            SignalLocked();
        }
    }

    private void SignalLocked()
    {
        if (!_waiting)
        {
            return;
        }

        _waiting = false;
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    // Oldest connection that never completed an authorized request, else the authorized one idle longest; never one
    // serving a request. O(n) over at most Limit + slack entries, and only when at the cap.
    private Entry? FindVictim()
    {
        Entry? best = null;
        foreach (var entry in _entries)
        {
            if (entry.Evicting || Volatile.Read(ref entry.Active) > 0)
            {
                continue;
            }

            if (best is null
                || (!entry.Served && best.Served)
                || (entry.Served == best.Served && Volatile.Read(ref entry.LastActive) < Volatile.Read(ref best.LastActive)))
            {
                best = entry;
            }
        }

        return best;
    }

    private void MaybeLog(long now)
    {
        if (_lastLog != long.MinValue && _time.GetElapsedTime(_lastLog, now) < LogInterval)
        {
            return;
        }

        _lastLog = now;
        LogLimitReached(_logger, Limit, _unloggedDisplaced, _unloggedRefused);
        _unloggedDisplaced = 0;
        _unloggedRefused = 0;
    }

    [LoggerMessage(EventId = EventIds.ConnectionLimitReached, EventName = "connection_limit_reached", Level = LogLevel.Warning,
        Message = "All {Limit} connection slots were taken (--web.max-connections): {Displaced} idle connection(s) displaced and {Refused} refused since the last such line (at most one a minute)")]
    private static partial void LogLimitReached(ILogger logger, int limit, long displaced, long refused);

    /// <summary>Marks a connection busy for the length of a request (a struct: no allocation per request).</summary>
    internal readonly struct RequestScope : IDisposable
    {
        private readonly Entry? _entry;

        internal RequestScope(Entry entry) => _entry = entry;

        /// <summary>The connection completed an authorized request: displace it only after unproven ones.</summary>
        public void MarkServed()
        {
            if (_entry is not null)
            {
                _entry.Served = true;
            }
        }

        public void Dispose() => _entry?.End();
    }

    /// <summary>One held connection.</summary>
    internal sealed class Entry(ConnectionLimiter owner, ConnectionContext connection, long accepted)
    {
        public int Active;
        public long LastActive = accepted;
        private int _released;

        public ConnectionContext Connection { get; } = connection;

        public volatile bool Served;

        public bool Evicting { get; set; }

        public RequestScope Begin()
        {
            Interlocked.Increment(ref Active);
            return new RequestScope(this);
        }

        public void End()
        {
            Volatile.Write(ref LastActive, owner._time.GetTimestamp());
            if (Interlocked.Decrement(ref Active) == 0)
            {
                owner.RequestEnded();
            }
        }

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(this);
            }
        }
    }
}
