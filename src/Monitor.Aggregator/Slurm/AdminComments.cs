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
/// </summary>
internal sealed partial class AdminComments(JobStore store, string sacctmgr, ILogger<AdminComments> logger)
{
    /// <summary>Tries per job, one per cycle.</summary>
    public const int Attempts = 5;

    /// <summary>Jobs written per cycle at most.</summary>
    public const int PerCycle = 200;

    private static readonly Counter Written = Metrics.CreateCounter("monitor_aggregator_admin_comments_total", "Slurm AdminComments written, by outcome (written, or failed after every attempt).", "outcome");

    /// <summary>Writes the comments of the jobs that finished since the last cycle.</summary>
    public void WriteDue(DateTimeOffset now)
    {
        foreach (var (jobId, attempts) in store.JobsAwaitingComment(now - TimeSpan.FromDays(1), PerCycle))
        {
            var comment = JobstatsSummary.Comment(store.Job(jobId));
            var (ok, problem) = Update(jobId, comment);
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

    private (bool Ok, string Problem) Update(string jobId, string comment)
    {
        var info = new ProcessStartInfo(sacctmgr) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-i", "update", "job", "where", $"jobid={jobId}", "set", $"AdminComment={comment}" })
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
                return (false, "no answer within 10 s");
            }

            var said = (error.Result + output.Result).Trim();
            return process.ExitCode == 0 && !said.Contains("Nothing modified", StringComparison.OrdinalIgnoreCase)
                ? (true, string.Empty)
                : (false, $"exit code {process.ExitCode}: {said}");
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return (false, e.Message);
        }
    }

    [LoggerMessage(EventId = 5300, EventName = "admin_comment_failed", Level = LogLevel.Warning, Message = "Slurm job {JobId}: the AdminComment was not written ({Outcome}): {Problem}")]
    private static partial void LogFailed(ILogger logger, string jobId, string outcome, string problem);
}
