using System.Globalization;
using System.Text.RegularExpressions;
using Monitor.Agent.Kernel;

namespace Monitor.Agent.Jobs.Slurm;

/// <summary>
/// One job's cgroup: CPU seconds, current and peak memory (bytes), the number of CPUs in its effective cpuset and its
/// memory limit (bytes). Each is NaN when its file is missing or malformed; <see cref="MemoryLimitBytes"/> is +∞ when
/// the cgroup has no limit.
/// </summary>
internal readonly record struct CgroupUsage(double CpuSeconds, double MemoryBytes, double MemoryPeakBytes, double CpusAllocated, double MemoryLimitBytes);

/// <summary>
/// Slurm jobs from their cgroups (reference job-accounting.md §3), with each job's CPU time, current and peak memory,
/// the CPUs of its cpuset and its memory limit. Both layouts and their variants:
/// <list type="bullet">
/// <item>cgroup v2: <c>system.slice/slurmstepd.scope/job_&lt;id&gt;</c>, or <c>&lt;node&gt;_slurmstepd.scope</c> with
/// multiple slurmd; Slurm 26.05 names job directories by SLUID (<c>s5K1KKYAYG5D00</c>) unless
/// <c>CgroupJobIdPaths=yes</c>; files <c>cpu.stat</c> (usage_usec), <c>memory.current</c>, <c>memory.peak</c>,
/// <c>cpuset.cpus.effective</c>, <c>memory.max</c>;</item>
/// <item>cgroup v1: <c>cpuacct/slurm/uid_&lt;uid&gt;/job_&lt;id&gt;</c> (or <c>cpu,cpuacct</c>, or <c>slurm_&lt;node&gt;</c>
/// with multiple slurmd) and the same under <c>memory/</c> and <c>cpuset/</c>; files <c>cpuacct.usage</c> (ns),
/// <c>memory.usage_in_bytes</c>, <c>memory.max_usage_in_bytes</c>, <c>memory.limit_in_bytes</c>,
/// <c>cpuset.effective_cpus</c> (or <c>cpuset.cpus</c> on kernels without it).</item>
/// </list>
/// A SLUID-named job's numeric id is read from a task's environment (SLURM_JOB_ID) where that is readable;
/// otherwise the SLUID is the job id.
/// </summary>
internal sealed partial class SlurmCgroupSource(string cgroupRoot, string procfs) : IJobSource
{
    private readonly Dictionary<string, (Microsoft.Win32.SafeHandles.SafeFileHandle Handle, int Round)> _handles = new(StringComparer.Ordinal);
    private readonly char[] _chars = new char[4096];
    private readonly byte[] _bytes = new byte[4096];
    private readonly List<int> _cpus = [];
    private int _round;
    private Dictionary<string, CgroupUsage> _usage = new(StringComparer.Ordinal);
    private Dictionary<string, string> _sluids = new(StringComparer.Ordinal);

    public string Name => "slurm_cgroup";

    /// <summary>Usage per job id, as of the last refresh.</summary>
    public IReadOnlyDictionary<string, CgroupUsage> Usage => Volatile.Read(ref _usage);

    /// <summary>SLUID → job id, for processes whose cgroup path names the SLUID.</summary>
    public IReadOnlyDictionary<string, string> Sluids => Volatile.Read(ref _sluids);

    public ValueTask<JobSourceResult> RefreshAsync(CancellationToken cancellationToken)
    {
        var jobs = new Dictionary<string, JobIdentity>(StringComparer.Ordinal);
        var usage = new Dictionary<string, CgroupUsage>(StringComparer.Ordinal);
        var sluids = new Dictionary<string, string>(StringComparer.Ordinal);
        _round++;
        try
        {
            ReadV2(jobs, usage, sluids);
            ReadV1(jobs, usage);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ValueTask.FromResult(JobSourceResult.Failed($"cannot read Slurm cgroups under {cgroupRoot}: {e.Message}"));
        }

        // Handles of jobs that ended (their cgroup is gone) are closed.
        foreach (var stale in _handles.Where(h => h.Value.Round != _round).Select(h => h.Key).ToList())
        {
            _handles[stale].Handle.Dispose();
            _handles.Remove(stale);
        }

        Volatile.Write(ref _usage, usage);
        Volatile.Write(ref _sluids, sluids);
        return ValueTask.FromResult(new JobSourceResult([.. jobs.Values.Select(j => new JobAssignment(j, []))], null));
    }

