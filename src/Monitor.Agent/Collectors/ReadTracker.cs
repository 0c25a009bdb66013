namespace Monitor.Agent.Collectors;

/// <summary>
/// Which file a collector update is reading right now, so that the runner can name the file when an update outlives
/// its deadline. The updating thread installs a tracker (<see cref="Current"/>); <see cref="TextFileReader"/> notes every
/// path before it opens it. Noting is one reference write: no allocation, no lock.
/// </summary>
internal sealed class ReadTracker
{
    [ThreadStatic]
    private static ReadTracker? t_current;

    private volatile string? _path;

    /// <summary>The tracker of the calling thread's update, if any.</summary>
    public static ReadTracker? Current
    {
        get => t_current;
        set => t_current = value;
    }

    /// <summary>The last path noted: the file being read if the update is stuck.</summary>
    public string? Path => _path;

    /// <summary>Notes that the calling thread is about to read <paramref name="path"/>.</summary>
    public static void Note(string path)
    {
        if (t_current is { } tracker)
        {
            tracker._path = path;
        }
    }

    /// <summary>Forgets the last path (a new update starts).</summary>
    public void Reset() => _path = null;
}
