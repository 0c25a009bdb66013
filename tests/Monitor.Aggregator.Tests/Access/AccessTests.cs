using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Monitor.Aggregator.Access;
using Monitor.Aggregator.Api;
using Monitor.Aggregator.Tests.Storage;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Access;

/// <summary>Bearer tokens: the file, the guard's answers, what a token limited to some accounts sees, and quiet logs.</summary>
public sealed class AccessTests : IDisposable
{
    private static readonly DateTimeOffset Day1 = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    private static TokenFile Tokens => TokenFile.Parse(
        $"""
        tokens:
          - name: admin
            sha256: {TokenFile.Sha256("admin-secret")}
          - name: physics-pi
            sha256: {TokenFile.Sha256("pi-secret").ToUpperInvariant()}
            accounts: [physics]
        """,
        "tokens.yml");

    [Fact]
    public void TokenFile_FindsByTheTokensHash()
    {
        Assert.Equal("admin", Tokens.Find("admin-secret")!.Name);
        Assert.True(Tokens.Find("admin-secret")!.IsAdmin);
        var pi = Tokens.Find("pi-secret")!;
        Assert.Equal((false, true, false, false), (pi.IsAdmin, pi.Sees("physics"), pi.Sees("chemistry"), pi.Sees(null)));
        Assert.Null(Tokens.Find("admin-secreT"));

        // SHA-256 of "abc" (FIPS 180-2's example).
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", TokenFile.Sha256("abc"));
    }

    [Theory]
    [InlineData("users: []", "tokens.yml: expected 'tokens:' and a list of {name, sha256, accounts}")]
    [InlineData("tokens:\n  - sha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "tokens.yml: token 1 needs a name, different from the others'")]
    [InlineData("tokens:\n  - name: a\n    sha256: abc", "tokens.yml: token 'a': sha256 must be 64 hex digits (printf %s \"$TOKEN\" | sha256sum)")]
    [InlineData("tokens:\n  - name: a\n    sha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n  - name: b\n    sha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "tokens.yml: token 'b' has the same sha256 as 'a'")]
    [InlineData("tokens:\n  - name: a\n    token: x", "tokens.yml: token 1: unknown field 'token' (expected name, sha256, accounts)")]
    [InlineData("tokens:\n  - name: a\n    accounts: physics", "tokens.yml: token 1: accounts must be a list of account names")]
    [InlineData("tokens:\n  - plain", "tokens.yml: token 1 must be a mapping with name, sha256 and optional accounts")]
    public void TokenFile_Bad_NamesTheMistake(string text, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => TokenFile.Parse(text, "tokens.yml")).Message);

    [Theory]
    [InlineData("/api/v1/running", null, 401)]
    [InlineData("/api/v1/running", "Bearer wrong", 401)]
    [InlineData("/api/v1/running", "Basic YWRtaW46YWRtaW4=", 401)]
    [InlineData("/api/v1/running", "Bearer admin-secret", 200)]
    [InlineData("/api/v1/running", "bearer pi-secret", 200)]
    [InlineData("/metrics", "Bearer admin-secret", 200)]
    [InlineData("/metrics", "Bearer pi-secret", 403)]
    [InlineData("/openapi/v1.json", "Bearer pi-secret", 403)]
    [InlineData("/healthz", null, 200)]
    public async Task Guard_AnswersByToken(string path, string? authorization, int status)
    {
        var guard = new AccessGuard(Tokens, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<AccessGuard>.Instance);
        var context = Context(path, authorization);
        var reached = false;

        await guard.InvokeAsync(context, _ =>
        {
            reached = true;
            return Task.CompletedTask;
        });

        Assert.Equal((status, status == 200), (context.Response.StatusCode, reached));
        Assert.Equal(status == 401 ? "Bearer realm=\"monitor-aggregator\"" : string.Empty, context.Response.Headers.WWWAuthenticate.ToString());
    }

    [Fact]
    public async Task Guard_Refusals_OneLogLineAMinuteWithoutTheToken()
    {
        var time = new FakeTimeProvider(Day1);
        var log = new ListLogger();
        var guard = new AccessGuard(Tokens, time, log);
        for (var i = 0; i < 100; i++)
        {
            await guard.InvokeAsync(Context("/api/v1/running", "Bearer leaked-secret-" + i), _ => Task.CompletedTask);
        }

        time.Advance(TimeSpan.FromMinutes(1));
        await guard.InvokeAsync(Context("/metrics", "Bearer pi-secret"), _ => Task.CompletedTask);

        Assert.Equal(2, log.Lines.Count);
        Assert.Equal("Refused 401 to 10.1.2.3 for /api/v1/running: unknown token (token -); 0 refusals not logged in the minute before", log.Lines[0]);
        Assert.Equal("Refused 403 to 10.1.2.3 for /metrics: the token sees some accounts only; this path covers all of them (token physics-pi); 99 refusals not logged in the minute before", log.Lines[1]);
        Assert.DoesNotContain(log.Lines, l => l.Contains("secret", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public void LimitedToken_SeesItsAccountsJobsAndUsageOnly(string kind)
    {
        using var store = TestStore.Create(kind, _tree).Open();
        store.Apply("http://a:9420", UsageTests.Page("a", UsageTests.Record("1", 1, "physics", "alice", Day1, Day1.AddHours(1), 3600, 0)), Day1);
        store.Apply("http://a:9420", UsageTests.Page("a", UsageTests.Record("2", 2, "chemistry", "bob", Day1, Day1.AddHours(1), 7200, 0)), Day1);
        var pi = Context("/", "Bearer pi-secret");
        AccessGuard.Admit(pi, Tokens.Find("pi-secret")!);

        Assert.Single(ApiEndpoints.VisibleJob(store, "1", pi));
        Assert.Empty(ApiEndpoints.VisibleJob(store, "2", pi));
        Assert.Single(ApiEndpoints.VisibleJob(store, "2", Context("/", null)));
        Assert.Equal(
            [("alice", 3600d)],
            store.Usage("user", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1), accounts: new HashSet<string> { "physics", "biology" }).Select(r => (r.Key, r.GpuAllocatedSeconds)));
        Assert.Empty(store.Usage("user", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1), accounts: new HashSet<string>()));
        Assert.Equal(2, store.Usage("user", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1)).Count);
    }

    private static DefaultHttpContext Context(string path, string? authorization)
    {
        var context = new DefaultHttpContext();
        context.Request.Path = path;
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("10.1.2.3");
        if (authorization is not null)
        {
            context.Request.Headers.Authorization = authorization;
        }

        return context;
    }

    /// <summary>Keeps each formatted log line.</summary>
    private sealed class ListLogger : ILogger<AccessGuard>
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) => Lines.Add(formatter(state, exception));
    }
}
