using System.Globalization;

namespace Monitor.Agent.Jobs.Slurm;

/// <summary>
/// dcgm-exporter's <c>--hpc-job-mapping-dir</c> format, written by the prolog/epilog in packaging/slurm: one file per
/// GPU named by its index (<c>0</c>, <c>1</c>, …) or <c>&lt;index&gt;.&lt;gpu instance&gt;</c> for MIG, each line one job id.
/// Other file names are ignored, as dcgm-exporter does. A missing directory means no GPU job ran yet: healthy, empty.
/// </summary>
internal sealed class SlurmMappingDirectorySource(string directory) : IJobSource
{
    private const int MaxFileBytes = 64 * 1024;

    public string Name => "slurm_mapping";

    public ValueTask<JobSourceResult> RefreshAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory))
        {
            return ValueTask.FromResult(new JobSourceResult([], null));
        }

        var jobs = new Dictionary<string, List<GpuRef>>(StringComparer.Ordinal);
        try
        {
            foreach (var path in Directory.EnumerateFiles(directory))
            {
                if (!TryParseName(Path.GetFileName(path), out var index, out var instance))
                {
                    continue;
                }

                AddJobs(MappingFiles.ReadLines(path, MaxFileBytes), new GpuRef(null, index, instance), jobs);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ValueTask.FromResult(JobSourceResult.Failed($"cannot read {directory}: {e.Message}"));
        }

        return ValueTask.FromResult(new JobSourceResult([.. jobs.Select(j => new JobAssignment(new JobIdentity { JobId = j.Key }, j.Value))], null));
    }

    /// <summary>Adds <paramref name="gpu"/> to the job each line of a mapping file names; other lines are skipped.</summary>
    internal static void AddJobs(IEnumerable<string> lines, GpuRef gpu, Dictionary<string, List<GpuRef>> jobs)
    {
        foreach (var line in lines)
        {
            var id = line.Trim();
            if (id.Length == 0 || !MappingFiles.IsJobId(id))
            {
                continue;
            }

            if (!jobs.TryGetValue(id, out var gpus))
            {
                gpus = [];
                jobs[id] = gpus;
            }

            gpus.Add(gpu);
        }
    }

    /// <summary>"3" → GPU 3; "3.1" → GPU 3, MIG GPU instance 1; anything else is not a mapping file.</summary>
    internal static bool TryParseName(string name, out int index, out uint? instance)
    {
        instance = null;
        index = 0;
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        var head = dot < 0 ? name : name[..dot];
        if (!MappingFiles.IsDigits(head) || !int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out index))
        {
            return false;
        }

        if (dot < 0)
        {
            return true;
        }

        if (!MappingFiles.IsDigits(name.AsSpan(dot + 1)) || !uint.TryParse(name.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var gi))
        {
            return false;
        }

        instance = gi;
        return true;
    }
}

/// <summary>
/// Princeton jobstats' <c>/run/gpustat</c> format: a file per GPU named by its index or UUID (GPU-… or MIG-…),
/// holding "&lt;jobid&gt; &lt;uid&gt;". A missing directory is healthy and empty.
/// </summary>
internal sealed class GpustatDirectorySource(string directory) : IJobSource
{
    public string Name => "gpustat";

    public ValueTask<JobSourceResult> RefreshAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory))
        {
            return ValueTask.FromResult(new JobSourceResult([], null));
        }

        var jobs = new Dictionary<string, (string? Uid, List<GpuRef> Gpus)>(StringComparer.Ordinal);
        try
        {
            foreach (var path in Directory.EnumerateFiles(directory))
            {
                if (!TryParseName(Path.GetFileName(path), out var gpu))
                {
                    continue;
                }

                AddJobs(MappingFiles.ReadLines(path, 64 * 1024), gpu, jobs);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ValueTask.FromResult(JobSourceResult.Failed($"cannot read {directory}: {e.Message}"));
        }

        return ValueTask.FromResult(new JobSourceResult(
            [.. jobs.Select(j => new JobAssignment(new JobIdentity { JobId = j.Key, Uid = j.Value.Uid }, j.Value.Gpus))], null));
    }

    /// <summary>A GPU index ("3") or UUID ("GPU-…", "MIG-…") file name; anything else is not a gpustat file.</summary>
    internal static bool TryParseName(string name, out GpuRef gpu)
    {
        if (MappingFiles.IsDigits(name) && int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            gpu = new GpuRef(null, index);
            return true;
        }

        gpu = name.StartsWith("GPU-", StringComparison.Ordinal) || name.StartsWith("MIG-", StringComparison.Ordinal) ? new GpuRef(name, null) : default;
        return gpu.Uuid is not null;
    }

    /// <summary>Adds <paramref name="gpu"/> to the job each "&lt;jobid&gt; [&lt;uid&gt;]" line names; a job keeps the uid it was first seen with.</summary>
    internal static void AddJobs(IEnumerable<string> lines, GpuRef gpu, Dictionary<string, (string? Uid, List<GpuRef> Gpus)> jobs)
    {
        // jobstats writes one line; packaging/slurm's prolog writes one line per job sharing the GPU.
        foreach (var line in lines)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == 0 || !MappingFiles.IsJobId(parts[0]))
            {
                continue;
            }

            var uid = parts.Length > 1 && MappingFiles.IsUid(parts[1]) ? parts[1] : null;
            if (!jobs.TryGetValue(parts[0], out var entry))
            {
                entry = (uid, []);
                jobs[parts[0]] = entry;
            }

            if (!entry.Gpus.Contains(gpu))
            {
                entry.Gpus.Add(gpu);
            }
        }
    }
}

