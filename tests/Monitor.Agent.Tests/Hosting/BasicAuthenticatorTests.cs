using System.Net;
using System.Text;
using CsCheck;
using Monitor.Agent.Hosting;
using Monitor.Agent.Tests.Support;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Hosting;

public sealed class BasicAuthenticatorTests
{
    private const string User = "prometheus";
    private const string Password = "c0rrect-Horse_battery";

    // Cost 4 keeps the property test fast; the code path is the same at any cost.
    private static readonly string Hash = BCrypt.Net.BCrypt.HashPassword(Password, 4);

    [Fact]
    public async Task AuthenticateAsync_RightPassword_VerifiedOnceThenAnsweredFromTheCacheWithoutBcrypt()
    {
        using var guard = NewGuard(out _);
        var auth = new BasicAuthenticator(Users(), guard, TestClock.Create());

        Assert.Equal(AuthOutcome.Success, await auth.AuthenticateAsync(Header(User, Password), Client(1)));
        Assert.Equal(1, auth.CacheCount);

        // Hold the only bcrypt worker with a slow verification: a remembered login must not wait for it.
        var slow = BCrypt.Net.BCrypt.HashPassword("other", 13);
        Assert.True(guard.TryVerify(Client(2), "wrong", slow, out var busy));
        var cached = auth.AuthenticateAsync(Header(User, Password), Client(1));
        Assert.True(cached.IsCompletedSuccessfully);
        Assert.Equal(AuthOutcome.Success, await cached);
        Assert.False(busy.IsCompleted);
        await busy;
    }

    [Fact]
    public async Task AuthenticateAsync_EveryWorkerBusy_RefusesUncachedCredentialsAtOnceAndCountsThem()
    {
        using var guard = NewGuard(out _);
        var auth = new BasicAuthenticator(Users(), guard, TestClock.Create());
        var slow = BCrypt.Net.BCrypt.HashPassword("other", 13);
        Assert.True(guard.TryVerify(Client(2), "wrong", slow, out var busy));

        var refused = auth.AuthenticateAsync(Header(User, Password), Client(3));

        Assert.True(refused.IsCompletedSuccessfully);
        Assert.Equal(AuthOutcome.Busy, await refused);
        Assert.Equal(0, auth.CacheCount);
        await busy;

        // An address that failed since its last success is held back like a backoff when the workers are busy.
        Assert.Equal(AuthOutcome.Failed, await auth.AuthenticateAsync(Header(User, "wrong"), Client(4)));
        Assert.True(guard.TryVerify(Client(2), "wrong", slow, out busy));
        Assert.Equal(AuthOutcome.BusyAfterFailures, await auth.AuthenticateAsync(Header(User, "wrong-again"), Client(4)));
        Assert.Equal(AuthOutcome.Busy, await auth.AuthenticateAsync(Header(User, Password), Client(3)));
        await busy;
        Assert.Equal(AuthOutcome.Success, await auth.AuthenticateAsync(Header(User, Password), Client(3)));
    }

    [Fact]
    public async Task AuthenticateAsync_RepeatedFailures_BackOffTheAddressButNotRememberedLogins()
    {
        var time = TestClock.Create();
        using var guard = NewGuard(out _, time);
        var auth = new BasicAuthenticator(Users(), guard, time);
        var attacker = Client(7);
        Assert.Equal(AuthOutcome.Success, await auth.AuthenticateAsync(Header(User, Password), attacker));

        for (var i = 0; i < AuthGuard.FailuresBeforeBackoff; i++)
        {
            Assert.Equal(AuthOutcome.Failed, await auth.AuthenticateAsync(Header(User, $"guess{i}"), attacker));
        }

        Assert.Equal(AuthOutcome.BackedOff, await auth.AuthenticateAsync(Header(User, "guess-next"), attacker));
        Assert.Equal(AuthOutcome.BackedOff, await auth.AuthenticateAsync(Header(User, "other-user-password"), attacker));
        // A scraper behind the same address with remembered credentials keeps working.
        Assert.Equal(AuthOutcome.Success, await auth.AuthenticateAsync(Header(User, Password), attacker));
        // Other addresses are not affected.
        Assert.Equal(AuthOutcome.Failed, await auth.AuthenticateAsync(Header(User, "guess"), Client(8)));

        time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(AuthOutcome.Failed, await auth.AuthenticateAsync(Header(User, "guess-after"), attacker));
        // The next failure doubled the backoff: still backing off after another second.
        time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(AuthOutcome.BackedOff, await auth.AuthenticateAsync(Header(User, "guess-again"), attacker));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(AuthOutcome.Failed, await auth.AuthenticateAsync(Header(User, "guess-last"), attacker));
    }

