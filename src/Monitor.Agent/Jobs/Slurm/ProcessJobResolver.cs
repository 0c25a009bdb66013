using System.Text;
using System.Text.RegularExpressions;

namespace Monitor.Agent.Jobs.Slurm;

/// <summary>
/// Names the job of a process NVML reports on a GPU: from <c>/proc/&lt;pid&gt;/cgroup</c> (a Slurm job's cgroup path
/// holds <c>job_&lt;id&gt;</c>, or its SLUID on Slurm 26.05), else from SLURM_JOB_ID in <c>/proc/&lt;pid&gt;/environ</c>
/// where that is readable. This is what attributes a shared GPU (MPS, sharding, time-slicing) per job. Answers are
/// cached per pid and forgotten when the pid is no longer on any GPU, so a reused pid is looked up again.
/// </summary>
internal sealed partial class ProcessJobResolver(string procfs, Func<IReadOnlyDictionary<string, string>> sluids)
{
    private readonly Dictionary<uint, (string? Job, int Seen)> _cache = [];
    private int _generation;

    /// <summary>Starts a round of lookups (one GPU tick); pids not asked for during the round are forgotten at the next.</summary>
    public void BeginRound()
    {
        _generation++;
        if (_cache.Count > 0)
        {
            foreach (var pid in _cache.Where(e => e.Value.Seen < _generation - 1).Select(e => e.Key).ToList())
            {
                _cache.Remove(pid);
            }
        }
    }

    /// <summary>The job of <paramref name="pid"/>, or null when it belongs to none the agent can name.</summary>
    public string? JobOf(uint pid)
    {
        if (_cache.TryGetValue(pid, out var cached))
        {
            _cache[pid] = (cached.Job, _generation);
            return cached.Job;
        }

        var job = FromCgroup(pid) ?? EnvironmentJobId(procfs, pid);
        _cache[pid] = (job, _generation);
        return job;
    }

    /// <summary>The job id in a /proc/&lt;pid&gt;/cgroup text, or null.</summary>
    internal static string? ParseCgroup(string text, IReadOnlyDictionary<string, string> sluids)
    {
        foreach (var line in text.Split('\n'))
        {
            if (JobPath().Match(line) is { Success: true } job)
            {
                return job.Groups[1].Value;
            }

            if (SluidPath().Match(line) is { Success: true } sluid)
            {
                return sluids.TryGetValue(sluid.Groups[1].Value, out var id) ? id : sluid.Groups[1].Value;
            }
        }

        return null;
    }

    /// <summary>SLURM_JOB_ID from /proc/&lt;pid&gt;/environ (readable by root or the process's owner), or null.</summary>
    internal static string? EnvironmentJobId(string procfs, uint pid)
    {
        try
        {
            using var stream = File.OpenRead(Path.Join(procfs, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "environ"));
            var buffer = new byte[64 * 1024];
            var read = 0;
            while (read < buffer.Length && stream.Read(buffer, read, buffer.Length - read) is var n and > 0)
            {
                read += n;
            }

            return ParseEnvironment(buffer.AsSpan(0, read));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone, or another user's process: not attributable this way.
        }

        return null;
    }

    /// <summary>SLURM_JOB_ID from the bytes of an environ file (NUL-separated NAME=value), if it is a plausible job id.</summary>
    internal static string? ParseEnvironment(ReadOnlySpan<byte> environ)
    {
        foreach (var variable in Encoding.UTF8.GetString(environ).Split('\0'))
        {
            if (variable.StartsWith("SLURM_JOB_ID=", StringComparison.Ordinal) && MappingFiles.IsJobId(variable.AsSpan(13)))
            {
                return variable[13..];
            }
        }

        return null;
    }

    private string? FromCgroup(uint pid)
    {
        try
        {
            return ParseCgroup(File.ReadAllText(Path.Join(procfs, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "cgroup")), sluids());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // [0-9], not \d: \d matches every Unicode digit, and a user can name a cgroup "job_١٢" in a subtree delegated to them.
    [GeneratedRegex(@"/job_([0-9]+)(/|$)")]
    private static partial Regex JobPath();

    [GeneratedRegex(@"slurmstepd\.scope/(s[0-9A-Z]{13})(/|$)")]
    private static partial Regex SluidPath();
}
