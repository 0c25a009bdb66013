namespace Monitor.Agent.Jobs;

/// <summary>User names from the host's <c>/etc/passwd</c>, looked up once per uid (the answer, even "unknown", is cached).</summary>
internal sealed class PasswdUsers(string path)
{
    private readonly Dictionary<string, string?> _names = new(StringComparer.Ordinal);

    /// <summary>The user name of <paramref name="uid"/>; null when unknown or the file cannot be read.</summary>
    public string? Name(string uid)
    {
        if (_names.TryGetValue(uid, out var name))
        {
            return name;
        }

        try
        {
            name = File.ReadLines(path).Select(l => l.Split(':')).FirstOrDefault(f => f.Length > 2 && f[2] == uid)?[0];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            name = null;
        }

        _names[uid] = name;
        return name;
    }
}