    [Fact]
    public async Task AuthenticateAsync_CacheEntryOlderThanItsLifetime_IsVerifiedAgain()
    {
        var time = TestClock.Create();
        using var guard = NewGuard(out _, time);
        var auth = new BasicAuthenticator(Users(), guard, time);
        await auth.AuthenticateAsync(Header(User, Password), Client(1));

        time.Advance(BasicAuthenticator.CacheLifetime + TimeSpan.FromSeconds(1));
        // With the only bcrypt worker held, an expired entry can no longer answer: the login must be verified again.
        var slow = BCrypt.Net.BCrypt.HashPassword("other", 13);
        Assert.True(guard.TryVerify(Client(2), "wrong", slow, out var busy));
        Assert.Equal(AuthOutcome.Busy, await auth.AuthenticateAsync(Header(User, Password), Client(1)));
        Assert.Equal(0, auth.CacheCount);
        await busy;
        Assert.Equal(AuthOutcome.Success, await auth.AuthenticateAsync(Header(User, Password), Client(1)));
        Assert.Equal(1, auth.CacheCount);
    }

    [Theory]
    [InlineData(null, "Missing")]
    [InlineData("Bearer abc", "Missing")]
    [InlineData("Basic !!!not-base64!!!", "Failed")]
    [InlineData("Basic bm9jb2xvbg==", "Failed")]
    public async Task AuthenticateAsync_MalformedHeader_RefusedWithoutBcrypt(string? header, string expected)
    {
        using var guard = NewGuard(out _);
        var auth = new BasicAuthenticator(Users(), guard, TestClock.Create());

        var outcome = auth.AuthenticateAsync(header, Client(1));

        Assert.True(outcome.IsCompletedSuccessfully);
        Assert.Equal(expected, (await outcome).ToString());
    }

    [Fact]
    public async Task AuthenticateAsync_OversizedCredentials_FailWithoutBcrypt()
    {
        using var guard = NewGuard(out _);
        var auth = new BasicAuthenticator(Users(), guard, TestClock.Create());

        var outcome = auth.AuthenticateAsync(Header(User, new string('x', BasicAuthenticator.MaxCredentialBytes)), Client(1));

        Assert.True(outcome.IsCompletedSuccessfully);
        Assert.Equal(AuthOutcome.Failed, await outcome);
    }

    /// <summary>
    /// The cache never turns a wrong login into a success: after the right password is remembered, random near misses
    /// of it (one character changed, added or removed, case flipped, whitespace, a prefix or suffix of it, the right
    /// password under another user) are each verified and refused, and the right one still succeeds.
    /// </summary>
    [Fact]
    public async Task AuthenticateAsync_NearMissesOfARememberedPassword_AreNeverSuccess()
    {
        using var guard = NewGuard(out _);
        var auth = new BasicAuthenticator(Users(), guard, TestClock.Create());
        Assert.Equal(AuthOutcome.Success, await auth.AuthenticateAsync(Header(User, Password), Client(1)));
        var client = 1000;

        var nearMiss = Gen.Select(Gen.Int[0, 8], Gen.Int[0, 64], Gen.Char[' ', '~'], (kind, position, c) => NearMiss(kind, position, c));
        await nearMiss.SampleAsync(
            async attempt =>
            {
                // A fresh address per attempt: backoff would refuse without verifying, and this checks verification.
                var outcome = await auth.AuthenticateAsync(Header(attempt.User, attempt.Password), Client(Interlocked.Increment(ref client)));
                Assert.Equal(AuthOutcome.Failed, outcome);
                Assert.Equal(AuthOutcome.Success, await auth.AuthenticateAsync(Header(User, Password), Client(1)));
            },
            iter: 400,
            threads: 1,
            print: attempt => $"{attempt.User}:{attempt.Password}");

        Assert.Equal(1, auth.CacheCount);
    }

