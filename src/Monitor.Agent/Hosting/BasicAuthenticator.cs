using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Monitor.Agent.Hosting;

/// <summary>
/// HTTP basic authentication against the bcrypt hashes of one web config's <c>basic_auth_users</c>. bcrypt costs tens
/// of milliseconds of CPU by design, so:
/// <list type="bullet">
/// <item>a verified user and password are remembered, as exporter-toolkit does, keyed by an HMAC-SHA256 of the user
/// and password as presented under a key drawn at random per authenticator, never by the password itself; an entry
/// lives <see cref="CacheLifetime"/> and at most <see cref="MaxCacheEntries"/> are kept;</item>
/// <item>remembered credentials are answered before anything else, without waiting on bcrypt or on backoff;</item>
/// <item>everything else goes through the shared <see cref="AuthGuard"/>: per-address backoff, then a bcrypt worker
/// if one is idle, else 429.</item>
/// </list>
/// A reload builds a new authenticator, so the remembered credentials of the old users go with it.
/// </summary>
internal sealed class BasicAuthenticator
{
    /// <summary>How long a verified login is remembered.</summary>
    internal static readonly TimeSpan CacheLifetime = TimeSpan.FromMinutes(5);

    /// <summary>The most remembered logins.</summary>
    internal const int MaxCacheEntries = 256;

    /// <summary>Longest <c>user:password</c> accepted (bytes); longer is a failure without bcrypt.</summary>
    internal const int MaxCredentialBytes = 1024;

    private readonly IReadOnlyDictionary<string, string> _users;
    private readonly AuthGuard _guard;
    private readonly TimeProvider _time;
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly Dictionary<Digest, long> _cache = [];
    private readonly Lock _cacheLock = new();
    private readonly string _dummyHash;

    /// <param name="users">User → bcrypt hash (validated by <see cref="WebConfig"/>).</param>
    /// <param name="guard">The shared limits and metrics.</param>
    /// <param name="time">The clock of the cache lifetime.</param>
    public BasicAuthenticator(IReadOnlyDictionary<string, string> users, AuthGuard guard, TimeProvider time)
    {
        _users = users;
        _guard = guard;
        _time = time;

        // An unknown user is checked against a hash of the same cost, as exporter-toolkit does, so the answer's
        // timing does not tell which user names exist.
        var cost = users.Values.Select(CostOf).DefaultIfEmpty(4).Max();
        _dummyHash = BCrypt.Net.BCrypt.HashPassword(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)), cost);

        // Run the request path's crypto once now, so that nothing it needs is first loaded on a request
        // (StartupWarmup says why).
        _ = Digest.Of(_key, "warm-up"u8);
        _guard.SetCacheEntries(0);
    }

    /// <summary>Logins remembered now.</summary>
    public int CacheCount
    {
        get
        {
            lock (_cacheLock)
            {
                return _cache.Count;
            }
        }
    }

    /// <summary>Decides about a request's <c>Authorization</c> header from <paramref name="address"/>.</summary>
    public ValueTask<AuthOutcome> AuthenticateAsync(string? authorization, IPAddress? address) =>
        AuthenticateAsync(authorization, ClientKey.From(address));

    /// <summary>Decides about a request's <c>Authorization</c> header from <paramref name="client"/>.</summary>
    public ValueTask<AuthOutcome> AuthenticateAsync(string? authorization, ClientKey client)
    {
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            _guard.RecordMissing();
            return ValueTask.FromResult(AuthOutcome.Missing);
        }

        var encoded = authorization.AsSpan(6).Trim();
        Span<byte> decoded = stackalloc byte[MaxCredentialBytes];
        if (encoded.Length > (MaxCredentialBytes / 3 * 4)
            || !Convert.TryFromBase64Chars(encoded, decoded, out var length)
            || decoded[..length].IndexOf((byte)':') is var colon && colon < 0)
        {
            _guard.RecordFailure(client);
            return ValueTask.FromResult(AuthOutcome.Failed);
        }

        decoded = decoded[..length];
        var digest = Digest.Of(_key, decoded);
        var now = _time.GetTimestamp();
        lock (_cacheLock)
        {
            if (_cache.TryGetValue(digest, out var expires))
            {
                if (expires > now)
                {
                    return ValueTask.FromResult(AuthOutcome.Success);
                }

                _cache.Remove(digest);
                _guard.SetCacheEntries(_cache.Count);
            }
        }

        if (_guard.RefuseIfBackingOff(client, out _))
        {
            return ValueTask.FromResult(AuthOutcome.BackedOff);
        }

        // Only now, on the slow path, do the credentials become strings (bcrypt's API takes strings).
        var user = Encoding.UTF8.GetString(decoded[..colon]);
        var password = Encoding.UTF8.GetString(decoded[(colon + 1)..]);
        var known = _users.TryGetValue(user, out var hash);
        if (!_guard.TryVerify(client, password, known ? hash! : _dummyHash, out var verification, out var failedBefore))
        {
            return ValueTask.FromResult(failedBefore ? AuthOutcome.BusyAfterFailures : AuthOutcome.Busy);
        }

        return FinishAsync(verification, known, digest, client);
    }

    /// <summary>The retry hint for a 429 answer.</summary>
    public static int RetryAfterSeconds(TimeSpan backoff) => Math.Max(1, (int)Math.Ceiling(backoff.TotalSeconds));

    private async ValueTask<AuthOutcome> FinishAsync(Task<bool> verification, bool known, Digest digest, ClientKey client)
    {
        if (await verification.ConfigureAwait(false) && known)
        {
            Remember(digest);
            _guard.RecordVerifiedSuccess(client);
            return AuthOutcome.Success;
        }

        _guard.RecordFailure(client);
        return AuthOutcome.Failed;
    }

    private void Remember(Digest digest)
    {
        var now = _time.GetTimestamp();
        var expires = now + (long)(CacheLifetime.TotalSeconds * _time.TimestampFrequency);
        lock (_cacheLock)
        {
            if (_cache.Count >= MaxCacheEntries && !_cache.ContainsKey(digest))
            {
                // Drop the expired ones; if none, the one closest to expiry. Only successes get here, so this runs
                // only when more distinct valid logins than the cap arrive within the lifetime.
                Digest? soonest = null;
                var soonestExpiry = long.MaxValue;
                foreach (var (key, expiry) in _cache)
                {
                    if (expiry <= now)
                    {
                        _cache.Remove(key);
                    }
                    else if (expiry < soonestExpiry)
                    {
                        soonestExpiry = expiry;
                        soonest = key;
                    }
                }

                if (_cache.Count >= MaxCacheEntries && soonest is { } evict)
                {
                    _cache.Remove(evict);
                }
            }

            _cache[digest] = expires;
            _guard.SetCacheEntries(_cache.Count);
        }
    }

    private static int CostOf(string hash) =>
        hash.Length > 6 && int.TryParse(hash.AsSpan(4, 2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var cost) ? Math.Clamp(cost, 4, 31) : 10;

    /// <summary>HMAC-SHA256 of the presented <c>user:password</c> bytes; the whole 256 bits are compared.</summary>
    private readonly record struct Digest(ulong A, ulong B, ulong C, ulong D)
    {
        public static Digest Of(byte[] key, ReadOnlySpan<byte> credentials)
        {
            Span<byte> mac = stackalloc byte[32];
            HMACSHA256.HashData(key, credentials, mac);
            return new Digest(
                BinaryPrimitives.ReadUInt64LittleEndian(mac),
                BinaryPrimitives.ReadUInt64LittleEndian(mac[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(mac[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(mac[24..]));
        }
    }
}
