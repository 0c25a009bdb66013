using System.Data;
using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Monitor.Aggregator.Usage;
using Monitor.Contracts;
using Npgsql;

namespace Monitor.Aggregator.Storage;

/// <summary>
/// One group of a usage query: GPU-seconds allocated and busy, joules, CPU seconds and jobs finished, and the cost
/// when rates are configured (<see cref="CostRates"/>).
/// </summary>
internal sealed record UsageRow(string Key, double GpuAllocatedSeconds, double GpuBusySeconds, double GpuEnergyJoules, double CpuSeconds, long Jobs, double? Cost = null);

/// <summary>What the store remembers of one target: the agent's ledger (the cursor's first part) and the cursor.</summary>
/// <param name="Target">The agent's address, as configured.</param>
/// <param name="Cursor">The cursor to poll from next; null before the first poll.</param>
/// <param name="Polls">Feed answers applied so far.</param>
internal sealed record TargetState(string Target, string? Cursor, long Polls);

/// <summary>One GPU of a running job, for <c>monitor top</c>: its totals and what changed at the last poll.</summary>
internal sealed record RunningGpu(string Node, int Index, double AllocatedSeconds, double BusySeconds, double RecentAllocatedSeconds, double RecentBusySeconds);

/// <summary>A job that runs now on at least one node, with the GPUs it holds.</summary>
internal sealed record RunningJob(string JobId, string? User, string? Account, string? Partition, DateTimeOffset Start, IReadOnlyList<string> Nodes, IReadOnlyList<RunningGpu> Gpus);

