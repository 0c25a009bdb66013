using System.Diagnostics;
using Monitor.Aggregator.Storage;
using Prometheus;

namespace Monitor.Aggregator.Slurm;

/// <summary>
/// <c>--slurm.admin-comment</c>: writes each finished Slurm job's <see cref="JobstatsSummary"/> into its AdminComment
/// in Slurm's accounting database, as jobstats does: <c>sacctmgr -i update job where jobid=… set AdminComment=…</c>
/// (needs slurmdbd and a Slurm operator's rights), where users and support already look (<c>sacct -o AdminComment</c>,
/// jobstats). slurmctld itself refuses the update once a job has finished (<c>scontrol update</c>: "Job has already
/// finished", found with the real Slurm), so the accounting record is the one place for it. A job qualifies once every
/// node's record has ended (not an incomplete one) and no more than a day ago, so turning the option on does not
/// rewrite history. Each job is written once: the outcome is stored. A failure (or "Nothing modified": slurmdbd does
/// not have the job yet) is tried again at the next cycles, <see cref="Attempts"/> times in all.
/// <para>
/// sacctmgr before Slurm 23.02 lowercases the value (SchedMD bug 14338; found with Debian 12's slurmdbd 22.05), which
/// ruins the base64 of a <c>JS1:</c> summary. So the first comments written are read back with <c>sacct -j … -X -n -P
/// -o AdminComment</c> until one reads back exactly as written: from then on the sacctmgr is trusted. One read back
/// lowercased is the job's failure, logged with the comment meant, and no more comments are written by this process:
/// each would be ruined the same way.
/// </para>
/// </summary>
internal sealed partial class AdminComments(JobStore store, string sacctmgr, string sacct, ILogger<AdminComments> logger)
{
    /// <summary>Tries per job, one per cycle.</summary>
    public const int Attempts = 5;

    /// <summary>Jobs written per cycle at most.</summary>
    public const int PerCycle = 200;

    private static readonly Counter Written = Metrics.CreateCounter("monitor_aggregator_admin_comments_total", "Slurm AdminComments written, by outcome (written, or failed after every attempt).", "outcome");

    private bool _verified;
    private bool _stopped;

    /// <summary>Writes the comments of the jobs that finished since the last cycle.</summary>
    public void WriteDue(DateTimeOffset now)
    {
        if (_stopped)
        {
            return;
        }

        foreach (var (jobId, attempts) in store.JobsAwaitingComment(now - TimeSpan.FromDays(1), PerCycle))
        {
            var comment = JobstatsSummary.Comment(store.Job(jobId));
            var (code, _, said) = Run(sacctmgr, "-i", "update", "job", "where", $"jobid={jobId}", "set", $"AdminComment={comment}");
            var ok = code == 0 && !said.Contains("Nothing modified", StringComparison.OrdinalIgnoreCase);
            var problem = code is { } exit ? $"exit code {exit}: {said}" : said;
            if (ok && !_verified && !Verify(jobId, comment))
            {
                store.MarkCommented(jobId, "failed", now);
                Written.WithLabels("failed").Inc();
                _stopped = true;
                return;
            }

            var outcome = ok ? "written" : attempts + 1 >= Attempts ? "failed" : null;
            store.MarkCommented(jobId, outcome ?? "retry", now);
            if (outcome is not null)
            {
                Written.WithLabels(outcome).Inc();
            }

            if (!ok)
            {
                LogFailed(logger, jobId, outcome ?? "retried next cycle", problem);
            }
        }
    }

    /// <summary>
    /// Reads the job's AdminComment back: false when it is <paramref name="comment"/> lowercased (logged). Read back as
    /// written, the sacctmgr is trusted from then on; not readable or something else, the next comment is read back too.
    /// </summary>
    private bool Verify(string jobId, string comment)
    {
        var (code, output, said) = Run(sacct, "-j", jobId, "-X", "-n", "-P", "-o", "AdminComment");
        var ok = code == 0;
        var stored = output.Trim();
        if (ok && string.Equals(stored, comment, StringComparison.Ordinal))
        {
            _verified = true;
            return true;
        }

        if (ok && !string.Equals(comment, comment.ToLowerInvariant(), StringComparison.Ordinal) && string.Equals(stored, comment.ToLowerInvariant(), StringComparison.Ordinal))
        {
            LogLowercased(logger, jobId, stored, comment);
            return false;
        }

        LogUnverified(logger, jobId, ok ? $"sacct answered '{stored}'" : code is { } exit ? $"sacct exit code {exit}: {said}" : said);
        return true;
    }

    /// <summary>
    /// Runs <paramref name="program"/> for at most 10 s: its exit code (null when it did not start or answer), its stdout,
    /// and its stderr and stdout together (or why it did not run).
    /// </summary>
    private static (int? ExitCode, string Output, string Said) Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(info) ?? throw new InvalidOperationException("did not start");
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
                return (null, "", $"{program}: no answer within 10 s");
            }

            return (process.ExitCode, output.Result, (error.Result + output.Result).Trim());
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return (null, "", $"{program}: {e.Message}");
        }
    }

    [LoggerMessage(EventId = 5300, EventName = "admin_comment_failed", Level = LogLevel.Warning, Message = "Slurm job {JobId}: the AdminComment was not written ({Outcome}): {Problem}")]
    private static partial void LogFailed(ILogger logger, string jobId, string outcome, string problem);

    [LoggerMessage(EventId = 5301, EventName = "admin_comment_lowercased", Level = LogLevel.Error, Message = "Slurm job {JobId}: sacctmgr stored the AdminComment lowercased, {Stored}, not {Comment}: sacctmgr before Slurm 23.02 lowercases it (SchedMD bug 14338), which ruins jobstats' base64. No more AdminComments are written until the aggregator runs with a sacctmgr that keeps the case")]
    private static partial void LogLowercased(ILogger logger, string jobId, string stored, string comment);

    [LoggerMessage(EventId = 5302, EventName = "admin_comment_unverified", Level = LogLevel.Warning, Message = "Slurm job {JobId}: the AdminComment written could not be read back to check it ({Problem}); the next one is checked")]
    private static partial void LogUnverified(ILogger logger, string jobId, string problem);
}
