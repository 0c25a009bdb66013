using System.Globalization;
using Microsoft.Data.Sqlite;
using Monitor.Contracts;

namespace Monitor.Aggregator.Storage;

/// <summary>One group of a usage query: GPU-seconds allocated and busy, joules, CPU seconds and jobs finished.</summary>
internal sealed record UsageRow(string Key, double GpuAllocatedSeconds, double GpuBusySeconds, double GpuEnergyJoules, double CpuSeconds, long Jobs);

/// <summary>What the store remembers of one target: the agent's ledger (the cursor's first part) and the cursor.</summary>
/// <param name="Target">The agent's address, as configured.</param>
/// <param name="Cursor">The cursor to poll from next; null before the first poll.</param>
/// <param name="Polls">Feed answers applied so far.</param>
internal sealed record TargetState(string Target, string? Cursor, long Polls);

/// <summary>
/// The aggregator's store on SQLite (<c>--storage.path</c>): one file, no set-up. Schema migrations are numbered and
/// applied at open, each in its own transaction. A feed answer is applied in one transaction together with the
/// target's new cursor, so a crash between the two cannot happen: a restart polls again from the stored cursor and
/// never counts a record twice or skips one. Records are keyed by (cluster, job, start on the node, node) and only a
/// higher revision replaces a stored one, so applying the same answer twice changes nothing. One connection, used
/// under a lock: polls fetch in parallel and store one at a time.
/// </summary>
internal sealed class SqliteJobStore : IDisposable
{
    /// <summary>The migrations, in order; the schema's version is how many have run.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE targets (
            target TEXT PRIMARY KEY,
            cursor TEXT,
            polls INTEGER NOT NULL DEFAULT 0,
            updated_ms INTEGER NOT NULL);
        CREATE TABLE node_jobs (
            cluster TEXT NOT NULL,
            job_id TEXT NOT NULL,
            start_ms INTEGER NOT NULL,
            node TEXT NOT NULL,
            target TEXT NOT NULL,
            revision INTEGER NOT NULL,
            state TEXT NOT NULL,
            scheduler TEXT NOT NULL,
            user TEXT, uid TEXT, account TEXT, partition TEXT, namespace TEXT, pod TEXT,
            start_source TEXT NOT NULL,
            end_ms INTEGER,
            end_source TEXT,
            unobserved_seconds REAL NOT NULL,
            cpu_seconds REAL, memory_bytes REAL, memory_peak_bytes REAL,
            PRIMARY KEY (cluster, job_id, start_ms, node));
        CREATE INDEX node_jobs_by_end ON node_jobs (cluster, end_ms);
        CREATE TABLE node_job_gpus (
            cluster TEXT NOT NULL,
            job_id TEXT NOT NULL,
            start_ms INTEGER NOT NULL,
            node TEXT NOT NULL,
            uuid TEXT NOT NULL,
            gpu_index INTEGER NOT NULL,
            held INTEGER NOT NULL,
            allocated_seconds REAL NOT NULL, busy_seconds REAL NOT NULL, energy_joules REAL NOT NULL,
            tensor_active_seconds REAL NOT NULL, sm_active_seconds REAL NOT NULL, memory_peak_bytes REAL NOT NULL,
            xid_errors INTEGER NOT NULL, ecc_errors INTEGER NOT NULL, unobserved_seconds REAL NOT NULL,
            PRIMARY KEY (cluster, job_id, start_ms, node, uuid));
        """,
        """
        CREATE TABLE daily_usage (
            cluster TEXT NOT NULL,
            day TEXT NOT NULL,
            account TEXT NOT NULL,
            user TEXT NOT NULL,
            partition TEXT NOT NULL,
            gpu_allocated_seconds REAL NOT NULL,
            gpu_busy_seconds REAL NOT NULL,
            gpu_energy_joules REAL NOT NULL,
            cpu_seconds REAL NOT NULL,
            jobs INTEGER NOT NULL,
            PRIMARY KEY (cluster, day, account, user, partition));
        """,
    ];

    private readonly SqliteConnection _connection;
    private readonly string _cluster;
    private readonly Lock _gate = new();

    /// <summary>Opens (creating if needed) the store at <paramref name="path"/> and migrates it.</summary>
    public SqliteJobStore(string path, string cluster)
    {
        _cluster = cluster;
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
        Migrate();
    }

    /// <summary>The schema version after opening.</summary>
    public int SchemaVersion { get; private set; }

    /// <summary>The newest schema this build knows.</summary>
    public static int LatestVersion => Migrations.Length;

    public void Dispose() => _connection.Dispose();

    /// <summary>What the store holds about <paramref name="target"/> (null before its first poll).</summary>
    public TargetState? Target(string target)
    {
        lock (_gate)
        {
            return ReadTarget(target);
        }
    }

    private TargetState? ReadTarget(string target)
    {
        using var command = Command("SELECT cursor, polls FROM targets WHERE target = $target", ("$target", target));
        using var reader = command.ExecuteReader();
        return reader.Read() ? new TargetState(target, reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetInt64(1)) : null;
    }

    /// <summary>
    /// Applies one feed answer of <paramref name="target"/>: every record upserted (a stored higher revision wins), and
    /// the target's cursor moved to the answer's, in one transaction. Returns how many records changed.
    /// </summary>
    public int Apply(string target, JobsFeedPage page, DateTimeOffset now)
    {
        lock (_gate)
        {
            return ApplyLocked(target, page, now);
        }
    }

    private int ApplyLocked(string target, JobsFeedPage page, DateTimeOffset now)
    {
        using var transaction = _connection.BeginTransaction();
        var changed = 0;
        foreach (var job in page.Jobs)
        {
            // A reset means the agent's ledger started over: its revisions start again, so they replace what is stored.
            changed += UpsertJob(transaction, target, page.Node, job, page.Reset);
        }

        using (var command = Command(
            """
            INSERT INTO targets (target, cursor, polls, updated_ms) VALUES ($target, $cursor, 1, $now)
            ON CONFLICT (target) DO UPDATE SET cursor = excluded.cursor, polls = polls + 1, updated_ms = excluded.updated_ms
            """,
            ("$target", target), ("$cursor", (object?)page.Cursor ?? DBNull.Value), ("$now", now.ToUnixTimeMilliseconds())))
        {
            command.Transaction = transaction;
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        return changed;
    }

    /// <summary>Every node's record of job <paramref name="jobId"/> (each lifetime: a requeued job has several starts).</summary>
    public IReadOnlyList<(string Node, NodeJobRecord Record)> Job(string jobId)
    {
        lock (_gate)
        {
            return ReadJob(jobId);
        }
    }

    private List<(string Node, NodeJobRecord Record)> ReadJob(string jobId)
    {
        var records = new List<(string, NodeJobRecord)>();
        using var command = Command(
            """
            SELECT node, start_ms, revision, state, scheduler, user, uid, account, partition, namespace, pod, start_source,
                   end_ms, end_source, unobserved_seconds, cpu_seconds, memory_bytes, memory_peak_bytes
            FROM node_jobs WHERE cluster = $cluster AND job_id = $job ORDER BY start_ms, node
            """,
            ("$cluster", _cluster), ("$job", jobId));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var node = reader.GetString(0);
            var startMs = reader.GetInt64(1);
            records.Add((node, new NodeJobRecord
            {
                JobId = jobId,
                Revision = reader.GetInt64(2),
                State = reader.GetString(3),
                Scheduler = reader.GetString(4),
                User = Text(reader, 5),
                Uid = Text(reader, 6),
                Account = Text(reader, 7),
                Partition = Text(reader, 8),
                Namespace = Text(reader, 9),
                Pod = Text(reader, 10),
                Start = DateTimeOffset.FromUnixTimeMilliseconds(startMs),
                StartSource = reader.GetString(11),
                End = reader.IsDBNull(12) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(12)),
                EndSource = Text(reader, 13),
                UnobservedSeconds = reader.GetDouble(14),
                CpuSeconds = reader.IsDBNull(15) ? null : reader.GetDouble(15),
                MemoryBytes = reader.IsDBNull(16) ? null : reader.GetDouble(16),
                MemoryPeakBytes = reader.IsDBNull(17) ? null : reader.GetDouble(17),
                Gpus = Gpus(jobId, startMs, node),
            }));
        }

        return records;
    }

    private List<NodeJobGpu> Gpus(string jobId, long startMs, string node)
    {
        var gpus = new List<NodeJobGpu>();
        using var command = Command(
            """
            SELECT gpu_index, uuid, held, allocated_seconds, busy_seconds, energy_joules, tensor_active_seconds, sm_active_seconds,
                   memory_peak_bytes, xid_errors, ecc_errors, unobserved_seconds
            FROM node_job_gpus WHERE cluster = $cluster AND job_id = $job AND start_ms = $start AND node = $node ORDER BY gpu_index, uuid
            """,
            ("$cluster", _cluster), ("$job", jobId), ("$start", startMs), ("$node", node));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            gpus.Add(new NodeJobGpu
            {
                Index = reader.GetInt32(0),
                Uuid = reader.GetString(1),
                Held = reader.GetInt64(2) != 0,
                AllocatedSeconds = reader.GetDouble(3),
                BusySeconds = reader.GetDouble(4),
                EnergyJoules = reader.GetDouble(5),
                TensorActiveSeconds = reader.GetDouble(6),
                SmActiveSeconds = reader.GetDouble(7),
                MemoryPeakBytes = reader.GetDouble(8),
                XidErrors = reader.GetInt64(9),
                EccErrors = reader.GetInt64(10),
                UnobservedSeconds = reader.GetDouble(11),
            });
        }

        return gpus;
    }

    private int UpsertJob(SqliteTransaction transaction, string target, string node, NodeJobRecord job, bool reset)
    {
        var startMs = job.Start.ToUnixTimeMilliseconds();
        var wasEnded = Scalar(transaction, "SELECT end_ms IS NOT NULL FROM node_jobs WHERE cluster = $cluster AND job_id = $job AND start_ms = $start AND node = $node",
            ("$cluster", _cluster), ("$job", job.JobId), ("$start", startMs), ("$node", node)) is 1L;
        using var command = Command(
            $"""
            INSERT INTO node_jobs (cluster, job_id, start_ms, node, target, revision, state, scheduler, user, uid, account, partition,
                namespace, pod, start_source, end_ms, end_source, unobserved_seconds, cpu_seconds, memory_bytes, memory_peak_bytes)
            VALUES ($cluster, $job, $start, $node, $target, $revision, $state, $scheduler, $user, $uid, $account, $partition,
                $namespace, $pod, $start_source, $end, $end_source, $unobserved, $cpu, $memory, $memory_peak)
            ON CONFLICT (cluster, job_id, start_ms, node) DO UPDATE SET
                target = excluded.target, revision = excluded.revision, state = excluded.state, scheduler = excluded.scheduler,
                user = excluded.user, uid = excluded.uid, account = excluded.account, partition = excluded.partition,
                namespace = excluded.namespace, pod = excluded.pod, start_source = excluded.start_source, end_ms = excluded.end_ms,
                end_source = excluded.end_source, unobserved_seconds = excluded.unobserved_seconds, cpu_seconds = excluded.cpu_seconds,
                memory_bytes = excluded.memory_bytes, memory_peak_bytes = excluded.memory_peak_bytes
            WHERE {(reset ? "1" : "excluded.revision > node_jobs.revision")}
            """,
            ("$cluster", _cluster), ("$job", job.JobId), ("$start", startMs), ("$node", node), ("$target", target), ("$revision", job.Revision),
            ("$state", job.State), ("$scheduler", job.Scheduler), ("$user", Db(job.User)), ("$uid", Db(job.Uid)), ("$account", Db(job.Account)),
            ("$partition", Db(job.Partition)), ("$namespace", Db(job.Namespace)), ("$pod", Db(job.Pod)), ("$start_source", job.StartSource),
            ("$end", job.End is { } end ? end.ToUnixTimeMilliseconds() : DBNull.Value), ("$end_source", Db(job.EndSource)),
            ("$unobserved", job.UnobservedSeconds), ("$cpu", Db(job.CpuSeconds)), ("$memory", Db(job.MemoryBytes)), ("$memory_peak", Db(job.MemoryPeakBytes)));
        command.Transaction = transaction;
        if (command.ExecuteNonQuery() == 0)
        {
            return 0; // An older or equal revision: already stored.
        }

        foreach (var gpu in job.Gpus)
        {
            using var gpuCommand = Command(
                """
                INSERT INTO node_job_gpus (cluster, job_id, start_ms, node, uuid, gpu_index, held, allocated_seconds, busy_seconds, energy_joules,
                    tensor_active_seconds, sm_active_seconds, memory_peak_bytes, xid_errors, ecc_errors, unobserved_seconds)
                VALUES ($cluster, $job, $start, $node, $uuid, $index, $held, $allocated, $busy, $energy, $tensor, $sm, $memory_peak, $xids, $ecc, $unobserved)
                ON CONFLICT (cluster, job_id, start_ms, node, uuid) DO UPDATE SET
                    gpu_index = excluded.gpu_index, held = excluded.held, allocated_seconds = excluded.allocated_seconds,
                    busy_seconds = excluded.busy_seconds, energy_joules = excluded.energy_joules, tensor_active_seconds = excluded.tensor_active_seconds,
                    sm_active_seconds = excluded.sm_active_seconds, memory_peak_bytes = excluded.memory_peak_bytes, xid_errors = excluded.xid_errors,
                    ecc_errors = excluded.ecc_errors, unobserved_seconds = excluded.unobserved_seconds
                """,
                ("$cluster", _cluster), ("$job", job.JobId), ("$start", startMs), ("$node", node), ("$uuid", gpu.Uuid), ("$index", gpu.Index),
                ("$held", gpu.Held ? 1 : 0), ("$allocated", gpu.AllocatedSeconds), ("$busy", gpu.BusySeconds), ("$energy", gpu.EnergyJoules),
                ("$tensor", gpu.TensorActiveSeconds), ("$sm", gpu.SmActiveSeconds), ("$memory_peak", gpu.MemoryPeakBytes), ("$xids", gpu.XidErrors),
                ("$ecc", gpu.EccErrors), ("$unobserved", gpu.UnobservedSeconds));
            gpuCommand.Transaction = transaction;
            gpuCommand.ExecuteNonQuery();
        }

        if (job.End is { } ended && !wasEnded)
        {
            RollUp(transaction, node, job, startMs, ended);
        }

        return 1;
    }

    /// <summary>
    /// A node's record has just ended: its totals go to the day of its end, under its account, user and partition,
    /// in the same transaction. A record ends once (revisions only grow), so nothing is added twice. The job counts
    /// once, with the first of its nodes' records to end.
    /// </summary>
    private void RollUp(SqliteTransaction transaction, string node, NodeJobRecord job, long startMs, DateTimeOffset end)
    {
        var counted = Scalar(
            transaction,
            // "+end_ms" keeps SQLite on the primary key (cluster, job_id, ...): with the end index it scanned every ended
            // record, and storing a million jobs slowed down with each one.
            "SELECT COUNT(*) FROM node_jobs WHERE cluster = $cluster AND job_id = $job AND node <> $node AND +end_ms IS NOT NULL AND ABS(start_ms - $start) < 86400000",
            ("$cluster", _cluster), ("$job", job.JobId), ("$node", node), ("$start", startMs)) is > 0L;
        using var command = Command(
            """
            INSERT INTO daily_usage (cluster, day, account, user, partition, gpu_allocated_seconds, gpu_busy_seconds, gpu_energy_joules, cpu_seconds, jobs)
            VALUES ($cluster, $day, $account, $user, $partition, $allocated, $busy, $energy, $cpu, $jobs)
            ON CONFLICT (cluster, day, account, user, partition) DO UPDATE SET
                gpu_allocated_seconds = gpu_allocated_seconds + excluded.gpu_allocated_seconds,
                gpu_busy_seconds = gpu_busy_seconds + excluded.gpu_busy_seconds,
                gpu_energy_joules = gpu_energy_joules + excluded.gpu_energy_joules,
                cpu_seconds = cpu_seconds + excluded.cpu_seconds,
                jobs = jobs + excluded.jobs
            """,
            ("$cluster", _cluster), ("$day", end.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), ("$account", job.Account ?? job.Namespace ?? ""),
            ("$user", job.User ?? job.Uid ?? ""), ("$partition", job.Partition ?? ""), ("$allocated", job.Gpus.Sum(g => g.AllocatedSeconds)),
            ("$busy", job.Gpus.Sum(g => g.BusySeconds)), ("$energy", job.Gpus.Sum(g => g.EnergyJoules)), ("$cpu", job.CpuSeconds ?? 0), ("$jobs", counted ? 0 : 1));
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Usage from <paramref name="from"/> to <paramref name="to"/> (days, <paramref name="to"/> excluded) grouped by
    /// <paramref name="by"/>: <c>account</c>, <c>user</c>, <c>partition</c> or <c>day</c>. Reads the daily rollups
    /// only, so a year costs what a day does times 365.
    /// </summary>
    public IReadOnlyList<UsageRow> Usage(string by, DateOnly from, DateOnly to)
    {
        var column = by switch
        {
            "account" => "account",
            "user" => "user",
            "partition" => "partition",
            "day" => "day",
            _ => throw new ArgumentException($"usage is grouped by account, user, partition or day, not '{by}'", nameof(by)),
        };
        lock (_gate)
        {
            using var command = Command(
                $"""
                SELECT {column}, SUM(gpu_allocated_seconds), SUM(gpu_busy_seconds), SUM(gpu_energy_joules), SUM(cpu_seconds), SUM(jobs)
                FROM daily_usage WHERE cluster = $cluster AND day >= $from AND day < $to GROUP BY {column} ORDER BY {column}
                """,
                ("$cluster", _cluster), ("$from", from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), ("$to", to.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
            using var reader = command.ExecuteReader();
            var rows = new List<UsageRow>();
            while (reader.Read())
            {
                rows.Add(new UsageRow(reader.GetString(0), reader.GetDouble(1), reader.GetDouble(2), reader.GetDouble(3), reader.GetDouble(4), reader.GetInt64(5)));
            }

            return rows;
        }
    }

    /// <summary>All-time totals per account and user, from the rollups (for the aggregator's own counters).</summary>
    public IReadOnlyList<(string Account, string User, UsageRow Totals)> TotalsByAccountAndUser()
    {
        lock (_gate)
        {
            using var command = Command(
                """
                SELECT account, user, SUM(gpu_allocated_seconds), SUM(gpu_busy_seconds), SUM(gpu_energy_joules), SUM(cpu_seconds), SUM(jobs)
                FROM daily_usage WHERE cluster = $cluster GROUP BY account, user ORDER BY account, user
                """,
                ("$cluster", _cluster));
            using var reader = command.ExecuteReader();
            var rows = new List<(string, string, UsageRow)>();
            while (reader.Read())
            {
                rows.Add((reader.GetString(0), reader.GetString(1), new UsageRow(string.Empty, reader.GetDouble(2), reader.GetDouble(3), reader.GetDouble(4), reader.GetDouble(5), reader.GetInt64(6))));
            }

            return rows;
        }
    }

    /// <summary>
    /// The (account, user) pairs of jobs still running on some node, named as <see cref="RollUp"/> will name them
    /// when they end (account, else namespace; user, else uid; else "").
    /// </summary>
    public IReadOnlyList<(string Account, string User)> RunningAccountsAndUsers()
    {
        lock (_gate)
        {
            using var command = Command(
                "SELECT DISTINCT COALESCE(account, namespace, ''), COALESCE(user, uid, '') FROM node_jobs WHERE cluster = $cluster AND end_ms IS NULL",
                ("$cluster", _cluster));
            using var reader = command.ExecuteReader();
            var pairs = new List<(string, string)>();
            while (reader.Read())
            {
                pairs.Add((reader.GetString(0), reader.GetString(1)));
            }

            return pairs;
        }
    }

    private object? Scalar(SqliteTransaction transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Command(sql, parameters);
        command.Transaction = transaction;
        return command.ExecuteScalar();
    }

    private void Migrate()
    {
        Execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        using (var read = Command("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
        {
            SchemaVersion = Convert.ToInt32(read.ExecuteScalar(), CultureInfo.InvariantCulture);
        }

        if (SchemaVersion > Migrations.Length)
        {
            throw new InvalidOperationException($"the store's schema is version {SchemaVersion}, newer than this monitor-aggregator knows ({Migrations.Length}); upgrade it, or point --storage.path elsewhere");
        }

        for (var version = SchemaVersion; version < Migrations.Length; version++)
        {
            using var transaction = _connection.BeginTransaction();
            using (var migrate = Command(Migrations[version]))
            {
                migrate.Transaction = transaction;
                migrate.ExecuteNonQuery();
            }

            using (var record = Command("INSERT INTO schema_version (version) VALUES ($version)", ("$version", version + 1)))
            {
                record.Transaction = transaction;
                record.ExecuteNonQuery();
            }

            transaction.Commit();
            SchemaVersion = version + 1;
        }
    }

    private void Execute(string sql)
    {
        using var command = Command(sql);
        command.ExecuteNonQuery();
    }

    private SqliteCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }

    private static object Db(string? value) => (object?)value ?? DBNull.Value;

    private static object Db(double? value) => value is { } number ? number : DBNull.Value;

    private static string? Text(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
