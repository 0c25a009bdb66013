using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Monitor.Aggregator.Storage;
using Prometheus;

namespace Monitor.Aggregator.Alerting;

/// <summary>
/// Evaluates the job alert rules after every poll cycle and pushes the alerts to Alertmanager's API v2
/// (<c>POST /api/v2/alerts</c>) at every <c>--alertmanager.url</c>, as Prometheus does:
/// <list type="bullet">
/// <item>a new alert is sent at once, then again every <c>resend</c> while it fires, with <c>endsAt</c> four
/// resends ahead (so an aggregator that is gone for good lets Alertmanager resolve it);</item>
/// <item>an alert whose condition clears, or whose job ended, is sent once more with <c>endsAt</c> now;</item>
/// <item>the firing alerts and the resolved ones not yet delivered are in the store (<c>job_alerts</c>), written
/// before they are sent: a restarted aggregator sends them again with their first <c>startsAt</c> (Alertmanager
/// sees the same alert, not a new one), and resolves only what it can decide has cleared.</item>
/// </list>
/// Only the replica that polls (the leader) runs it.
/// </summary>
internal sealed partial class JobAlerter(
    JobAlertEvaluator evaluator,
    RunningJobs jobs,
    JobStore store,
    IReadOnlyList<Uri> alertmanagers,
    HttpClient http,
    Func<IReadOnlyDictionary<string, IReadOnlySet<string>>> nodeStates,
    TimeSpan resend,
    ILogger<JobAlerter> logger)
{
    /// <summary>Alerts per POST at most.</summary>
    public const int Batch = 1000;

    private static readonly Gauge Firing = Metrics.CreateGauge("monitor_aggregator_job_alerts", "Job alerts firing now, by rule.", "alertname");
    private static readonly Gauge EvaluationSeconds = Metrics.CreateGauge("monitor_aggregator_job_alert_evaluation_seconds", "How long the last evaluation of the job alert rules took.");
    private static readonly Gauge AlertmanagerUp = Metrics.CreateGauge("monitor_aggregator_alertmanager_up", "Whether the last push of alerts to the Alertmanager worked (1) or not (0).", "url");
    private static readonly Counter Sent = Metrics.CreateCounter("monitor_aggregator_job_alerts_sent_total", "Job alerts delivered to an Alertmanager (each resend counts).", "url");

    private readonly Dictionary<string, Active> _alerts = new(StringComparer.Ordinal);
    private readonly Dictionary<Uri, string?> _problems = [];
    private bool _loaded;

    /// <summary>
    /// Forgets what it holds (after this replica took over from another): the next run starts again from the store's
    /// alerts and running records.
    /// </summary>
    public void Reset()
    {
        _alerts.Clear();
        _loaded = false;
    }

    /// <summary>One evaluation and push at <paramref name="now"/>.</summary>
    public async Task RunAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        Load(now);
        var started = Stopwatch.GetTimestamp();
        var evaluation = evaluator.Evaluate(jobs, nodeStates(), now, _alerts.Values.Where(a => a.EndsAt is null).Select(a => a.Alert.Key).ToHashSet(StringComparer.Ordinal));
        EvaluationSeconds.Set(Stopwatch.GetElapsedTime(started).TotalSeconds);

        var changed = new List<StoredAlert>();
        var firing = new HashSet<string>(StringComparer.Ordinal);
        foreach (var alert in evaluation.Firing)
        {
            firing.Add(alert.Key);
            if (_alerts.TryGetValue(alert.Key, out var active) && active.EndsAt is null)
            {
                // The numbers in the text move every cycle; they are sent, and stored only with a change of labels.
                var relabelled = !active.Alert.Labels.SequenceEqual(alert.Labels);
                active.Alert = alert;
                if (relabelled)
                {
                    changed.Add(active.Stored);
                }

                continue;
            }

            active = new Active(alert, now);
            _alerts[alert.Key] = active;
            changed.Add(active.Stored);
        }

        foreach (var active in _alerts.Values)
        {
            if (active.EndsAt is null && !firing.Contains(active.Alert.Key) && !evaluation.Undecided.Contains(active.Alert.Key))
            {
                active.EndsAt = now;
                active.Pending = [.. alertmanagers];
                changed.Add(active.Stored);
            }
        }

        // Stored before it is sent: a crash between the two sends it again after the restart, never loses it.
        store.SaveAlerts(changed, []);
        var byName = _alerts.Values.Where(a => a.EndsAt is null).CountBy(a => a.Alert.Name, StringComparer.Ordinal).ToDictionary(StringComparer.Ordinal);
        foreach (var name in JobAlertEvaluator.Names)
        {
            Firing.WithLabels(name).Set(byName.GetValueOrDefault(name));
        }

        await PushAsync(now, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Loads the stored alerts and seeds the running jobs from the store, once (again after <see cref="Reset"/>). The
    /// poll cycle calls it before its polls, so that the answers they bring land on the seeded view, not under it.
    /// </summary>
    public void Load(DateTimeOffset now)
    {
        if (_loaded)
        {
            return;
        }

        _loaded = true;
        foreach (var stored in store.Alerts())
        {
            _alerts[stored.Alert.Key] = new Active(stored.Alert, stored.StartsAt) { EndsAt = stored.EndsAt, Pending = stored.EndsAt is null ? [] : [.. alertmanagers] };
        }

        var (running, targets) = store.AlertSeed();
        jobs.Seed(running, targets, now);
    }

    private async Task PushAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var delivered = new List<string>();
        var until = now + (4 * resend);
        foreach (var alertmanager in alertmanagers)
        {
            // Due: new or resolved alerts not yet delivered to this Alertmanager, and firing ones resent every interval.
            var due = _alerts.Values.Where(a => a.EndsAt is null ? !a.SentTo.Contains(alertmanager) || now - a.LastSent.GetValueOrDefault(alertmanager) >= resend : a.Pending.Contains(alertmanager)).ToList();
            var ok = true;
            for (var i = 0; i < due.Count && ok; i += Batch)
            {
                var batch = due.GetRange(i, Math.Min(Batch, due.Count - i));
                ok = await PostAsync(alertmanager, batch, until, cancellationToken).ConfigureAwait(false);
                if (!ok)
                {
                    break;
                }

                Sent.WithLabels(alertmanager.ToString()).Inc(batch.Count);
                foreach (var alert in batch)
                {
                    alert.SentTo.Add(alertmanager);
                    alert.LastSent[alertmanager] = now;
                    alert.Pending.Remove(alertmanager);
                }
            }

            AlertmanagerUp.WithLabels(alertmanager.ToString()).Set(ok ? 1 : 0);
        }

        // A resolved alert is forgotten once every Alertmanager has it, or once the endsAt it was last sent with has
        // passed (an Alertmanager down since then has resolved it by itself).
        foreach (var active in _alerts.Values.Where(a => a.EndsAt is { } end && (a.Pending.Count == 0 || now - end >= 4 * resend)).ToList())
        {
            delivered.Add(active.Alert.Key);
            _alerts.Remove(active.Alert.Key);
        }

        store.SaveAlerts([], delivered);
    }

    private async Task<bool> PostAsync(Uri alertmanager, List<Active> batch, DateTimeOffset until, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartArray();
            foreach (var alert in batch)
            {
                json.WriteStartObject();
                json.WriteStartObject("labels");
                foreach (var (name, value) in alert.Alert.Labels)
                {
                    json.WriteString(name, value);
                }

                json.WriteEndObject();
                json.WriteStartObject("annotations");
                json.WriteString("summary", alert.Alert.Summary);
                json.WriteString("description", alert.Alert.Description);
                json.WriteString("runbook_url", alert.Alert.RunbookUrl);
                json.WriteEndObject();
                json.WriteString("startsAt", alert.StartsAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
                json.WriteString("endsAt", (alert.EndsAt ?? until).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        string? problem;
        try
        {
            using var content = new ByteArrayContent(body.ToArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            using var response = await http.PostAsync(new Uri(alertmanager, "api/v2/alerts"), content, timeout.Token).ConfigureAwait(false);
            problem = response.IsSuccessStatusCode ? null
                : $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}: {Truncate(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false))}";
        }
        catch (HttpRequestException e)
        {
            problem = e.Message;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            problem = "no answer within 10 s";
        }

        var before = _problems.GetValueOrDefault(alertmanager);
        _problems[alertmanager] = problem;
        if (problem is not null && problem != before)
        {
            LogPushFailed(logger, alertmanager.ToString(), problem);
        }
        else if (problem is null && before is not null)
        {
            LogPushRecovered(logger, alertmanager.ToString());
        }

        return problem is null;
    }

    private static string Truncate(string text) => text.Length <= 200 ? text.Trim() : string.Concat(text.AsSpan(0, 200), "…");

    [LoggerMessage(EventId = 5010, EventName = "alertmanager_failed", Level = LogLevel.Warning, Message = "Alerts could not be pushed to {Alertmanager} (monitor_aggregator_alertmanager_up 0; retried every cycle): {Problem}")]
    private static partial void LogPushFailed(ILogger logger, string alertmanager, string problem);

    [LoggerMessage(EventId = 5011, EventName = "alertmanager_recovered", Level = LogLevel.Information, Message = "Alerts are pushed to {Alertmanager} again")]
    private static partial void LogPushRecovered(ILogger logger, string alertmanager);

    /// <summary>One alert's state: firing or resolved, and where it was delivered.</summary>
    private sealed class Active(JobAlert alert, DateTimeOffset startsAt)
    {
        public JobAlert Alert { get; set; } = alert;

        public DateTimeOffset StartsAt { get; } = startsAt;

        public DateTimeOffset? EndsAt { get; set; }

        /// <summary>The Alertmanagers it was delivered to while firing, and when last.</summary>
        public HashSet<Uri> SentTo { get; } = [];

        public Dictionary<Uri, DateTimeOffset> LastSent { get; } = [];

        /// <summary>Resolved: the Alertmanagers still to be told.</summary>
        public HashSet<Uri> Pending { get; set; } = [];

        public StoredAlert Stored => new(Alert, StartsAt, EndsAt);
    }
}
