using System.Text.Json;
using Monitor.Aggregator.Alerting;
using Monitor.Contracts;

namespace Monitor.Aggregator.Storage;

/// <summary>A job alert as stored: what was sent, since when, and when it resolved (null while it fires).</summary>
internal sealed record StoredAlert(JobAlert Alert, DateTimeOffset StartsAt, DateTimeOffset? EndsAt);

/// <summary>The job alerts' state, and what the alert rules start from after a restart.</summary>
internal sealed partial class JobStore
{
    /// <summary>Every stored job alert: firing, or resolved and not yet delivered.</summary>
    public IReadOnlyList<StoredAlert> Alerts()
    {
        lock (_gate)
        {
            return Run(() =>
            {
                using var command = Command(
                    "SELECT alert_key, labels, summary, description, runbook_url, starts_ms, ends_ms FROM job_alerts WHERE cluster = @cluster ORDER BY alert_key",
                    ("cluster", _cluster));
                using var reader = command.ExecuteReader();
                var alerts = new List<StoredAlert>();
                while (reader.Read())
                {
                    var labels = JsonSerializer.Deserialize(reader.GetString(1), AlertJson.Default.ListKeyValuePairStringString) ?? [];
                    alerts.Add(new StoredAlert(
                        new JobAlert(reader.GetString(0), labels, reader.GetString(2), reader.GetString(3), reader.GetString(4)),
                        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
                        reader.IsDBNull(6) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6))));
                }

                return alerts;
            });
        }
    }

    /// <summary>Stores <paramref name="changed"/> (new, changed or resolved alerts) and deletes <paramref name="delivered"/> (resolved and delivered), in one transaction.</summary>
    public void SaveAlerts(IReadOnlyCollection<StoredAlert> changed, IReadOnlyCollection<string> delivered)
    {
        if (changed.Count == 0 && delivered.Count == 0)
        {
            return;
        }

        lock (_gate)
        {
            Run(() =>
            {
                using var transaction = _connection!.BeginTransaction();
                foreach (var (alert, starts, ends) in changed)
                {
                    Execute(
                        transaction,
                        """
                        INSERT INTO job_alerts (cluster, alert_key, labels, summary, description, runbook_url, starts_ms, ends_ms)
                        VALUES (@cluster, @key, @labels, @summary, @description, @runbook, @starts, @ends)
                        ON CONFLICT (cluster, alert_key) DO UPDATE SET labels = excluded.labels, summary = excluded.summary,
                            description = excluded.description, runbook_url = excluded.runbook_url, starts_ms = excluded.starts_ms, ends_ms = excluded.ends_ms
                        """,
                        ("cluster", _cluster), ("key", alert.Key), ("labels", JsonSerializer.Serialize([.. alert.Labels], AlertJson.Default.ListKeyValuePairStringString)),
                        ("summary", alert.Summary), ("description", alert.Description), ("runbook", alert.RunbookUrl), ("starts", starts.ToUnixTimeMilliseconds()),
                        ("ends", ends is { } end ? end.ToUnixTimeMilliseconds() : DBNull.Value));
                }

                foreach (var key in delivered)
                {
                    Execute(transaction, "DELETE FROM job_alerts WHERE cluster = @cluster AND alert_key = @key", ("cluster", _cluster), ("key", key));
                }

                transaction.Commit();
            });
        }
    }

    /// <summary>
    /// Every running record (job on a node) with the target it came from and its GPUs, and when each target last
    /// answered: what the job alert rules start from after a restart. Two reads, whatever the number of jobs.
    /// </summary>
    public (IReadOnlyList<(string Target, string Node, NodeJobRecord Record)> Running, IReadOnlyList<(string Target, DateTimeOffset Answered)> Targets) AlertSeed()
    {
        lock (_gate)
        {
            return Run(() =>
            {
                var records = new Dictionary<(string Job, long Start, string Node), (string Target, NodeJobRecord Record, List<NodeJobGpu> Gpus)>();
                using (var command = Command(
                    """
                    SELECT job_id, start_ms, node, target, revision, scheduler, "user", uid, account, partition, namespace
                    FROM node_jobs WHERE cluster = @cluster AND finalized IS NULL AND end_ms IS NULL
                    """,
                    ("cluster", _cluster)))
                using (var reader = command.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        var gpus = new List<NodeJobGpu>();
                        records[(reader.GetString(0), reader.GetInt64(1), reader.GetString(2))] = (reader.GetString(3), new NodeJobRecord
                        {
                            JobId = reader.GetString(0),
                            Start = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
                            Revision = reader.GetInt64(4),
                            State = "running",
                            Scheduler = reader.GetString(5),
                            User = Text(reader, 6),
                            Uid = Text(reader, 7),
                            Account = Text(reader, 8),
                            Partition = Text(reader, 9),
                            Namespace = Text(reader, 10),
                            Gpus = gpus,
                        }, gpus);
                    }
                }

                using (var command = Command(
                    """
                    SELECT g.job_id, g.start_ms, g.node, g.gpu_index, g.uuid, g.held, g.allocated_seconds, g.busy_seconds, g.memory_peak_bytes,
                           g.memory_total_bytes, g.xid_errors, g.ecc_errors, g.last_xid
                    FROM node_job_gpus g JOIN node_jobs j ON j.cluster = g.cluster AND j.job_id = g.job_id AND j.start_ms = g.start_ms AND j.node = g.node
                    WHERE j.cluster = @cluster AND j.finalized IS NULL AND j.end_ms IS NULL ORDER BY g.gpu_index
                    """,
                    ("cluster", _cluster)))
                using (var reader = command.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        if (records.TryGetValue((reader.GetString(0), reader.GetInt64(1), reader.GetString(2)), out var record))
                        {
                            record.Gpus.Add(new NodeJobGpu
                            {
                                Index = checked((int)reader.GetInt64(3)),
                                Uuid = reader.GetString(4),
                                Held = reader.GetInt64(5) != 0,
                                AllocatedSeconds = reader.GetDouble(6),
                                BusySeconds = reader.GetDouble(7),
                                MemoryPeakBytes = reader.GetDouble(8),
                                MemoryTotalBytes = reader.IsDBNull(9) ? null : reader.GetDouble(9),
                                XidErrors = reader.GetInt64(10),
                                EccErrors = reader.GetInt64(11),
                                LastXid = reader.IsDBNull(12) ? null : reader.GetInt64(12),
                            });
                        }
                    }
                }

                var targets = new List<(string, DateTimeOffset)>();
                using (var command = Command("SELECT target, updated_ms FROM targets", []))
                using (var reader = command.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        targets.Add((reader.GetString(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1))));
                    }
                }

                return ((IReadOnlyList<(string, string, NodeJobRecord)>)[.. records.Select(r => (r.Value.Target, r.Key.Node, r.Value.Record))], (IReadOnlyList<(string, DateTimeOffset)>)targets);
            });
        }
    }
}

/// <summary>The alert labels' JSON, source-generated (no reflection).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(List<KeyValuePair<string, string>>))]
internal sealed partial class AlertJson : System.Text.Json.Serialization.JsonSerializerContext;