    [Fact]
    public async Task WriteSummary_Failures_OneLinePerAddressWithCountsAndNoSecret()
    {
        using var guard = NewGuard(out var log);
        var auth = new BasicAuthenticator(Users(), guard, TestClock.Create());
        var attacker = ClientKey.From(IPAddress.Parse("192.0.2.7"));
        for (var i = 0; i < 3; i++)
        {
            await auth.AuthenticateAsync(Header(User, "hunter2-" + i), attacker);
        }

        await auth.AuthenticateAsync(Header("admin", "letmein"), ClientKey.From(IPAddress.Parse("2001:db8:1:2::5")));
        await auth.AuthenticateAsync(Header(User, Password), ClientKey.From(IPAddress.Parse("198.51.100.1")));
        Assert.Empty(log.Entries);

        guard.WriteSummary();

        var lines = log.Entries.Select(e => e.Message).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Contains(lines, l => l.Contains("192.0.2.7", StringComparison.Ordinal) && l.Contains(": 3 wrong credentials", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("2001:db8:1:2::/64", StringComparison.Ordinal) && l.Contains(": 1 wrong credentials", StringComparison.Ordinal));
        foreach (var secret in new[] { "hunter2", "letmein", Password, "admin", User })
        {
            Assert.DoesNotContain(lines, l => l.Contains(secret, StringComparison.Ordinal));
        }

        guard.WriteSummary();
        Assert.Equal(2, log.Entries.Count);
    }

    [Fact]
    public void ClientKey_IPv6SameSlash64AndMappedIPv4_AreOneClient()
    {
        Assert.Equal(ClientKey.From(IPAddress.Parse("2001:db8::1")), ClientKey.From(IPAddress.Parse("2001:db8::ffff:1")));
        Assert.NotEqual(ClientKey.From(IPAddress.Parse("2001:db8::1")), ClientKey.From(IPAddress.Parse("2001:db8:0:1::1")));
        Assert.Equal(ClientKey.From(IPAddress.Parse("10.1.2.3")), ClientKey.From(IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.Equal("10.1.2.3", ClientKey.From(IPAddress.Parse("::ffff:10.1.2.3")).ToString());
    }

    private static (string User, string Password) NearMiss(int kind, int position, char c)
    {
        var p = position % Password.Length;
        var candidate = kind switch
        {
            0 => (User, Password[..p] + c + Password[(p + 1)..]),
            1 => (User, Password.Insert(p, c.ToString())),
            2 => (User, Password.Remove(p, 1)),
            3 => (User, Password[..p] + (char.IsUpper(Password[p]) ? char.ToLowerInvariant(Password[p]) : char.ToUpperInvariant(Password[p])) + Password[(p + 1)..]),
            4 => (User, Password + (c == ' ' ? " " : "\n")),
            5 => (User, Password[..p]),
            6 => (User, Password[p..] + Password[..p]),
            7 => ("Prometheus", Password),
            _ => (User + c, Password),
        };

        // A generated candidate equal to the right login is no near miss: make it one.
        return candidate == (User, Password) ? (User, Password + c) : candidate;
    }

    private static AuthGuard NewGuard(out CollectingLoggerFactory log, TimeProvider? time = null)
    {
        log = new CollectingLoggerFactory();
        return new AuthGuard(1, null, time ?? TestClock.Create(), log.CreateLogger("auth"), startSummaryTimer: false);
    }

    private static Dictionary<string, string> Users() => new(StringComparer.Ordinal) { [User] = Hash };

    private static ClientKey Client(int n) => new((UInt128)(uint)n, false);

    private static string Header(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
}
