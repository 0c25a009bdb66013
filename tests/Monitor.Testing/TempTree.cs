namespace Monitor.Testing;

/// <summary>
/// A throw-away directory tree for tests that need a broken or partial fixture (a truncated /proc file, a missing
/// directory). Deleted on dispose.
/// </summary>
public sealed class TempTree : IDisposable
{
    /// <summary>Creates an empty tree under the system temp folder.</summary>
    public TempTree()
    {
        Root = System.IO.Path.Join(System.IO.Path.GetTempPath(), "monitor-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    /// <summary>The tree's root folder.</summary>
    public string Root { get; }

    /// <summary>Writes <paramref name="content"/> to <paramref name="relative"/> (e.g. <c>proc/stat</c>), creating folders.</summary>
    public TempTree Write(string relative, string content)
    {
        var path = Path(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return this;
    }

    /// <summary>Copies a file from the shared fixture tree <c>tests/fixtures/host</c> to the same place in this tree.</summary>
    public TempTree CopyFromHostFixture(string relative) => Write(relative, File.ReadAllText(Fixtures.Path("host", relative)));

    /// <summary>Deletes <paramref name="relative"/>.</summary>
    public TempTree Delete(string relative)
    {
        File.Delete(Path(relative));
        return this;
    }

    /// <summary>An absolute path inside the tree.</summary>
    public string Path(string relative) => System.IO.Path.Join(Root, relative);

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail a test.
        }
    }
}
