using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Hosting;

/// <summary>
/// What bounds the cost of failed logins, shared by every <see cref="BasicAuthenticator"/> the agent has had (a
/// SIGHUP reload keeps it): the bcrypt workers, the per-client backoff, the auth metrics and the once-a-minute
/// summary of failures per client address.
/// </summary>
/// <remarks>
/// Backoff: after <see cref="FailuresBeforeBackoff"/> failed verifications in a row from one address (an IPv6 /64),
/// that address is refused with 429 without verification for 1 s, doubling with each further failure up to 60 s. A
/// verified success from the address resets it; so does 10 minutes without a failure. Remembered credentials are
/// checked before the backoff, so a scraper that shares its address with an attacker keeps working.
/// </remarks>
internal sealed partial class AuthGuard : IDisposable
{
    /// <summary>Failures in a row before an address backs off.</summary>
    internal const int FailuresBeforeBackoff = 5;

    /// <summary>The most addresses remembered; beyond it the one seen longest ago is forgotten.</summary>
    internal const int MaxClients = 4096;

    /// <summary>The most per-address lines one summary writes; the rest are counted in one more line.</summary>
    internal const int MaxSummaryLines = 20;

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Forget = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan SummaryInterval = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private readonly Dictionary<ClientKey, Client> _clients = [];
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly BcryptWorkers _workers;
    private readonly SharedSeries _failures;
    private readonly SharedSeries _busy;
    private readonly SharedSeries _backoff;
    private readonly SharedSeries _missing;
    private readonly SharedSeries _cacheEntries;
    private readonly ITimer? _summaryTimer;

    /// <param name="maxVerifications">bcrypt verifications that may run at once.</param>
    /// <param name="registry">Where the auth metrics go; null in unit tests.</param>
    /// <param name="time">The clock of backoff and summaries.</param>
    /// <param name="logger">Receives the summaries.</param>
    /// <param name="startSummaryTimer">False in unit tests, which call <see cref="WriteSummary"/> themselves.</param>
    public AuthGuard(int maxVerifications, MetricRegistry? registry, TimeProvider time, ILogger logger, bool startSummaryTimer = true)
    {
        _time = time;
        _logger = logger;
        _workers = new BcryptWorkers(maxVerifications);
        var group = new MetricGroup("http_auth");
        _failures = SharedSeries.Start(group.Counter("monitor_agent_http_auth_failures_total", "Requests whose basic-auth credentials were checked and wrong (or malformed).").Get());
        var rejected = group.Counter("monitor_agent_http_auth_rejected_total", "Requests refused without checking their credentials: busy (every bcrypt worker busy, 429), backoff (the client address is backing off after repeated failures, 429), missing (no credentials, 401).", "reason");
        _busy = SharedSeries.Start(rejected.Get("busy"));
        _backoff = SharedSeries.Start(rejected.Get("backoff"));
        _missing = SharedSeries.Start(rejected.Get("missing"));
        _cacheEntries = SharedSeries.Start(group.Gauge("monitor_agent_http_auth_cache_entries", "Verified credentials remembered (keyed by an HMAC, never the password), so a scraper pays for bcrypt once.").Get());
        group.Gauge("monitor_agent_http_auth_max_verifications", "bcrypt verifications that may run at once; more are refused with 429.").Get().Set(maxVerifications);
        registry?.Register(group);
        if (startSummaryTimer)
        {
            _summaryTimer = time.CreateTimer(_ => WriteSummary(), null, SummaryInterval, SummaryInterval);
        }
    }

    /// <summary>bcrypt verifications that may run at once.</summary>
    public int MaxVerifications => _workers.Count;