/// <summary>
/// The aggregator's store, on SQLite (<c>--storage.path</c>: one file, no set-up) or PostgreSQL
/// (<c>--storage.postgres</c>: for scale and for several replicas). Both run the same SQL; where the two differ, the
/// difference is named here. Schema migrations are numbered and applied at open, each in its own transaction (on
/// PostgreSQL under an advisory lock, so replicas starting together migrate once).
/// <para>
/// A feed answer is applied in one transaction together with the target's new cursor, so a crash between the two
/// cannot happen: a restart polls again from the stored cursor and never counts a record twice or skips one. Records
/// are keyed by (cluster, job, start on the node, node) and only a higher revision replaces a stored one, so applying
/// the same answer twice changes nothing.
/// </para>
/// <para>
/// Daily rollups: when a node's record ends, what it has not yet added goes to the day of its end. A running record
/// whose agent has not answered for the finalization grace is finalized "incomplete": what it has goes to that day,
/// and if the node later reports more, only the difference is added. A job counts once, with its first record to
/// finalize.
/// </para>
/// One connection, used under a lock: polls fetch in parallel and store one at a time. A PostgreSQL connection that
/// breaks is opened again at the next call.
/// </summary>
internal sealed partial class JobStore : IDisposable
{
    /// <summary>The migrations, in order; the schema's version is how many have run. The SQL is common to both databases.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE targets (
            target TEXT PRIMARY KEY,
            cursor TEXT,
            polls BIGINT NOT NULL DEFAULT 0,
            updated_ms BIGINT NOT NULL);
        CREATE TABLE node_jobs (
            cluster TEXT NOT NULL,
            job_id TEXT NOT NULL,
            start_ms BIGINT NOT NULL,
            node TEXT NOT NULL,
            target TEXT NOT NULL,
            revision BIGINT NOT NULL,
            state TEXT NOT NULL,
            scheduler TEXT NOT NULL,
            "user" TEXT, uid TEXT, account TEXT, partition TEXT, namespace TEXT, pod TEXT,
            start_source TEXT NOT NULL,
            end_ms BIGINT,
            end_source TEXT,
            unobserved_seconds DOUBLE PRECISION NOT NULL,
            cpu_seconds DOUBLE PRECISION, memory_bytes DOUBLE PRECISION, memory_peak_bytes DOUBLE PRECISION,
            PRIMARY KEY (cluster, job_id, start_ms, node));
        CREATE INDEX node_jobs_by_end ON node_jobs (cluster, end_ms);
        CREATE TABLE node_job_gpus (
            cluster TEXT NOT NULL,
            job_id TEXT NOT NULL,
            start_ms BIGINT NOT NULL,
            node TEXT NOT NULL,
            uuid TEXT NOT NULL,
            gpu_index BIGINT NOT NULL,
            held BIGINT NOT NULL,
            allocated_seconds DOUBLE PRECISION NOT NULL, busy_seconds DOUBLE PRECISION NOT NULL, energy_joules DOUBLE PRECISION NOT NULL,
            tensor_active_seconds DOUBLE PRECISION NOT NULL, sm_active_seconds DOUBLE PRECISION NOT NULL, memory_peak_bytes DOUBLE PRECISION NOT NULL,
            xid_errors BIGINT NOT NULL, ecc_errors BIGINT NOT NULL, unobserved_seconds DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (cluster, job_id, start_ms, node, uuid));
        """,
        """
        CREATE TABLE daily_usage (
            cluster TEXT NOT NULL,
            day TEXT NOT NULL,
            account TEXT NOT NULL,
            "user" TEXT NOT NULL,
            partition TEXT NOT NULL,
            gpu_allocated_seconds DOUBLE PRECISION NOT NULL,
            gpu_busy_seconds DOUBLE PRECISION NOT NULL,
            gpu_energy_joules DOUBLE PRECISION NOT NULL,
            cpu_seconds DOUBLE PRECISION NOT NULL,
            jobs BIGINT NOT NULL,
            PRIMARY KEY (cluster, day, account, "user", partition));
        """,
        // Finalization: what each record has added to the rollups, and how it was finalized ('ended' or 'incomplete').
        // Records that ended before this migration were rolled up in full. And each GPU's change at the last poll.
        """
        ALTER TABLE node_jobs ADD COLUMN finalized TEXT;
        ALTER TABLE node_jobs ADD COLUMN rolled_allocated_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
        ALTER TABLE node_jobs ADD COLUMN rolled_busy_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
        ALTER TABLE node_jobs ADD COLUMN rolled_energy_joules DOUBLE PRECISION NOT NULL DEFAULT 0;
        ALTER TABLE node_jobs ADD COLUMN rolled_cpu_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
        ALTER TABLE node_job_gpus ADD COLUMN recent_allocated_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
        ALTER TABLE node_job_gpus ADD COLUMN recent_busy_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
        UPDATE node_jobs SET finalized = 'ended',
            rolled_allocated_seconds = (SELECT COALESCE(SUM(g.allocated_seconds), 0) FROM node_job_gpus g WHERE g.cluster = node_jobs.cluster AND g.job_id = node_jobs.job_id AND g.start_ms = node_jobs.start_ms AND g.node = node_jobs.node),
            rolled_busy_seconds = (SELECT COALESCE(SUM(g.busy_seconds), 0) FROM node_job_gpus g WHERE g.cluster = node_jobs.cluster AND g.job_id = node_jobs.job_id AND g.start_ms = node_jobs.start_ms AND g.node = node_jobs.node),
            rolled_energy_joules = (SELECT COALESCE(SUM(g.energy_joules), 0) FROM node_job_gpus g WHERE g.cluster = node_jobs.cluster AND g.job_id = node_jobs.job_id AND g.start_ms = node_jobs.start_ms AND g.node = node_jobs.node),
            rolled_cpu_seconds = COALESCE(cpu_seconds, 0)
        WHERE end_ms IS NOT NULL;
        CREATE INDEX node_jobs_open ON node_jobs (cluster, target) WHERE finalized IS NULL;
        """,
        // The job's allocated CPUs and memory limit, each GPU's memory total (agent ledger format 2); and the Slurm
        // AdminComments written (--slurm.admin-comment).
        """
        ALTER TABLE node_jobs ADD COLUMN cpus_allocated DOUBLE PRECISION;
        ALTER TABLE node_jobs ADD COLUMN memory_limit_bytes DOUBLE PRECISION;
        ALTER TABLE node_job_gpus ADD COLUMN memory_total_bytes DOUBLE PRECISION;
        ALTER TABLE node_job_gpus ADD COLUMN utilization_peak DOUBLE PRECISION;
        CREATE TABLE job_comments (
            cluster TEXT NOT NULL,
            job_id TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            updated_ms BIGINT NOT NULL,
            PRIMARY KEY (cluster, job_id));
        """,

        // 5: the job alerts firing (and those resolved but not yet delivered), so a restart neither loses nor repeats one.
        """
        CREATE TABLE job_alerts (
            cluster TEXT NOT NULL,
            alert_key TEXT NOT NULL,
            labels TEXT NOT NULL,
            summary TEXT NOT NULL,
            description TEXT NOT NULL,
            runbook_url TEXT NOT NULL,
            starts_ms BIGINT NOT NULL,
            ends_ms BIGINT,
            PRIMARY KEY (cluster, alert_key));
        """,

        // 6: the code of the last XID on a job's GPU (kept when a later revision no longer knows it).
        """
        ALTER TABLE node_job_gpus ADD COLUMN last_xid BIGINT;
        """,

        // 7: the job's CPU energy on the node (RAPL, agent ledger format 3), where the agent could attribute it.
        """
        ALTER TABLE node_jobs ADD COLUMN cpu_energy_joules DOUBLE PRECISION;
        """,
    ];

    /// <summary>The advisory lock key that serializes migrations across replicas ("monitor" in ASCII).</summary>
    private const long MigrationLockKey = 0x6d6f6e69746f72;

    private readonly Func<DbConnection> _connect;
    private readonly string _cluster;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _writers = new(1, 1);
    private readonly List<PendingAnswer> _answers = [];
    private long _changedSinceAnalyze;
    private long _changedBeforeAnalyze;
    private readonly Dictionary<string, DbCommand> _prepared = new(StringComparer.Ordinal);
    private DbConnection? _connection;

    private JobStore(Func<DbConnection> connect, string cluster, bool postgres, string description)
    {
        _connect = connect;
        _cluster = cluster;
        IsPostgres = postgres;
        Description = description;
        lock (_gate)
        {
            Run(Migrate);
        }
    }

    /// <summary>Whether the store is PostgreSQL.</summary>
    public bool IsPostgres { get; }

    /// <summary>What the store is, for logs: "SQLite /var/lib/..." or "PostgreSQL host:port/database".</summary>
    public string Description { get; }

    /// <summary>Seconds spent applying feed answers (under the store's lock), since the store was opened.</summary>
    public double ApplySeconds { get; private set; }

    /// <summary>The schema version after opening.</summary>
    public int SchemaVersion { get; private set; }

    /// <summary>The newest schema this build knows.</summary>
    public static int LatestVersion => Migrations.Length;

    /// <summary>Opens (creating if needed) the SQLite store at <paramref name="path"/> and migrates it.</summary>
    public static JobStore OpenSqlite(string path, string cluster) => new(
        () =>
        {
            var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            connection.Open();
            using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";
            pragma.ExecuteNonQuery();
            return connection;
        },
        cluster,
        postgres: false,
        $"SQLite {path}");

    /// <summary>Opens the PostgreSQL store named by <paramref name="connectionString"/> (Npgsql's keywords) and migrates it.</summary>
    public static JobStore OpenPostgres(string connectionString, string cluster)
    {
        // Statements are the same every poll: let Npgsql prepare them once per connection.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 32, AutoPrepareMinUsages = 2 };
        var text = builder.ConnectionString;
        return new JobStore(
            () =>
            {
                var connection = new NpgsqlConnection(text);
                connection.Open();
                return connection;
            },
            cluster,
            postgres: true,
            $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}");
    }

    public void Dispose()
    {
        lock (_gate)
        {
            Close();
        }

        _writers.Dispose();
    }

    private void Close()
    {
        foreach (var command in _prepared.Values)
        {
            command.Dispose();
        }

        _prepared.Clear();
        _connection?.Dispose();
        _connection = null;
    }

    /// <summary>What the store holds about <paramref name="target"/> (null before its first poll).</summary>
    public TargetState? Target(string target)
    {
        lock (_gate)
        {
            return Run(() =>
            {
                using var reader = Prepared(null, "SELECT cursor, polls FROM targets WHERE target = @target", [("target", target)]).ExecuteReader();
                return reader.Read() ? new TargetState(target, reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetInt64(1)) : null;
            });
        }
    }

    /// <summary>
    /// Applies one feed answer of <paramref name="target"/>: every record upserted (a stored higher revision wins), and
    /// the target's cursor moved to the answer's, in one transaction. Returns how many records changed.
    /// </summary>
    public int Apply(string target, JobsFeedPage page, DateTimeOffset now)
    {
        lock (_gate)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                var changed = ApplyLocked(target, page, now);
                AnalyzeWhenGrown(changed);
                return changed;
            }
            finally
            {
                ApplySeconds += System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
            }
        }
    }

    /// <summary>
    /// PostgreSQL plans its prepared statements from the tables' statistics; plans made while the tables were empty
    /// (a new store's first cycle) scan them whole, and filling a new store with 50,000 jobs took 86 s instead of 12.
    /// So the tables are analyzed as they grow: after 2,000 changed records, then each time the changes since the last
    /// analysis reach all those before it (a handful of times while a store fills, then rarely).
    /// </summary>
    private void AnalyzeWhenGrown(int changed)
    {
        if (!IsPostgres)
        {
            return;
        }

        _changedSinceAnalyze += changed;
        if (_changedSinceAnalyze >= Math.Max(2000, _changedBeforeAnalyze))
        {
            Run(() => Execute(null, "ANALYZE node_jobs, node_job_gpus"));
            (_changedBeforeAnalyze, _changedSinceAnalyze) = (_changedBeforeAnalyze + _changedSinceAnalyze, 0);
        }
    }

    /// <summary>
    /// <see cref="Apply"/> for concurrent polls: they wait their turn asynchronously, so 64 polls waiting for the one
    /// writer hold no threads (blocked on the lock, they starved the thread pool, and other polls' HTTP timed out).
    /// On SQLite the answers that queued while the writer was busy are stored together, in one transaction (a group
    /// commit): each answer's records and cursor still land together, and the index pages they share are written once
    /// per group instead of once per answer. If the group fails, each answer is stored alone, so a bad one fails only
    /// its own poll.
    /// </summary>
    public async Task<int> ApplyAsync(string target, JobsFeedPage page, DateTimeOffset now)
    {
        var answer = new PendingAnswer(target, page, now);
        if (!IsPostgres)
        {
            lock (_answers)
            {
                _answers.Add(answer);
            }
        }

        await _writers.WaitAsync().ConfigureAwait(false);
        try
        {
            if (IsPostgres)
            {
                return Apply(target, page, now);
            }

            if (!answer.Stored.Task.IsCompleted)
            {
                List<PendingAnswer> group;
                lock (_answers)
                {
                    group = [.. _answers];
                    _answers.Clear();
                }

                try
                {
                    ApplyGroup(group);
                }
                catch (Exception e)
                {
                    // Whatever failed, no poll waits forever for an answer that will never be stored.
                    foreach (var pending in group)
                    {
                        pending.Stored.TrySetException(e);
                    }

                    throw;
                }
            }
        }
        finally
        {
            _writers.Release();
        }

        return await answer.Stored.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="work"/> (the parsing of a poll's answer) in the writer's turn on SQLite, where storing is
    /// this process's own CPU: the cycle's parsing and storing then take turns instead of running side by side, so a
    /// cycle uses one core at most, whatever the number of polls in flight, and leaves the other cores to the API.
    /// On PostgreSQL, whose server does the storing, it runs at once.
    /// </summary>
    public async Task<T> InWriterTurnAsync<T>(Func<T> work)
    {
        if (IsPostgres)
        {
            return work();
        }

        await _writers.WaitAsync().ConfigureAwait(false);
        try
        {
            return work();
        }
        finally
        {
            _writers.Release();
        }
    }

    /// <summary>For tests: the writer's turn, which a test can hold to make answers queue.</summary>
    internal SemaphoreSlim WriterTurn => _writers;

    /// <summary>For tests: how many answers wait for the writer (SQLite).</summary>
    internal int QueuedAnswers
    {
        get
        {
            lock (_answers)
            {
                return _answers.Count;
            }
        }
    }

    /// <summary>How many transactions stored answers of concurrent polls (SQLite; one per group).</summary>
    internal long GroupCommits { get; private set; }

    /// <summary>SQLite: stores <paramref name="group"/> in one transaction, or each answer alone if that fails.</summary>
    private void ApplyGroup(List<PendingAnswer> group)
    {
        int[]? counts = null;
        Exception? failure = null;
        lock (_gate)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                counts = Run(() =>
                {
                    using var transaction = _connection!.BeginTransaction();
                    var changed = new int[group.Count];
                    for (var i = 0; i < group.Count; i++)
                    {
                        changed[i] = ApplySqlite(transaction, group[i].Target, group[i].Page, group[i].Now);
                    }

                    transaction.Commit();
                    GroupCommits++;
                    return changed;
                });
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or ArgumentException or FormatException or OverflowException)
            {
                failure = e;
            }
            finally
            {
                ApplySeconds += System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
            }
        }

        for (var i = 0; i < group.Count; i++)
        {
            var answer = group[i];
            if (counts is not null)
            {
                answer.Stored.TrySetResult(counts[i]);
            }
            else if (group.Count == 1)
            {
                answer.Stored.TrySetException(failure!);
            }
            else
            {
                try
                {
                    answer.Stored.TrySetResult(Apply(answer.Target, answer.Page, answer.Now));
                }
                catch (Exception e) when (e is DbException or InvalidOperationException or ArgumentException or FormatException or OverflowException)
                {
                    answer.Stored.TrySetException(e);
                }
            }
        }
    }

    private int ApplyLocked(string target, JobsFeedPage page, DateTimeOffset now) =>
            Run(() =>
            {
                if (IsPostgres)
                {
                    return ApplyPostgres(target, page, now);
                }

                using var transaction = _connection!.BeginTransaction();
                var changed = ApplySqlite(transaction, target, page, now);
                transaction.Commit();
                return changed;
            });

    /// <summary>SQLite: one answer's records and the target's cursor, in <paramref name="transaction"/>.</summary>
    private int ApplySqlite(DbTransaction transaction, string target, JobsFeedPage page, DateTimeOffset now)
    {
        var changed = 0;
        foreach (var job in page.Jobs)
        {
            // A reset means the agent's ledger started over: its revisions start again, so they replace what is stored.
            changed += UpsertJob(transaction, target, page.Node, job, page.Reset);
        }

        Execute(transaction, TargetUpsertSql, TargetParameters(target, page, now));
        return changed;
    }

    /// <summary>An answer waiting for the writer, and the task its poll awaits.</summary>
    private sealed class PendingAnswer(string target, JobsFeedPage page, DateTimeOffset now)
    {
        public string Target { get; } = target;

        public JobsFeedPage Page { get; } = page;

        public DateTimeOffset Now { get; } = now;

        public TaskCompletionSource<int> Stored { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// PostgreSQL: the answer's job locks, its running records and their GPUs, and (when nothing in it ended) the
    /// target's cursor go in one batch. A batch outside a transaction is one implicit transaction, so an answer of
    /// running jobs, the usual one, is stored in one round trip instead of five. An answer with ended records stores
    /// them one at a time after the batch (they read and add to the rollups), in an explicit transaction.
    /// </summary>
    private int ApplyPostgres(string target, JobsFeedPage page, DateTimeOffset now)
    {
        var ended = page.Jobs.Where(j => j.End is not null).ToList();
        using var transaction = ended.Count > 0 ? _connection!.BeginTransaction() : null;
        using var batch = _connection!.CreateBatch();
        batch.Transaction = transaction;
        var ids = page.Jobs.Select(j => j.JobId).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (ids.Length > 0)
        {
            Add(batch, LockJobsSql, [("cluster", _cluster), ("jobs", ids)]);
        }

        var upserts = new List<DbBatchCommand>();
        foreach (var job in page.Jobs.Where(j => j.End is null))
        {
            var (sql, parameters) = JobUpsert(target, page.Node, job, page.Reset);
            upserts.Add(Add(batch, sql, parameters));
            foreach (var gpu in job.Gpus)
            {
                Add(batch, GuardedGpuUpsertSql, [.. GpuParameters(page.Node, job, job.Start.ToUnixTimeMilliseconds(), gpu), ("revision", job.Revision)]);
            }
        }

        if (transaction is null)
        {
            Add(batch, TargetUpsertSql, TargetParameters(target, page, now));
        }

        batch.ExecuteNonQuery();
        var changed = upserts.Count(u => u.RecordsAffected > 0);
        if (transaction is not null)
        {
            foreach (var job in ended)
            {
                changed += UpsertJob(transaction, target, page.Node, job, page.Reset);
            }

            Execute(transaction, TargetUpsertSql, TargetParameters(target, page, now));
            transaction.Commit();
        }

        return changed;
    }

    private const string TargetUpsertSql =
        """
        INSERT INTO targets (target, cursor, polls, updated_ms) VALUES (@target, @cursor, 1, @now)
        ON CONFLICT (target) DO UPDATE SET cursor = excluded.cursor, polls = targets.polls + 1, updated_ms = excluded.updated_ms
        """;

    private const string LockJobsSql = "SELECT pg_advisory_xact_lock(hashtext(@cluster || '/' || j)) FROM unnest(@jobs) WITH ORDINALITY AS t(j, n) ORDER BY n";

    private static (string Name, object Value)[] TargetParameters(string target, JobsFeedPage page, DateTimeOffset now) =>
        [("target", target), ("cursor", (object?)page.Cursor ?? DBNull.Value), ("now", now.ToUnixTimeMilliseconds())];

    /// <summary>
    /// Every node's record of job <paramref name="jobId"/> (each lifetime: a requeued job has several starts). A record
    /// finalized because its node stopped answering has the state "incomplete".
    /// </summary>
    public IReadOnlyList<(string Node, NodeJobRecord Record)> Job(string jobId)
    {
        lock (_gate)
        {
            return Run(() => ReadRecords(null, "job_id = @job", ("job", jobId)));
        }
    }

    /// <summary>Every job running now (some node's record neither ended nor finalized), with the GPUs it holds.</summary>
    public IReadOnlyList<RunningJob> Running()
    {
        lock (_gate)
        {
            return Run(() =>
            {
                // Two reads, whatever the number of running jobs: their node records, then the GPUs they hold.
                var nodes = new List<(string Job, long Start, string Node, string? User, string? Account, string? Partition)>();
                using (var command = Command(
                    """
                    SELECT job_id, start_ms, node, COALESCE("user", uid), COALESCE(account, namespace), partition
                    FROM node_jobs WHERE cluster = @cluster AND finalized IS NULL
                    """,
                    ("cluster", _cluster)))
                using (var reader = command.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        nodes.Add((reader.GetString(0), reader.GetInt64(1), reader.GetString(2), Text(reader, 3), Text(reader, 4), Text(reader, 5)));
                    }
                }

                var gpus = new List<(string Job, RunningGpu Gpu)>();
                using (var command = Command(
                    """
                    SELECT g.job_id, g.node, g.gpu_index, g.allocated_seconds, g.busy_seconds, g.recent_allocated_seconds, g.recent_busy_seconds
                    FROM node_job_gpus g JOIN node_jobs j ON j.cluster = g.cluster AND j.job_id = g.job_id AND j.start_ms = g.start_ms AND j.node = g.node
                    WHERE j.cluster = @cluster AND j.finalized IS NULL AND g.held <> 0
                    """,
                    ("cluster", _cluster)))
                using (var reader = command.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        gpus.Add((reader.GetString(0), new RunningGpu(reader.GetString(1), checked((int)reader.GetInt64(2)), reader.GetDouble(3), reader.GetDouble(4), reader.GetDouble(5), reader.GetDouble(6))));
                    }
                }

                var byJob = gpus.ToLookup(g => g.Job, g => g.Gpu, StringComparer.Ordinal);
                return nodes
                    .GroupBy(n => n.Job, StringComparer.Ordinal)
                    .Select(job =>
                    {
                        var first = job.MinBy(n => n.Start);
                        return new RunningJob(
                            job.Key, first.User, first.Account, first.Partition, DateTimeOffset.FromUnixTimeMilliseconds(first.Start),
                            [.. job.Select(n => n.Node).Distinct().Order(StringComparer.Ordinal)], [.. byJob[job.Key]]);
                    })
                    .ToList();
            });
        }
    }

    /// <summary>
    /// Finalizes as "incomplete" every running record whose target has not answered since before
    /// <paramref name="now"/> − <paramref name="grace"/>: what it has goes to today's rollup, so a node that never
    /// comes back still counts, and the job is marked incomplete rather than silently complete. Returns how many.
    /// </summary>
    public int FinalizeUnreachable(DateTimeOffset now, TimeSpan grace)
    {
        lock (_gate)
        {
            return Run(() =>
            {
                var stale = ReadRecords(
                    null,
                    "finalized IS NULL AND end_ms IS NULL AND target IN (SELECT target FROM targets WHERE updated_ms < @before)",
                    ("before", (now - grace).ToUnixTimeMilliseconds()));
                if (stale.Count == 0)
                {
                    return 0;
                }

                using var transaction = _connection!.BeginTransaction();
                LockJobs(transaction, stale.Select(r => r.Record.JobId));
                foreach (var (node, record) in stale)
                {
                    RollUp(transaction, node, record, record.Start.ToUnixTimeMilliseconds(), now, "incomplete");
                }

                transaction.Commit();
                return stale.Count;
            });
        }
    }

    /// <summary>
    /// Deletes the records of jobs that ended (or were finalized) before <paramref name="before"/>, with their GPUs.
    /// The daily rollups stay, so usage over any window still answers. Returns how many node records went.
    /// </summary>
    public int DeleteEndedBefore(DateTimeOffset before)
    {
        lock (_gate)
        {
            return Run(() =>
            {
                using var transaction = _connection!.BeginTransaction();
                var cutoff = ("before", (object)before.ToUnixTimeMilliseconds());
                Execute(
                    transaction,
                    """
                    DELETE FROM node_job_gpus WHERE EXISTS (
                        SELECT 1 FROM node_jobs j WHERE j.cluster = node_job_gpus.cluster AND j.job_id = node_job_gpus.job_id AND j.start_ms = node_job_gpus.start_ms
                            AND j.node = node_job_gpus.node AND j.cluster = @cluster AND j.finalized IS NOT NULL AND COALESCE(j.end_ms, j.start_ms) < @before)
                    """,
                    ("cluster", _cluster),
                    cutoff);
                var deleted = Execute(
                    transaction,
                    "DELETE FROM node_jobs WHERE cluster = @cluster AND finalized IS NOT NULL AND COALESCE(end_ms, start_ms) < @before",
                    ("cluster", _cluster),
                    cutoff);
                transaction.Commit();
                return deleted;
            });
        }
    }

    private List<(string Node, NodeJobRecord Record)> ReadRecords(DbTransaction? transaction, string where, params (string Name, object Value)[] parameters)
    {
        var records = new List<(string, NodeJobRecord)>();
        using (var command = Command(
            $"""
            SELECT node, start_ms, revision, state, scheduler, "user", uid, account, partition, namespace, pod, start_source,
                   end_ms, end_source, unobserved_seconds, cpu_seconds, memory_bytes, memory_peak_bytes, job_id, finalized,
                   cpus_allocated, memory_limit_bytes, cpu_energy_joules
            FROM node_jobs WHERE cluster = @cluster AND {where} ORDER BY job_id, start_ms, node
            """,
            [("cluster", _cluster), .. parameters]))
        {
            command.Transaction = transaction;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                records.Add((reader.GetString(0), new NodeJobRecord
                {
                    JobId = reader.GetString(18),
                    Revision = reader.GetInt64(2),
                    // A record finalized because its node stopped answering says so: its job is incomplete.
                    State = Text(reader, 19) == "incomplete" ? "incomplete" : reader.GetString(3),
                    Scheduler = reader.GetString(4),
                    User = Text(reader, 5),
                    Uid = Text(reader, 6),
                    Account = Text(reader, 7),
                    Partition = Text(reader, 8),
                    Namespace = Text(reader, 9),
                    Pod = Text(reader, 10),
                    Start = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
                    StartSource = reader.GetString(11),
                    End = reader.IsDBNull(12) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(12)),
                    EndSource = Text(reader, 13),
                    UnobservedSeconds = reader.GetDouble(14),
                    CpuSeconds = reader.IsDBNull(15) ? null : reader.GetDouble(15),
                    MemoryBytes = reader.IsDBNull(16) ? null : reader.GetDouble(16),
                    MemoryPeakBytes = reader.IsDBNull(17) ? null : reader.GetDouble(17),
                    CpusAllocated = reader.IsDBNull(20) ? null : reader.GetDouble(20),
                    MemoryLimitBytes = reader.IsDBNull(21) ? null : reader.GetDouble(21),
                    CpuEnergyJoules = reader.IsDBNull(22) ? null : reader.GetDouble(22),
                }));
            }
        }

        for (var i = 0; i < records.Count; i++)
        {
            var (node, record) = records[i];
            records[i] = (node, record with { Gpus = Gpus(transaction, record.JobId, record.Start.ToUnixTimeMilliseconds(), node) });
        }

        return records;
    }

    private List<NodeJobGpu> Gpus(DbTransaction? transaction, string jobId, long startMs, string node)
    {
        var gpus = new List<NodeJobGpu>();
        using var command = Command(
            """
            SELECT gpu_index, uuid, held, allocated_seconds, busy_seconds, energy_joules, tensor_active_seconds, sm_active_seconds,
                   memory_peak_bytes, xid_errors, ecc_errors, unobserved_seconds, memory_total_bytes, utilization_peak, last_xid
            FROM node_job_gpus WHERE cluster = @cluster AND job_id = @job AND start_ms = @start AND node = @node ORDER BY gpu_index, uuid
            """,
            ("cluster", _cluster), ("job", jobId), ("start", startMs), ("node", node));
        command.Transaction = transaction;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            gpus.Add(new NodeJobGpu
            {
                Index = checked((int)reader.GetInt64(0)),
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
                MemoryTotalBytes = reader.IsDBNull(12) ? null : reader.GetDouble(12),
                UtilizationPeak = reader.IsDBNull(13) ? null : reader.GetDouble(13),
                LastXid = reader.IsDBNull(14) ? null : reader.GetInt64(14),
            });
        }

        return gpus;
    }

    /// <summary>The upsert of a node's job record: only a higher revision replaces a stored one, any after a reset.</summary>
    private (string Sql, (string Name, object Value)[] Parameters) JobUpsert(string target, string node, NodeJobRecord job, bool reset) =>
    (
        $"""
        INSERT INTO node_jobs (cluster, job_id, start_ms, node, target, revision, state, scheduler, "user", uid, account, partition,
            namespace, pod, start_source, end_ms, end_source, unobserved_seconds, cpu_seconds, memory_bytes, memory_peak_bytes,
            cpus_allocated, memory_limit_bytes, cpu_energy_joules)
        VALUES (@cluster, @job, @start, @node, @target, @revision, @state, @scheduler, @user, @uid, @account, @partition,
            @namespace, @pod, @start_source, @end, @end_source, @unobserved, @cpu, @memory, @memory_peak, @cpus, @memory_limit, @cpu_energy)
        ON CONFLICT (cluster, job_id, start_ms, node) DO UPDATE SET
            target = excluded.target, revision = excluded.revision, state = excluded.state, scheduler = excluded.scheduler,
            "user" = excluded."user", uid = excluded.uid, account = excluded.account, partition = excluded.partition,
            namespace = excluded.namespace, pod = excluded.pod, start_source = excluded.start_source, end_ms = excluded.end_ms,
            end_source = excluded.end_source, unobserved_seconds = excluded.unobserved_seconds, cpu_seconds = excluded.cpu_seconds,
            memory_bytes = excluded.memory_bytes, memory_peak_bytes = excluded.memory_peak_bytes,
            cpus_allocated = excluded.cpus_allocated, memory_limit_bytes = excluded.memory_limit_bytes,
            cpu_energy_joules = excluded.cpu_energy_joules,
            finalized = CASE WHEN excluded.end_ms IS NULL THEN NULL ELSE node_jobs.finalized END
        WHERE {(reset ? "1 = 1" : "excluded.revision > node_jobs.revision")}
        """,
        [
            ("cluster", _cluster), ("job", job.JobId), ("start", job.Start.ToUnixTimeMilliseconds()), ("node", node), ("target", target), ("revision", job.Revision),
            ("state", job.State), ("scheduler", job.Scheduler), ("user", Db(job.User)), ("uid", Db(job.Uid)), ("account", Db(job.Account)),
            ("partition", Db(job.Partition)), ("namespace", Db(job.Namespace)), ("pod", Db(job.Pod)), ("start_source", job.StartSource),
            ("end", job.End is { } end ? end.ToUnixTimeMilliseconds() : (object)DBNull.Value), ("end_source", Db(job.EndSource)),
            ("unobserved", job.UnobservedSeconds), ("cpu", Db(job.CpuSeconds)), ("memory", Db(job.MemoryBytes)), ("memory_peak", Db(job.MemoryPeakBytes)),
            ("cpus", Db(job.CpusAllocated)), ("memory_limit", Db(job.MemoryLimitBytes)), ("cpu_energy", Db(job.CpuEnergyJoules)),
        ]);

    private const string GpuInsert =
        """
        INSERT INTO node_job_gpus (cluster, job_id, start_ms, node, uuid, gpu_index, held, allocated_seconds, busy_seconds, energy_joules,
            tensor_active_seconds, sm_active_seconds, memory_peak_bytes, xid_errors, ecc_errors, unobserved_seconds,
            recent_allocated_seconds, recent_busy_seconds, memory_total_bytes, utilization_peak, last_xid)
        """;

    private const string GpuValues = "@cluster, @job, @start, @node, @uuid, @index, @held, @allocated, @busy, @energy, @tensor, @sm, @memory_peak, @xids, @ecc, @unobserved, @allocated, @busy, @memory_total, @utilization_peak, @last_xid";

    private const string GpuOnConflict =
        """
        ON CONFLICT (cluster, job_id, start_ms, node, uuid) DO UPDATE SET
            gpu_index = excluded.gpu_index, held = excluded.held, allocated_seconds = excluded.allocated_seconds,
            busy_seconds = excluded.busy_seconds, energy_joules = excluded.energy_joules, tensor_active_seconds = excluded.tensor_active_seconds,
            sm_active_seconds = excluded.sm_active_seconds, memory_peak_bytes = excluded.memory_peak_bytes, xid_errors = excluded.xid_errors,
            ecc_errors = excluded.ecc_errors, unobserved_seconds = excluded.unobserved_seconds, memory_total_bytes = excluded.memory_total_bytes,
            utilization_peak = excluded.utilization_peak, last_xid = COALESCE(excluded.last_xid, node_job_gpus.last_xid),
            recent_allocated_seconds = excluded.allocated_seconds - node_job_gpus.allocated_seconds,
            recent_busy_seconds = excluded.busy_seconds - node_job_gpus.busy_seconds
        """;

    /// <summary>The upsert of one GPU of a node's job record; the recent_* columns keep what changed since the last one.</summary>
    private const string GpuUpsertSql = GpuInsert + "\nVALUES (" + GpuValues + ")\n" + GpuOnConflict;

    /// <summary>
    /// <see cref="GpuUpsertSql"/> guarded by its job's row: written only when the job's record is at this revision
    /// (the job upsert before it in the same batch changed it, or a replay of the same answer). For a batch, where
    /// the job upsert's result is not known when the GPU's statement is sent.
    /// </summary>
    private const string GuardedGpuUpsertSql = GpuInsert + "\nSELECT " + GpuValues
        + "\nWHERE EXISTS (SELECT 1 FROM node_jobs j WHERE j.cluster = @cluster AND j.job_id = @job AND j.start_ms = @start AND j.node = @node AND j.revision = @revision)\n"
        + GpuOnConflict;

    private (string Name, object Value)[] GpuParameters(string node, NodeJobRecord job, long startMs, NodeJobGpu gpu) =>
    [
        ("cluster", _cluster), ("job", job.JobId), ("start", startMs), ("node", node), ("uuid", gpu.Uuid), ("index", (long)gpu.Index),
        ("held", gpu.Held ? 1L : 0L), ("allocated", gpu.AllocatedSeconds), ("busy", gpu.BusySeconds), ("energy", gpu.EnergyJoules),
        ("tensor", gpu.TensorActiveSeconds), ("sm", gpu.SmActiveSeconds), ("memory_peak", gpu.MemoryPeakBytes), ("xids", gpu.XidErrors),
        ("ecc", gpu.EccErrors), ("unobserved", gpu.UnobservedSeconds), ("memory_total", Db(gpu.MemoryTotalBytes)), ("utilization_peak", Db(gpu.UtilizationPeak)),
        ("last_xid", gpu.LastXid is { } lastXid ? lastXid : DBNull.Value),
    ];

    private static DbBatchCommand Add(DbBatch batch, string sql, (string Name, object Value)[] parameters)
    {
        var command = batch.CreateBatchCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            // Typed, so Npgsql does not work out each boxed value's type again (125,000 statements a cycle at 10,000 agents).
            command.Parameters.Add(value switch
            {
                long number => new NpgsqlParameter<long>(name, number),
                double number => new NpgsqlParameter<double>(name, number),
                string text => new NpgsqlParameter<string>(name, text),
                _ => new NpgsqlParameter(name, value),
            });
        }

        batch.BatchCommands.Add(command);
        return command;
    }

    private int UpsertJob(DbTransaction transaction, string target, string node, NodeJobRecord job, bool reset)
    {
        var startMs = job.Start.ToUnixTimeMilliseconds();
        // Only an ended record can finalize; a running one is just upserted.
        var finalized = job.End is null ? null : Scalar(
            transaction,
            "SELECT finalized FROM node_jobs WHERE cluster = @cluster AND job_id = @job AND start_ms = @start AND node = @node",
            ("cluster", _cluster), ("job", job.JobId), ("start", startMs), ("node", node)) as string;

        var (jobSql, jobParameters) = JobUpsert(target, node, job, reset);
        var changed = Execute(transaction, jobSql, jobParameters);
        if (changed == 0)
        {
            return 0; // An older or equal revision: already stored.
        }

        foreach (var gpu in job.Gpus)
        {
            Execute(transaction, GpuUpsertSql, GpuParameters(node, job, startMs, gpu));
        }

        if (job.End is { } ended && finalized != "ended")
        {
            RollUp(transaction, node, job, startMs, ended, "ended");
        }

        return 1;
    }

    /// <summary>
    /// On PostgreSQL, replicas may store two nodes of one job at once (two shards, or a finalization beside a poll):
    /// each transaction takes its jobs' advisory locks first, all at once and in one order, so finalizing counts a job
    /// once and two transactions never deadlock. SQLite has one writer.
    /// </summary>
    private void LockJobs(DbTransaction transaction, IEnumerable<string> jobIds)
    {
        var ids = jobIds.Distinct().Order(StringComparer.Ordinal).ToArray();
        if (IsPostgres && ids.Length > 0)
        {
            Execute(transaction, LockJobsSql, ("cluster", _cluster), ("jobs", ids));
        }
    }

    /// <summary>
    /// Finalizes a node's record as <paramref name="how"/> ("ended" or "incomplete"): what it has not yet added to the
    /// rollups goes to the day of <paramref name="at"/>, under its account, user and partition, in the caller's
    /// transaction. The job counts once, with the first of its nodes' records to finalize.
    /// </summary>
    private void RollUp(DbTransaction transaction, string node, NodeJobRecord job, long startMs, DateTimeOffset at, string how)
    {
        var key = new (string, object)[] { ("cluster", _cluster), ("job", job.JobId), ("start", startMs), ("node", node) };
        double allocated = 0, busy = 0, energy = 0, cpu = 0;
        var wasFinalized = false;
        using (var read = Command(
            "SELECT rolled_allocated_seconds, rolled_busy_seconds, rolled_energy_joules, rolled_cpu_seconds, finalized FROM node_jobs WHERE cluster = @cluster AND job_id = @job AND start_ms = @start AND node = @node",
            key))
        {
            read.Transaction = transaction;
            using var reader = read.ExecuteReader();
            if (reader.Read())
            {
                (allocated, busy, energy, cpu, wasFinalized) = (reader.GetDouble(0), reader.GetDouble(1), reader.GetDouble(2), reader.GetDouble(3), !reader.IsDBNull(4));
            }
        }

        // On the primary key (cluster, job_id, start_ms, ...): an earlier version of this query went through the end
        // index, scanned every ended record, and storing a million jobs slowed down with each one.
        var counted = wasFinalized || Convert.ToInt64(Scalar(
            transaction,
            "SELECT COUNT(*) FROM node_jobs WHERE cluster = @cluster AND job_id = @job AND node <> @node AND finalized IS NOT NULL AND start_ms > @start - 86400000 AND start_ms < @start + 86400000",
            key), CultureInfo.InvariantCulture) > 0;
        var (totalAllocated, totalBusy, totalEnergy, totalCpu) = (job.Gpus.Sum(g => g.AllocatedSeconds), job.Gpus.Sum(g => g.BusySeconds), job.Gpus.Sum(g => g.EnergyJoules), job.CpuSeconds ?? 0);
        Execute(
            transaction,
            """
            INSERT INTO daily_usage (cluster, day, account, "user", partition, gpu_allocated_seconds, gpu_busy_seconds, gpu_energy_joules, cpu_seconds, jobs)
            VALUES (@cluster, @day, @account, @user, @partition, @allocated, @busy, @energy, @cpu, @jobs)
            ON CONFLICT (cluster, day, account, "user", partition) DO UPDATE SET
                gpu_allocated_seconds = daily_usage.gpu_allocated_seconds + excluded.gpu_allocated_seconds,
                gpu_busy_seconds = daily_usage.gpu_busy_seconds + excluded.gpu_busy_seconds,
                gpu_energy_joules = daily_usage.gpu_energy_joules + excluded.gpu_energy_joules,
                cpu_seconds = daily_usage.cpu_seconds + excluded.cpu_seconds,
                jobs = daily_usage.jobs + excluded.jobs
            """,
            ("cluster", _cluster), ("day", Day(at)), ("account", job.Account ?? job.Namespace ?? ""),
            ("user", job.User ?? job.Uid ?? ""), ("partition", job.Partition ?? ""), ("allocated", totalAllocated - allocated),
            ("busy", totalBusy - busy), ("energy", totalEnergy - energy), ("cpu", totalCpu - cpu), ("jobs", counted ? 0L : 1L));
        Execute(
            transaction,
            """
            UPDATE node_jobs SET finalized = @how, rolled_allocated_seconds = @allocated, rolled_busy_seconds = @busy,
                rolled_energy_joules = @energy, rolled_cpu_seconds = @cpu
            WHERE cluster = @cluster AND job_id = @job AND start_ms = @start AND node = @node
            """,
            [.. key, ("how", how), ("allocated", totalAllocated), ("busy", totalBusy), ("energy", totalEnergy), ("cpu", totalCpu)]);
    }

    /// <summary>
    /// Usage from <paramref name="from"/> to <paramref name="to"/> (days, <paramref name="to"/> excluded) grouped by
    /// <paramref name="by"/>: <c>account</c>, <c>user</c>, <c>partition</c> or <c>day</c>, with each group's cost
    /// when <paramref name="rates"/> are given, of <paramref name="accounts"/> only when given. Reads the daily rollups
    /// only, so a year costs what a day does times 365.
    /// </summary>
    public IReadOnlyList<UsageRow> Usage(string by, DateOnly from, DateOnly to, CostRates? rates = null, IReadOnlySet<string>? accounts = null)
    {
        var only = accounts?.Order(StringComparer.Ordinal).Select((a, i) => ($"a{i}", (object)a)).ToArray();
        var filter = only is null ? string.Empty : only.Length == 0 ? " AND 1 = 0" : $" AND account IN ({string.Join(", ", only.Select(a => "@" + a.Item1))})";
        var column = by switch
        {
            "account" => "account",
            "user" => "\"user\"",
            "partition" => "partition",
            "day" => "day",
            _ => throw new ArgumentException($"usage is grouped by account, user, partition or day, not '{by}'", nameof(by)),
        };
        lock (_gate)
        {
            return Run(() =>
            {
                // By partition too: rates are per partition.
                using var command = Command(
                    $"""
                    SELECT {column}, partition, SUM(gpu_allocated_seconds), SUM(gpu_busy_seconds), SUM(gpu_energy_joules), SUM(cpu_seconds), CAST(SUM(jobs) AS BIGINT)
                    FROM daily_usage WHERE cluster = @cluster AND day >= @from AND day < @to{filter} GROUP BY {column}, partition ORDER BY {column}, partition
                    """,
                    [("cluster", _cluster), ("from", from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), ("to", to.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), .. only ?? []]);
                using var reader = command.ExecuteReader();
                var rows = new List<UsageRow>();
                while (reader.Read())
                {
                    var part = new UsageRow(reader.GetString(0), reader.GetDouble(2), reader.GetDouble(3), reader.GetDouble(4), reader.GetDouble(5), reader.GetInt64(6));
                    var cost = rates?.Cost(reader.GetString(1), part);
                    if (rows.Count > 0 && rows[^1].Key == part.Key)
                    {
                        var last = rows[^1];
                        rows[^1] = new UsageRow(
                            last.Key, last.GpuAllocatedSeconds + part.GpuAllocatedSeconds, last.GpuBusySeconds + part.GpuBusySeconds,
                            last.GpuEnergyJoules + part.GpuEnergyJoules, last.CpuSeconds + part.CpuSeconds, last.Jobs + part.Jobs, last.Cost + cost);
                    }
                    else
                    {
                        rows.Add(part with { Cost = cost });
                    }
                }

                return rows;
            });
        }
    }

    /// <summary>
    /// Slurm jobs whose every node's record ended after <paramref name="since"/> (none running, none incomplete) and
    /// whose AdminComment is not written yet, with the attempts so far; at most <paramref name="limit"/>.
    /// </summary>
    public IReadOnlyList<(string JobId, long Attempts)> JobsAwaitingComment(DateTimeOffset since, int limit)
    {
        lock (_gate)
        {
            return Run(() =>
            {
                using var command = Command(
                    """
                    SELECT j.job_id, COALESCE(MAX(c.attempts), 0)
                    FROM node_jobs j LEFT JOIN job_comments c ON c.cluster = j.cluster AND c.job_id = j.job_id
                    WHERE j.cluster = @cluster AND j.end_ms >= @since AND j.scheduler = 'slurm' AND j.finalized = 'ended'
                      AND (c.status IS NULL OR c.status = 'retry')
                      AND NOT EXISTS (SELECT 1 FROM node_jobs o WHERE o.cluster = j.cluster AND o.job_id = j.job_id AND (o.finalized IS NULL OR o.finalized <> 'ended'))
                    GROUP BY j.job_id ORDER BY j.job_id LIMIT @limit
                    """,
                    ("cluster", _cluster), ("since", since.ToUnixTimeMilliseconds()), ("limit", (long)limit));
                using var reader = command.ExecuteReader();
                var jobs = new List<(string, long)>();
                while (reader.Read())
                {
                    jobs.Add((reader.GetString(0), reader.GetInt64(1)));
                }

                return jobs;
            });
        }
    }

    /// <summary>Records the outcome of writing job <paramref name="jobId"/>'s AdminComment ("written", "gone", "failed", or "retry").</summary>
    public void MarkCommented(string jobId, string status, DateTimeOffset now)
    {
        lock (_gate)
        {
            Run(() => Execute(
                null,
                """
                INSERT INTO job_comments (cluster, job_id, status, attempts, updated_ms) VALUES (@cluster, @job, @status, 1, @now)
                ON CONFLICT (cluster, job_id) DO UPDATE SET status = excluded.status, attempts = job_comments.attempts + 1, updated_ms = excluded.updated_ms
                """,
                ("cluster", _cluster), ("job", jobId), ("status", status), ("now", now.ToUnixTimeMilliseconds())));
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
            return Run(() =>
            {
                using var command = Command(
                    "SELECT DISTINCT COALESCE(account, namespace, ''), COALESCE(\"user\", uid, '') FROM node_jobs WHERE cluster = @cluster AND finalized IS NULL",
                    ("cluster", _cluster));
                using var reader = command.ExecuteReader();
                var pairs = new List<(string, string)>();
                while (reader.Read())
                {
                    pairs.Add((reader.GetString(0), reader.GetString(1)));
                }

                return pairs;
            });
        }
    }

    /// <summary>All-time totals per account and user, from the rollups (for the aggregator's own counters).</summary>
    public IReadOnlyList<(string Account, string User, UsageRow Totals)> TotalsByAccountAndUser()
    {
        lock (_gate)
        {
            return Run(() =>
            {
                using var command = Command(
                    """
                    SELECT account, "user", SUM(gpu_allocated_seconds), SUM(gpu_busy_seconds), SUM(gpu_energy_joules), SUM(cpu_seconds), CAST(SUM(jobs) AS BIGINT)
                    FROM daily_usage WHERE cluster = @cluster GROUP BY account, "user" ORDER BY account, "user"
                    """,
                    ("cluster", _cluster));
                using var reader = command.ExecuteReader();
                var rows = new List<(string, string, UsageRow)>();
                while (reader.Read())
                {
                    rows.Add((reader.GetString(0), reader.GetString(1), new UsageRow(string.Empty, reader.GetDouble(2), reader.GetDouble(3), reader.GetDouble(4), reader.GetDouble(5), reader.GetInt64(6))));
                }

                return rows;
            });
        }
    }

    /// <summary>Runs <paramref name="work"/> on an open connection; one that failed is dropped and opened again next time.</summary>
    private T Run<T>(Func<T> work)
    {
        _connection ??= _connect();
        try
        {
            return work();
        }
        catch (DbException) when (_connection.State != ConnectionState.Open || IsPostgres)
        {
            // PostgreSQL restarted or the network dropped: the next call starts from a fresh connection.
            Close();
            throw;
        }
    }

    private void Run(Action work) => Run(() =>
    {
        work();
        return 0;
    });

    private void Migrate()
    {
        Execute(null, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)");
        if (IsPostgres)
        {
            Execute(null, "SELECT pg_advisory_lock(@key)", ("key", MigrationLockKey));
        }

        try
        {
            SchemaVersion = Convert.ToInt32(Scalar(null, "SELECT COALESCE(MAX(version), 0) FROM schema_version"), CultureInfo.InvariantCulture);
            if (SchemaVersion > Migrations.Length)
            {
                throw new InvalidOperationException($"the store's schema is version {SchemaVersion}, newer than this monitor-aggregator knows ({Migrations.Length}); upgrade it, or use another store");
            }

            for (var version = SchemaVersion; version < Migrations.Length; version++)
            {
                using var transaction = _connection!.BeginTransaction();
                Execute(transaction, Migrations[version]);
                Execute(transaction, "INSERT INTO schema_version (version) VALUES (@version)", ("version", (long)version + 1));
                transaction.Commit();
                SchemaVersion = version + 1;
            }
        }
        finally
        {
            if (IsPostgres)
            {
                Execute(null, "SELECT pg_advisory_unlock(@key)", ("key", MigrationLockKey));
            }
        }
    }

    private int Execute(DbTransaction? transaction, string sql, params (string Name, object Value)[] parameters) =>
        Prepared(transaction, sql, parameters).ExecuteNonQuery();

    private object? Scalar(DbTransaction? transaction, string sql, params (string Name, object Value)[] parameters) =>
        Prepared(transaction, sql, parameters).ExecuteScalar();

    /// <summary>
    /// The connection's command for <paramref name="sql"/>, made once and kept, with <paramref name="parameters"/>
    /// bound: the statements of a poll run thousands of times, and parsing each once per connection instead of once
    /// per call is most of the store's speed. Not for readers (they are disposed by their caller).
    /// </summary>
    private DbCommand Prepared(DbTransaction? transaction, string sql, (string Name, object Value)[] parameters)
    {
        if (!_prepared.TryGetValue(sql, out var command))
        {
            command = Command(sql, parameters);
            _prepared[sql] = command;
        }
        else
        {
            // A statement's parameters come in the same order each time: set them by position (a lookup by name
            // compares the name with every parameter before it), by name only if the order ever differs.
            var stored = command.Parameters;
            for (var i = 0; i < parameters.Length; i++)
            {
                var (name, value) = parameters[i];
                var parameter = i < stored.Count && string.Equals(stored[i].ParameterName, name, StringComparison.Ordinal) ? stored[i] : stored[name];
                parameter.Value = value;
            }
        }

        command.Transaction = transaction;
        return command;
    }

    private DbCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = _connection!.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private static string Day(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static object Db(string? value) => (object?)value ?? DBNull.Value;

    private static object Db(double? value) => value is { } number ? number : DBNull.Value;

    private static string? Text(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
