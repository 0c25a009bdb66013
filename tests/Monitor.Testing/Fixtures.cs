namespace Monitor.Testing;

/// <summary>Locates files under the repository's <c>tests/fixtures</c> folder.</summary>
public static class Fixtures
{
    /// <summary>The repository root (the folder holding <c>Monitor.sln</c>).</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>A path under <c>tests/fixtures</c>.</summary>
    public static string Path(params string[] parts) =>
        System.IO.Path.Join([RepositoryRoot, "tests", "fixtures", .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Join(dir.FullName, "Monitor.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Monitor.sln above {AppContext.BaseDirectory}");
    }
}