    /// <summary>True (and counted) when the address is backing off now; <paramref name="remaining"/> is how long for.</summary>
    public bool RefuseIfBackingOff(ClientKey client, out TimeSpan remaining)
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            if (_clients.TryGetValue(client, out var state) && state.BlockedUntil > now)
            {
                remaining = _time.GetElapsedTime(now, state.BlockedUntil);
                state.MinuteBackoff++;
                _backoff.Add(1);
                return true;
            }
        }

        remaining = TimeSpan.Zero;
        return false;
    }

    /// <summary>
    /// Starts a verification on a bcrypt worker, or counts the request refused as busy;
    /// <paramref name="failedBefore"/> then says whether the address has failed since its last success (the caller
    /// holds such an answer back like a backoff's, so a flood cannot spin on instant 429s between backoffs).
    /// </summary>
    public bool TryVerify(ClientKey client, string password, string hash, out Task<bool> result, out bool failedBefore)
    {
        failedBefore = false;
        if (_workers.TryVerify(password, hash, out result))
        {
            return true;
        }

        _busy.Add(1);
        lock (_lock)
        {
            var state = GetOrAdd(client, _time.GetTimestamp());
            state.MinuteBusy++;
            failedBefore = state.Consecutive > 0;
        }

        return false;
    }

    /// <summary>As <see cref="TryVerify(ClientKey, string, string, out Task{bool}, out bool)"/>.</summary>
    public bool TryVerify(ClientKey client, string password, string hash, out Task<bool> result) =>
        TryVerify(client, password, hash, out result, out _);

    /// <summary>Counts wrong or malformed credentials and backs the address off after several in a row.</summary>
    public void RecordFailure(ClientKey client)
    {
        _failures.Add(1);
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            var state = GetOrAdd(client, now);
            if (state.LastFailure != 0 && _time.GetElapsedTime(state.LastFailure, now) > Forget)
            {
                state.Consecutive = 0;
            }

            state.LastFailure = now;
            state.MinuteFailures++;
            state.Consecutive++;
            if (state.Consecutive >= FailuresBeforeBackoff)
            {
                var doublings = Math.Min(state.Consecutive - FailuresBeforeBackoff, 10);
                var backoff = TimeSpan.FromTicks(Math.Min(FirstBackoff.Ticks << doublings, MaxBackoff.Ticks));
                state.BlockedUntil = now + (long)(backoff.TotalSeconds * _time.TimestampFrequency);
            }
        }
    }

    /// <summary>A verified success from the address ends its backoff.</summary>
    public void RecordVerifiedSuccess(ClientKey client)
    {
        lock (_lock)
        {
            if (_clients.TryGetValue(client, out var state))
            {
                state.Consecutive = 0;
                state.BlockedUntil = 0;
            }
        }
    }

    /// <summary>Counts a request without credentials.</summary>
    public void RecordMissing() => _missing.Add(1);

    /// <summary>Publishes the current authenticator's cache size.</summary>
    public void SetCacheEntries(int count) => _cacheEntries.Set(count);

    /// <summary>
    /// Logs, per client address, the failures and refusals of the last period (at most <see cref="MaxSummaryLines"/>
    /// lines, the busiest first, then one line counting the rest), and forgets quiet addresses. Never per request, and
    /// never a user name or password.
    /// </summary>
    public void WriteSummary()
    {
        List<(ClientKey Key, long Failed, long Busy, long Backoff, TimeSpan BlockedFor)> lines = [];
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            List<ClientKey>? forget = null;
            foreach (var (key, state) in _clients)
            {
                if (state.MinuteFailures + state.MinuteBusy + state.MinuteBackoff > 0)
                {
                    var blocked = state.BlockedUntil > now ? _time.GetElapsedTime(now, state.BlockedUntil) : TimeSpan.Zero;
                    lines.Add((key, state.MinuteFailures, state.MinuteBusy, state.MinuteBackoff, blocked));
                    state.MinuteFailures = state.MinuteBusy = state.MinuteBackoff = 0;
                }
                else if (state.BlockedUntil <= now && (state.LastFailure == 0 || _time.GetElapsedTime(state.LastFailure, now) > Forget))
                {
                    (forget ??= []).Add(key);
                }
            }

            foreach (var key in forget ?? [])
            {
                _clients.Remove(key);
            }
        }

        try
        {
            lines.Sort((a, b) => (b.Failed + b.Busy + b.Backoff).CompareTo(a.Failed + a.Busy + a.Backoff));
            foreach (var line in lines.Take(MaxSummaryLines))
            {
                LogSummary(_logger, line.Key.ToString(), line.Failed, line.Busy, line.Backoff, Math.Ceiling(line.BlockedFor.TotalSeconds));
            }

            if (lines.Count > MaxSummaryLines)
            {
                var rest = lines.Skip(MaxSummaryLines).ToList();
                LogSummaryRest(_logger, rest.Count, rest.Sum(l => l.Failed), rest.Sum(l => l.Busy + l.Backoff));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A timer callback must not throw; a lost summary line is not worth the process.
            LogSummaryFailed(_logger, ex);
        }
    }

    public void Dispose()
    {
        _summaryTimer?.Dispose();
        _workers.Dispose();
    }

    private Client GetOrAdd(ClientKey key, long now)
    {
        if (_clients.TryGetValue(key, out var state))
        {
            return state;
        }

        if (_clients.Count >= MaxClients)
        {
            // Forget the address whose last failure is oldest (backing-off ones last): bounded memory beats a
            // perfect memory of a spray of addresses.
            var victim = default(ClientKey);
            var oldest = long.MaxValue;
            foreach (var (candidate, candidateState) in _clients)
            {
                var age = candidateState.BlockedUntil > now ? long.MaxValue - 1 : candidateState.LastFailure;
                if (age < oldest)
                {
                    oldest = age;
                    victim = candidate;
                }
            }

            _clients.Remove(victim);
        }

        state = new Client();
        _clients[key] = state;
        return state;
    }

    [LoggerMessage(EventId = EventIds.HttpAuthFailures, EventName = "http_auth_failures", Level = LogLevel.Warning,
        Message = "HTTP basic auth from {Client} in the last minute: {Failed} wrong credentials, {Busy} refused while every bcrypt worker was busy, {Backoff} refused while backing off; backing off for {BackoffSeconds} s more")]
    private static partial void LogSummary(ILogger logger, string client, long failed, long busy, long backoff, double backoffSeconds);

    [LoggerMessage(EventId = EventIds.HttpAuthFailuresMore, EventName = "http_auth_failures_more", Level = LogLevel.Warning,
        Message = "HTTP basic auth in the last minute from {Clients} more client addresses: {Failed} wrong credentials, {Refused} refused unchecked")]
    private static partial void LogSummaryRest(ILogger logger, int clients, long failed, long refused);

    [LoggerMessage(EventId = EventIds.HttpAuthSummaryFailed, EventName = "http_auth_summary_failed", Level = LogLevel.Error,
        Message = "Could not write the HTTP auth failure summary")]
    private static partial void LogSummaryFailed(ILogger logger, Exception exception);

    private sealed class Client
    {
        public int Consecutive;
        public long LastFailure;
        public long BlockedUntil;
        public long MinuteFailures;
        public long MinuteBusy;
        public long MinuteBackoff;
    }
}