    private void ReadV2(Dictionary<string, JobIdentity> jobs, Dictionary<string, CgroupUsage> usage, Dictionary<string, string> sluids)
    {
        var slice = Path.Join(cgroupRoot, "system.slice");
        if (!Directory.Exists(slice))
        {
            return;
        }

        foreach (var scope in Directory.EnumerateDirectories(slice, "*slurmstepd.scope"))
        {
            foreach (var directory in Directory.EnumerateDirectories(scope))
            {
                var name = Path.GetFileName(directory);
                string id;
                string? sluid = null;
                if (JobDirectory().Match(name) is { Success: true } match)
                {
                    id = match.Groups[1].Value;
                }
                else if (SluidDirectory().IsMatch(name))
                {
                    sluid = name;
                    id = JobIdFromTasks(directory) ?? name;
                    sluids[name] = id;
                }
                else
                {
                    continue;
                }

                jobs[id] = new JobIdentity { JobId = id, Sluid = sluid };
                usage[id] = new CgroupUsage(
                    ReadKey(Path.Join(directory, "cpu.stat"), "usage_usec") / 1e6,
                    ReadNumber(Path.Join(directory, "memory.current")),
                    ReadNumber(Path.Join(directory, "memory.peak")),
                    ReadCpus(Path.Join(directory, "cpuset.cpus.effective")),
                    ReadLimit(Path.Join(directory, "memory.max")));
            }
        }
    }

