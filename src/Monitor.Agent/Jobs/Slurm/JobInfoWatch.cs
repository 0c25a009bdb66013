namespace Monitor.Agent.Jobs.Slurm;

/// <summary>
/// Notices the Slurm epilog's end records between refreshes, so a job is not credited with GPU ticks after the
/// scheduler ended it. Each GPU tick stats the job info directory once; only when it changed (a prolog or epilog
/// renamed a file into it) are the files of the running jobs read again.
/// </summary>
internal sealed class JobInfoWatch(string directory)
{
    private DateTime _lastChange = DateTime.MinValue;
    private string[] _running = [];

    /// <summary>The running jobs to watch, as of the last refresh.</summary>
    public void Watch(IEnumerable<string> jobIds) => Volatile.Write(ref _running, [.. jobIds]);

    /// <summary>The running jobs that have an end record now, if the directory changed since the last call; else null.</summary>
    public List<(string JobId, DateTimeOffset End)>? EndsIfChanged()
    {
        DateTime changed;
        try
        {
            changed = Directory.GetLastWriteTimeUtc(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        if (changed == _lastChange)
        {
            return null;
        }

        _lastChange = changed;
        var ends = new List<(string, DateTimeOffset)>();
        foreach (var id in Volatile.Read(ref _running))
        {
            if (!MappingFiles.IsJobId(id))
            {
                continue;
            }

            try
            {
                var path = Path.Join(directory, id);
                if (File.Exists(path) && SlurmJobInfoSource.ParseIdentity(id, MappingFiles.ReadLines(path, 4096)).ScheduledEnd is { } end)
                {
                    ends.Add((id, end));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Removed or unreadable between the stat and the read: the next refresh reads it.
            }
        }

        return ends;
    }
}
