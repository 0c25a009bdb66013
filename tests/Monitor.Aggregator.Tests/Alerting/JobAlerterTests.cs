using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Aggregator.Alerting;
using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Tests.Storage;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Alerting;

/// <summary>
/// Pushing job alerts to Alertmanager (a stand-in recording every POST here; the real one in the integration tests):
/// sent at once, resent every interval, resolved with endsAt now, to every Alertmanager of an HA pair, retried when
/// one is down, and neither lost nor fired again by a restart, on both stores.
/// </summary>
public sealed class JobAlerterTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 8, 0, 0, TimeSpan.Zero);
    private static readonly Uri First = new("http://am1:9093/");
    private static readonly Uri Second = new("http://am2:9093/prefix/");
    private readonly TempTree _tree = new();
    private readonly Recorder _alertmanagers = new();

    public void Dispose() => _tree.Dispose();

    [Theory]
    [MemberData(nameof(TestStore.Kinds), MemberType = typeof(TestStore))]
    public async Task Push_FiresResendsResolvesAndSurvivesARestart(string kind)
    {
        var location = TestStore.Create(kind, _tree);
        var store = location.Open("hpc1");
        var (jobs, alerter) = Alerter(store);

        // Job 5's GPU had 3 XIDs: the alert goes to both Alertmanagers at once, with endsAt four resends ahead.
        Poll(store, jobs, Record("5", xids: 3), T0);
        await alerter.RunAsync(T0, CancellationToken.None);
        var sent = Assert.Single(_alertmanagers.Alerts(First));
        Assert.Equal("JobGpuErrors", sent.GetProperty("labels").GetProperty("alertname").GetString());
        Assert.Equal("5", sent.GetProperty("labels").GetProperty("job_id").GetString());
        Assert.Equal("hpc1", sent.GetProperty("labels").GetProperty("cluster").GetString());
        Assert.Equal(T0, sent.GetProperty("startsAt").GetDateTimeOffset());
        Assert.Equal(T0.AddMinutes(4), sent.GetProperty("endsAt").GetDateTimeOffset());
        Assert.StartsWith("https://", sent.GetProperty("annotations").GetProperty("runbook_url").GetString(), StringComparison.Ordinal);
        Assert.Single(_alertmanagers.Alerts(Second));
        Assert.Equal(["http://am2:9093/prefix/api/v2/alerts"], _alertmanagers.Posts.Where(p => p.Uri.Host == "am2").Select(p => p.Uri.ToString()).Distinct());

        // 30 s later it is not due again; a minute after the first send it is.
        _alertmanagers.Clear();
        await alerter.RunAsync(T0.AddSeconds(30), CancellationToken.None);
        Assert.Empty(_alertmanagers.Posts);
        await alerter.RunAsync(T0.AddSeconds(60), CancellationToken.None);
        Assert.Equal(T0, Assert.Single(_alertmanagers.Alerts(First)).GetProperty("startsAt").GetDateTimeOffset());

        // A restart: the new aggregator sends the same alert with its first startsAt (Alertmanager sees no new alert).
        store.Dispose();
        store = location.Open("hpc1");
        (jobs, alerter) = Alerter(store);
        _alertmanagers.Clear();
        await alerter.RunAsync(T0.AddSeconds(90), CancellationToken.None);
        var again = Assert.Single(_alertmanagers.Alerts(First));
        Assert.Equal(T0, again.GetProperty("startsAt").GetDateTimeOffset());
        Assert.Equal(T0.AddSeconds(90).AddMinutes(4), again.GetProperty("endsAt").GetDateTimeOffset());

        // The job ends: resolved with endsAt now, once, then forgotten (also by the store).
        Poll(store, jobs, Record("5", xids: 3) with { State = "ended", End = T0.AddSeconds(100) }, T0.AddSeconds(100));
        _alertmanagers.Clear();
        await alerter.RunAsync(T0.AddSeconds(120), CancellationToken.None);
        var resolved = Assert.Single(_alertmanagers.Alerts(First));
        Assert.Equal((T0, T0.AddSeconds(120)), (resolved.GetProperty("startsAt").GetDateTimeOffset(), resolved.GetProperty("endsAt").GetDateTimeOffset()));
        _alertmanagers.Clear();
        await alerter.RunAsync(T0.AddSeconds(180), CancellationToken.None);
        Assert.Empty(_alertmanagers.Posts);
        Assert.Empty(store.Alerts());
        store.Dispose();
    }

    [Fact]
    public async Task Push_OneAlertmanagerDown_TheOtherGetsThemAndTheFirstWhenItIsBack()
    {
        using var store = TestStore.Create("sqlite", _tree).Open("hpc1");
        var (jobs, alerter) = Alerter(store);
        _alertmanagers.Down.Add("am1");
        Poll(store, jobs, Record("6", xids: 1), T0);
        await alerter.RunAsync(T0, CancellationToken.None);
        Assert.Empty(_alertmanagers.Alerts(First));
        Assert.Single(_alertmanagers.Alerts(Second));

        // The job ends while am1 is down: the resolution waits for it (am2 has it at once).
        Poll(store, jobs, Record("6", xids: 1) with { State = "ended", End = T0.AddSeconds(10) }, T0.AddSeconds(10));
        _alertmanagers.Clear();
        await alerter.RunAsync(T0.AddSeconds(30), CancellationToken.None);
        Assert.Equal(T0.AddSeconds(30), Assert.Single(_alertmanagers.Alerts(Second)).GetProperty("endsAt").GetDateTimeOffset());
        Assert.Single(store.Alerts());

        _alertmanagers.Down.Clear();
        _alertmanagers.Clear();
        await alerter.RunAsync(T0.AddSeconds(60), CancellationToken.None);
        Assert.Equal(T0.AddSeconds(30), Assert.Single(_alertmanagers.Alerts(First)).GetProperty("endsAt").GetDateTimeOffset());
        Assert.Empty(_alertmanagers.Alerts(Second));
        Assert.Empty(store.Alerts());
    }

    private (RunningJobs Jobs, JobAlerter Alerter) Alerter(JobStore store)
    {
        var rules = new JobAlertRules();
        var jobs = new RunningJobs(rules.SampleEvery, rules.LongestWindow);
        var alerter = new JobAlerter(
            new JobAlertEvaluator(rules, "hpc1"), jobs, store, [First, Second], new HttpClient(_alertmanagers), () => new Dictionary<string, IReadOnlySet<string>>(),
            TimeSpan.FromMinutes(1), NullLogger<JobAlerter>.Instance);
        return (jobs, alerter);
    }

    /// <summary>Stores the answer, then shows it to the view, as the poller does.</summary>
    private static void Poll(JobStore store, RunningJobs jobs, NodeJobRecord record, DateTimeOffset at)
    {
        var page = new JobsFeedPage("n1", $"{Guid.Empty:N}-{record.Revision}", false, false, false, [record]);
        store.Apply("http://n1:9420", page, at);
        jobs.Apply("http://n1:9420", page, at);
    }

    private static long _revision;

    private static NodeJobRecord Record(string id, long xids) => new()
    {
        JobId = id, Revision = Interlocked.Increment(ref _revision), Scheduler = "slurm", State = "running", User = "bob", Account = "chem", Start = T0.AddMinutes(-1),
        Gpus = [new NodeJobGpu { Index = 0, Uuid = "GPU-0", Held = true, AllocatedSeconds = 60, BusySeconds = 60, XidErrors = xids }],
    };

    /// <summary>Records every POST; hosts in <see cref="Down"/> answer 503.</summary>
    private sealed class Recorder : HttpMessageHandler
    {
        public List<(Uri Uri, JsonElement Body)> Posts { get; } = [];

        public HashSet<string> Down { get; } = new(StringComparer.Ordinal);

        public void Clear() => Posts.Clear();

        public List<JsonElement> Alerts(Uri alertmanager) => [.. Posts.Where(p => p.Uri.Host == alertmanager.Host).SelectMany(p => p.Body.EnumerateArray())];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Down.Contains(request.RequestUri!.Host))
            {
                return new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
            }

            Assert.Equal(HttpMethod.Post, request.Method);
            Assert.Equal("application/json", request.Content!.Headers.ContentType!.MediaType);
            Posts.Add((request.RequestUri, JsonDocument.Parse(await request.Content.ReadAsByteArrayAsync(cancellationToken)).RootElement.Clone()));
            return new HttpResponseMessage(HttpStatusCode.OK);
        }
    }
}