    private void ReadV1(Dictionary<string, JobIdentity> jobs, Dictionary<string, CgroupUsage> usage)
    {
        foreach (var controller in (string[])["cpuacct", "cpu,cpuacct"])
        {
            var root = Path.Join(cgroupRoot, controller);
            if (!Directory.Exists(root))
            {
                continue;
            }

            foreach (var slurm in Directory.EnumerateDirectories(root, "slurm*"))
            {
                var name = Path.GetFileName(slurm);
                if (name != "slurm" && !name.StartsWith("slurm_", StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (var user in Directory.EnumerateDirectories(slurm, "uid_*"))
                {
                    var uid = Path.GetFileName(user)[4..];
                    foreach (var job in Directory.EnumerateDirectories(user, "job_*"))
                    {
                        if (JobDirectory().Match(Path.GetFileName(job)) is not { Success: true } match || jobs.ContainsKey(match.Groups[1].Value))
                        {
                            continue;
                        }

                        var id = match.Groups[1].Value;
                        jobs[id] = new JobIdentity { JobId = id, Uid = uid };
                        var memory = Path.Join(cgroupRoot, "memory", name, Path.GetFileName(user), Path.GetFileName(job));
                        var cpuset = Path.Join(cgroupRoot, "cpuset", name, Path.GetFileName(user), Path.GetFileName(job));
                        var cpus = ReadCpus(Path.Join(cpuset, "cpuset.effective_cpus"));
                        usage[id] = new CgroupUsage(
                            ReadNumber(Path.Join(job, "cpuacct.usage")) / 1e9,
                            ReadNumber(Path.Join(memory, "memory.usage_in_bytes")),
                            ReadNumber(Path.Join(memory, "memory.max_usage_in_bytes")),
                            double.IsNaN(cpus) ? ReadCpus(Path.Join(cpuset, "cpuset.cpus")) : cpus,
                            ReadLimit(Path.Join(memory, "memory.limit_in_bytes")));
                    }
                }
            }
        }
    }

    /// <summary>SLURM_JOB_ID from the environment of a task in the job's cgroup (readable by root or the job's owner).</summary>
    private string? JobIdFromTasks(string jobDirectory)
    {
        foreach (var procs in Directory.EnumerateFiles(jobDirectory, "cgroup.procs", SearchOption.AllDirectories).Take(8))
        {
            foreach (var line in SafeLines(procs))
            {
                if (uint.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) &&
                    ProcessJobResolver.EnvironmentJobId(procfs, pid) is { } id)
                {
                    return id;
                }
            }
        }

        return null;
    }

    private static string[] SafeLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>A file holding one number; NaN when missing or malformed, infinite or negative (never throws). Read into a reused buffer.</summary>
    internal double ReadNumber(string path) => TryRead(path, out var text) ? ParseNumber(text) : double.NaN;

    /// <summary>The value of <paramref name="key"/> in a "key value" file such as cpu.stat; NaN when absent.</summary>
    internal double ReadKey(string path, string key) => TryRead(path, out var text) ? ParseKey(text, key) : double.NaN;

    /// <summary>
    /// The number of CPUs in a cpuset file (<see cref="ParseCpus"/>); NaN when missing, malformed, empty, or so long
    /// that it fills the read buffer (its end may be cut off, and a cut list would count wrong).
    /// </summary>
    internal double ReadCpus(string path) =>
        TryRead(path, out var text) && text.Length < _bytes.Length ? ParseCpus(text, _cpus) : double.NaN;

    /// <summary>A memory limit file (<see cref="ParseLimit"/>): bytes, +∞ for no limit, NaN when missing or malformed.</summary>
    internal double ReadLimit(string path) => TryRead(path, out var text) ? ParseLimit(text) : double.NaN;

    /// <summary>The one number of a file's text; NaN when malformed, infinite or negative.</summary>
    internal static double ParseNumber(ReadOnlySpan<char> text) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && IsUsage(value) ? value : double.NaN;

    /// <summary>The value of the first good "<paramref name="key"/> value" line of a file's text; NaN when there is none.</summary>
    internal static double ParseKey(ReadOnlySpan<char> text, string key)
    {
        foreach (var range in text.Split('\n'))
        {
            var line = text[range];
            var space = line.IndexOf(' ');
            if (space > 0 && line[..space].SequenceEqual(key) &&
                double.TryParse(line[(space + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && IsUsage(value))
            {
                return value;
            }
        }

        return double.NaN;
    }

    /// <summary>
    /// The number of distinct CPUs of a cpuset list (<c>0-3,8</c>, <see cref="CpuList"/>); NaN when it is not
    /// a CPU list or names none (an effective cpuset is never empty: no CPU is no answer, and no denominator).
    /// <paramref name="scratch"/> is reused.
    /// </summary>
    internal static double ParseCpus(ReadOnlySpan<char> text, List<int> scratch) =>
        CpuList.Count(text, scratch) is { } count and > 0 ? count : double.NaN;

    /// <summary>
    /// A memory limit: <c>memory.max</c> (v2) holds bytes or "max" (no limit); <c>memory.limit_in_bytes</c> (v1) writes
    /// no limit as the page counter's maximum in bytes (2^63 − 4096 with 4 KiB pages, less with larger pages).
    /// Returns the bytes; +∞ for "max" or any value of 2^62 bytes (4 EiB) or more, which no machine has; NaN when
    /// malformed, infinite or negative.
    /// </summary>
    internal static double ParseLimit(ReadOnlySpan<char> text)
    {
        var trimmed = text.Trim();
        if (trimmed.SequenceEqual("max"))
        {
            return double.PositiveInfinity;
        }

        var value = ParseNumber(trimmed);
        return value >= Unlimited ? double.PositiveInfinity : value;
    }

    /// <summary>A limit this large is "no limit" (<see cref="ParseLimit"/>).</summary>
    internal const double Unlimited = 4611686018427387904.0; // 2^62

    /// <summary>
    /// Cgroup usage files hold unsigned counters. "Infinity", "NaN", "-1" or a number past double's range (which
    /// double.TryParse turns into infinity) is a malformed file, not a usage to export or add into a job's totals.
    /// </summary>
    private static bool IsUsage(double value) => double.IsFinite(value) && value >= 0;

    /// <summary>
    /// <see cref="Read"/>, false when the file is missing or unreadable. A file the kernel does not create is common
    /// (no cpuset controller in the job's cgroup, no memory.peak before Linux 5.19): it is checked for before it is
    /// opened, as an exception for each job at every refresh would cost more than the reads.
    /// </summary>
    private bool TryRead(string path, out ReadOnlySpan<char> text)
    {
        text = default;
        if (!_handles.ContainsKey(path) && !File.Exists(path))
        {
            return false;
        }

        try
        {
            text = Read(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads a small cgroup file through a handle kept open across refreshes, from offset 0 (cgroup files are kernfs
    /// seq files, which regenerate their content on a read at offset 0): one pread per file per refresh instead of
    /// open, read and close — the opens were most of a refresh's cost. A handle that fails is reopened once.
    /// </summary>
    private ReadOnlySpan<char> Read(string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (!_handles.TryGetValue(path, out var entry))
            {
                entry = (File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), _round);
            }

            try
            {
                var n = RandomAccess.Read(entry.Handle, _bytes, 0);
                _handles[path] = (entry.Handle, _round);
                var chars = System.Text.Encoding.Latin1.GetChars(_bytes.AsSpan(0, Math.Max(n, 0)), _chars);
                return _chars.AsSpan(0, chars);
            }
            catch (IOException) when (attempt == 0)
            {
                // The file was replaced or its cgroup removed and recreated: open it again.
                entry.Handle.Dispose();
                _handles.Remove(path);
            }
        }
    }

    // [0-9], not \d, which matches every Unicode digit ("job_١٢" is no Slurm job).
    [GeneratedRegex(@"^job_([0-9]+)$")]
    private static partial Regex JobDirectory();

    /// <summary>Slurm 26.05 SLUIDs: "s" and 13 base-32 characters.</summary>
    [GeneratedRegex(@"^s[0-9A-Z]{13}$")]
    internal static partial Regex SluidDirectory();
}
