using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Jobs.Ledger;

/// <summary>What the ledger can and cannot do with its directory.</summary>
internal enum LedgerMode
{
    /// <summary>Checkpoints to disk.</summary>
    Durable,

    /// <summary>No usable directory: accounting goes on in memory and is lost on restart (logged, counted).</summary>
    Memory,
}

/// <summary>
/// The durable job ledger of this node (<c>--collector.jobs.state-path</c>): every job it has seen, running or ended
/// within <c>--collector.jobs.retention</c>, with its counters and a revision that only grows, across restarts too.
/// </summary>
/// <remarks>
/// <para>Two kinds of file (<see cref="LedgerFormat"/>):</para>
/// <list type="bullet">
/// <item><c>checkpoint.a</c> and <c>checkpoint.b</c>: the running jobs (and ended ones not yet in the log), written
/// in turn at every refresh and at shutdown, each by write, fsync and rename. The newest valid one is loaded, so a
/// torn or corrupt one leaves the previous good one.</item>
/// <item><c>ended.log</c>: each ended job's final record, appended once (fsync), compacted when retention has
/// dropped most of it. A torn tail is cut off at load.</item>
/// </list>
/// <para>A revision is visible in the feed only once it is on disk (<see cref="DurableRevision"/>): a crash can
/// never reuse a revision a reader has seen. Every method runs under the <see cref="JobStore"/>'s lock.</para>
/// </remarks>
#pragma warning disable CA1001 // The scratch MemoryStream holds no unmanaged resource; it is kept to write without allocating.
internal sealed partial class JobLedger
#pragma warning restore CA1001
{
    private const string EndedLog = "ended.log";
    private static readonly string[] Slots = ["checkpoint.a", "checkpoint.b"];

    private readonly string? _directory;
    private readonly ILogger _logger;
    private readonly List<TrackedJob> _ended = [];
    private readonly List<TrackedJob> _unlogged = [];
    private readonly List<TrackedJob> _toWrite = [];
    private readonly MemoryStream _scratch = new(64 * 1024);
    private readonly Dictionary<string, bool> _reported = new(StringComparer.Ordinal);
    private long _sequence;
    private int _slot;
    private int _logRecords;
    private bool _logNeedsRewrite;

    /// <summary>Opens the ledger in <paramref name="directory"/> (null: memory only, as asked).</summary>
    public JobLedger(string? directory, ILogger logger)
    {
        _directory = directory;
        _logger = logger;
        Mode = directory is null ? LedgerMode.Memory : LedgerMode.Durable;
        Id = Guid.NewGuid();
    }

    /// <summary>Whether checkpoints go to disk.</summary>
    public LedgerMode Mode { get; private set; }

    /// <summary>Why the ledger runs in memory, when it does because of a problem.</summary>
    public string? Problem { get; private set; }

    /// <summary>The ledger's identity, kept across restarts: a cursor from another ledger restarts the feed.</summary>
    public Guid Id { get; private set; }

    /// <summary>The highest revision given out.</summary>
    public long Revision { get; private set; }

    /// <summary>The highest revision on disk (in memory mode, the highest given out).</summary>
    public long DurableRevision { get; private set; }

    /// <summary>The highest revision among records retention has dropped: a cursor below it may have missed some.</summary>
    public long PrunedThrough { get; private set; }

    /// <summary>When the last checkpoint that loaded was written (null for a new ledger).</summary>
    public DateTimeOffset? LoadedCheckpointTime { get; private set; }

    /// <summary>Ended jobs within retention, oldest revision first.</summary>
    public IReadOnlyList<TrackedJob> Ended => _ended;

    /// <summary>Errors by kind, for <c>monitor_jobs_ledger_errors_total{kind}</c>.</summary>
    public Dictionary<string, long> Errors { get; } = new(StringComparer.Ordinal)
    {
        ["corrupt"] = 0, ["write"] = 0, ["newer_version"] = 0, ["unusable_path"] = 0,
    };

    /// <summary>Seconds the last checkpoint took (serialize, write, fsync, rename).</summary>
    public double LastCheckpointSeconds { get; private set; }

    /// <summary>Bytes the last checkpoint wrote.</summary>
    public long LastCheckpointBytes { get; private set; }

    /// <summary>For tests: called before each file operation with its name ("write", "fsync", "rename", "append").</summary>
    internal Action<string>? FaultInjection { get; set; }

    /// <summary>
    /// Probes <paramref name="directory"/>: creates it and writes, fsyncs and removes a file. Returns null when it is
    /// usable, else why not.
    /// </summary>
    public static string? Probe(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Join(directory, $".probe.{Environment.ProcessId}");
            using (var stream = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.WriteByte(0);
                stream.Flush(flushToDisk: true);
            }

            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Loads the ledger: the running jobs of the newest valid checkpoint and the ended jobs of the log. Returns the
    /// running jobs (their <see cref="TrackedJob.Restored"/> set). A problem never throws: it is logged, counted, and
    /// the ledger goes on (in memory if it cannot write).
    /// </summary>
    public List<TrackedJob> Load()
    {
        var running = new List<TrackedJob>();
        if (_directory is null)
        {
            return running;
        }

        if (Probe(_directory) is { } problem)
        {
            GoToMemory("unusable_path", $"cannot write {_directory}: {problem}");
            return running;
        }

        CheckpointFile? newest = null;
        for (var s = 0; s < Slots.Length; s++)
        {
            if (ReadCheckpoint(Path.Join(_directory, Slots[s])) is { } checkpoint && (newest is null || checkpoint.Sequence > newest.Sequence))
            {
                newest = checkpoint;
                _slot = 1 - s;
            }

            if (Mode == LedgerMode.Memory)
            {
                return [];
            }
        }

        var byRevision = new Dictionary<long, TrackedJob>();
        foreach (var job in ReadLog(Path.Join(_directory, EndedLog)))
        {
            byRevision[job.Revision] = job;
        }

        if (Mode == LedgerMode.Memory)
        {
            return [];
        }

        if (newest is not null)
        {
            Id = newest.Id;
            _sequence = newest.Sequence;
            Revision = newest.Revision;
            PrunedThrough = newest.PrunedThrough;
            LoadedCheckpointTime = newest.WrittenAt;
            foreach (var job in newest.Jobs)
            {
                if (job.End is not null)
                {
                    // Ended but not yet in the log when the checkpoint was written.
                    if (byRevision.TryAdd(job.Revision, job))
                    {
                        _unlogged.Add(job);
                    }
                }
                else
                {
                    running.Add(job);
                }
            }
        }

        // A job that ended (in the log) after the checkpoint that still has it running: the log's record is newer.
        var endedKeys = byRevision.Values.Select(Key).ToHashSet(StringComparer.Ordinal);
        running.RemoveAll(job => endedKeys.Contains(Key(job)));
        foreach (var job in running)
        {
            job.Restored = true;
            foreach (var usage in job.Gpus.Values)
            {
                usage.Resumed = true;
            }
        }

        _ended.AddRange(byRevision.Values.Where(j => j.Revision > PrunedThrough || PrunedThrough == 0).OrderBy(j => j.Revision));
        foreach (var job in running.Concat(_ended))
        {
            job.Publish();
        }

        Revision = Math.Max(Revision, _ended.Count > 0 ? _ended[^1].Revision : 0);
        DurableRevision = Revision;
        return running;
    }

    /// <summary>Gives <paramref name="job"/> the next revision (it changed).</summary>
    public void Stamp(TrackedJob job)
    {
        job.Revision = ++Revision;
        job.Dirty = false;
        if (Mode == LedgerMode.Memory)
        {
            DurableRevision = Revision;
        }
    }

    /// <summary>Records an ended job: the next revision, the ended list, and the log at the next <see cref="Checkpoint"/>.</summary>
    public void Close(TrackedJob job)
    {
        Stamp(job);
        _ended.Add(job);
        _unlogged.Add(job);
    }

    /// <summary>
    /// Drops ended jobs whose end is older than <paramref name="before"/>, and, when <paramref name="acknowledged"/>
    /// is set, those a reader acknowledged (revision at or below it).
    /// </summary>
    public void Prune(DateTimeOffset before, long? acknowledged)
    {
        var dropped = 0;
        for (var i = _ended.Count - 1; i >= 0; i--)
        {
            var job = _ended[i];
            if (job.End < before || (acknowledged is { } ack && job.Revision <= ack && job.Revision <= DurableRevision))
            {
                PrunedThrough = Math.Max(PrunedThrough, job.Revision);
                _ended.RemoveAt(i);
                _unlogged.Remove(job);
                dropped++;
            }
        }

        if (dropped > 0 && _logRecords > (2 * _ended.Count) + 64)
        {
            _logNeedsRewrite = true;
        }
    }

    /// <summary>
    /// Writes the ended jobs not yet logged, then a checkpoint of <paramref name="running"/> (with the revision
    /// counter). On success every revision given out is durable. A failure is logged once until it clears and
    /// counted; the previous checkpoint stays, and the next refresh tries again.
    /// </summary>
    public void Checkpoint(IEnumerable<TrackedJob> running, DateTimeOffset now)
    {
        if (Mode == LedgerMode.Memory || _directory is null)
        {
            DurableRevision = Revision;
            return;
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        long written = 0;
        try
        {
            var buffer = _scratch;
            written += _logNeedsRewrite ? RewriteLog(buffer) : AppendLog(buffer);
            written += WriteCheckpoint(buffer, running, now);
            DurableRevision = Revision;
            Recovered("write");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Errors["write"]++;
            ReportOnce("write", $"cannot write the job ledger in {_directory}: {e.Message}; accounting goes on in memory and the next refresh tries again");
        }

        LastCheckpointSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        LastCheckpointBytes = written;
    }

    /// <summary>The opaque feed cursor for <paramref name="revision"/>: the ledger's id and the revision.</summary>
    public string Cursor(long revision) => $"{Id:N}-{revision.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Parses a cursor. Returns the revision it stands for, or null when it belongs to another ledger (wiped, or
    /// memory only across a restart) and the reader must start over; false when it is not a cursor at all.
    /// </summary>
    public bool TryParseCursor(string text, out long? revision)
    {
        revision = null;
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash != 32 || !Guid.TryParseExact(text.AsSpan(0, 32), "N", out var id)
            || !long.TryParse(text.AsSpan(33), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        revision = id == Id ? value : null;
        return true;
    }

    private static string Key(TrackedJob job) => $"{job.Identity.JobId}\n{job.Start.ToUnixTimeMilliseconds()}";

    private bool Corrupt(string path, string why)
    {
        Errors["corrupt"]++;
        LogCorrupt(_logger, path, why);
        return false;
    }

    private void GoToMemory(string? kind, string why)
    {
        if (kind is not null)
        {
            Errors[kind]++;
        }

        Mode = LedgerMode.Memory;
        Problem = why;
        LogMemoryOnly(_logger, why);
    }

    private void ReportOnce(string kind, string message)
    {
        if (_reported.TryAdd(kind, true))
        {
            LogWriteFailed(_logger, message);
        }
    }

    private void Recovered(string kind)
    {
        if (_reported.Remove(kind))
        {
            LogWriteRecovered(_logger, _directory!);
        }
    }

    [LoggerMessage(EventId = EventIds.LedgerCorrupt, EventName = "job_ledger_corrupt", Level = LogLevel.Error, Message = "Job ledger file {Path} is unreadable ({Why}); it is skipped, the other checkpoint (if any) is used")]
    private static partial void LogCorrupt(ILogger logger, string path, string why);

    [LoggerMessage(EventId = EventIds.LedgerMemoryOnly, EventName = "job_ledger_memory_only", Level = LogLevel.Error, Message = "Job ledger: {Why}. Per-job accounting is kept in memory only and starts over if the agent restarts")]
    private static partial void LogMemoryOnly(ILogger logger, string why);

    [LoggerMessage(EventId = EventIds.LedgerWriteFailed, EventName = "job_ledger_write_failed", Level = LogLevel.Error, Message = "{Message}")]
    private static partial void LogWriteFailed(ILogger logger, string message);

    [LoggerMessage(EventId = EventIds.LedgerWriteRecovered, EventName = "job_ledger_write_recovered", Level = LogLevel.Information, Message = "Job ledger in {Directory} is written again")]
    private static partial void LogWriteRecovered(ILogger logger, string directory);

    private sealed record CheckpointFile(Guid Id, long Sequence, long Revision, long PrunedThrough, DateTimeOffset WrittenAt, List<TrackedJob> Jobs);
}