/// <summary>
/// The job identity files packaging/slurm's prolog writes for every job: <c>&lt;dir&gt;/&lt;jobid&gt;</c> with
/// <c>key=value</c> lines (user, uid, account, partition, array_job_id, array_task_id, sluid), the job's GPUs
/// (<c>gpus=</c>, host indices or UUIDs) and the scheduler's times (<c>start=</c> from the prolog, <c>end=</c> from the
/// epilog, epoch seconds), which win over the agent's own observation. Unknown keys and values that are too long,
/// malformed or hold control characters are ignored. A missing directory is healthy and empty.
/// </summary>
internal sealed class SlurmJobInfoSource(string directory) : IJobSource
{
    // The epilog leaves each ended job's file for a day, so a busy node holds a thousand. The prolog and epilog only
    // ever rename files in or delete them, which changes the directory's modification time: while it stays the same,
    // the last result stands. When it changes, each file is parsed again only if its own time or size changed.
    private readonly Dictionary<string, (DateTime Modified, long Length, JobAssignment Job)> _parsed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private DateTime _directoryModified;
    private JobSourceResult? _last;

    public string Name => "slurm_jobinfo";

    public ValueTask<JobSourceResult> RefreshAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory))
        {
            _parsed.Clear();
            _last = null;
            return ValueTask.FromResult(new JobSourceResult([], null));
        }

        var directoryModified = Directory.GetLastWriteTimeUtc(directory);
        if (_last is not null && directoryModified == _directoryModified)
        {
            return ValueTask.FromResult(_last);
        }

        var jobs = new List<JobAssignment>();
        _seen.Clear();
        try
        {
            foreach (var file in new DirectoryInfo(directory).EnumerateFiles())
            {
                var id = file.Name;
                if (id.StartsWith('.') || !MappingFiles.IsJobId(id))
                {
                    continue;
                }

                try
                {
                    var (modified, length) = (file.LastWriteTimeUtc, file.Length);
                    if (!_parsed.TryGetValue(id, out var cached) || cached.Modified != modified || cached.Length != length)
                    {
                        var lines = MappingFiles.ReadLines(file.FullName, 4096).ToList();
                        cached = (modified, length, new JobAssignment(ParseIdentity(id, lines), ParseGpus(lines)));
                        _parsed[id] = cached;
                    }

                    _seen.Add(id);
                    jobs.Add(cached.Job);
                }
                catch (FileNotFoundException)
                {
                    // Pruned by an epilog between the listing and the read: gone, not a failure.
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ValueTask.FromResult(JobSourceResult.Failed($"cannot read {directory}: {e.Message}"));
        }

        foreach (var id in _parsed.Keys.Where(id => !_seen.Contains(id)).ToList())
        {
            _parsed.Remove(id);
        }

        (_directoryModified, _last) = (directoryModified, new JobSourceResult(jobs, null));
        return ValueTask.FromResult(_last);
    }

    /// <summary>The identity of job <paramref name="id"/> from its file's key=value lines.</summary>
    internal static JobIdentity ParseIdentity(string id, IEnumerable<string> lines)
    {
        var identity = new JobIdentity { JobId = id };
        foreach (var line in lines)
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var value = equals > 0 ? line[(equals + 1)..].Trim() : string.Empty;
            if (value.Length is 0 or > 253 || value.Any(char.IsControl))
            {
                continue;
            }

            identity = line[..equals] switch
            {
                "user" => identity with { User = value },
                "uid" when MappingFiles.IsUid(value) => identity with { Uid = value },
                "account" => identity with { Account = value },
                "partition" => identity with { Partition = value },
                "array_job_id" => identity with { ArrayJobId = value },
                "array_task_id" => identity with { ArrayTaskId = value },
                "sluid" => identity with { Sluid = value },
                "start" when EpochSeconds(value) is { } start => identity with { ScheduledStart = start },
                "end" when EpochSeconds(value) is { } end => identity with { ScheduledEnd = end },
                _ => identity,
            };
        }

        return identity;
    }

    /// <summary>The GPUs of a <c>gpus=</c> line: host indices, or GPU-/MIG- UUIDs; anything else is ignored.</summary>
    internal static List<GpuRef> ParseGpus(IEnumerable<string> lines)
    {
        var gpus = new List<GpuRef>();
        foreach (var line in lines)
        {
            if (!line.StartsWith("gpus=", StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var entry in line[5..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(64))
            {
                if (entry.Length <= 4 && int.TryParse(entry, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    gpus.Add(new GpuRef(null, index));
                }
                else if (entry.Length <= 64 && (entry.StartsWith("GPU-", StringComparison.Ordinal) || entry.StartsWith("MIG-", StringComparison.Ordinal))
                    && entry.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                {
                    gpus.Add(new GpuRef(entry, null));
                }
            }
        }

        return gpus;
    }

    /// <summary>9999-12-31T23:59:59Z, the last second <see cref="DateTimeOffset.FromUnixTimeSeconds"/> accepts.</summary>
    private const long MaxEpochSeconds = 253_402_300_799;

    /// <summary>
    /// Whole epoch seconds (at most 12 digits), or null. Beyond the year 9999 (<see cref="MaxEpochSeconds"/>) is null
    /// too: <see cref="DateTimeOffset.FromUnixTimeSeconds"/> would throw, and end the refresh or the GPU tick.
    /// </summary>
    private static DateTimeOffset? EpochSeconds(string value) =>
        value.Length <= 12 && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds <= MaxEpochSeconds
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}

/// <summary>Shared pieces of the file formats.</summary>
internal static class MappingFiles
{
    /// <summary>
    /// A uid: ASCII digits only, within <see cref="uint"/>. (<c>uint.TryParse</c> alone also accepts trailing NUL
    /// characters, which then reached the uid label and the passwd lookup: found by the fuzz tests.)
    /// </summary>
    public static bool IsUid(string text) => IsDigits(text) && uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _);

    /// <summary>One or more ASCII digits and nothing else (the number parsers also take trailing NULs).</summary>
    public static bool IsDigits(ReadOnlySpan<char> text) => !text.IsEmpty && text.IndexOfAnyExceptInRange('0', '9') < 0;

    /// <summary>The lines of a small file; a file longer than <paramref name="maxBytes"/> is read up to that size.</summary>
    public static IEnumerable<string> ReadLines(string path, int maxBytes)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // The epilog removed it between the directory listing and now: that GPU's job has ended, not the source.
            return [];
        }

        using (stream)
        {
            // Regular files written by the prolog: their length is real (unlike procfs), so read exactly that much.
            var buffer = new byte[(int)Math.Min(stream.Length, maxBytes)];
            var read = 0;
            while (read < buffer.Length && stream.Read(buffer, read, buffer.Length - read) is var n and > 0)
            {
                read += n;
            }

            return Lines(buffer.AsSpan(0, read));
        }
    }

    /// <summary>The lines of a file's bytes, decoded as UTF-8 (invalid sequences become U+FFFD).</summary>
    internal static string[] Lines(ReadOnlySpan<byte> bytes) => System.Text.Encoding.UTF8.GetString(bytes).Split('\n');

    /// <summary>
    /// A plausible job id: Slurm's numeric id, an array task "1234_7", a SLUID, or a Kubernetes namespace/pod — at
    /// most 253 characters of letters, digits and <c>_-./:</c>, so a corrupt file cannot inject label garbage.
    /// </summary>
    public static bool IsJobId(ReadOnlySpan<char> id)
    {
        if (id.Length is 0 or > 253)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-' or '.' or '/' or ':'))
            {
                return false;
            }
        }

        return true;
    }
}
