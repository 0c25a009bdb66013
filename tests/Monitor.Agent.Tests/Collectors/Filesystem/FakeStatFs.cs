using System.Collections.Concurrent;
using Monitor.Agent.Collectors.Filesystem;

namespace Monitor.Agent.Tests.Collectors.Filesystem;

/// <summary>
/// A statfs double: answers every path with fixed usage, except paths set to fail with an errno or to block on a
/// gate until the test releases it. Counts calls per path.
/// </summary>
internal sealed class FakeStatFs : IStatFs, IDisposable
{
    public static readonly FileSystemUsage Usage = new(4096, 1000, 400, 300, 50, 20);

    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _errors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _blocking = new(StringComparer.Ordinal);

    /// <summary>Released by the test (and on dispose) so no thread stays blocked after the test.</summary>
    public ManualResetEventSlim Gate { get; } = new(false);

    public void Fail(string pathSuffix, int errno) => _errors[pathSuffix] = errno;

    public void Block(string pathSuffix) => _blocking[pathSuffix] = 0;

    public int Calls(string pathSuffix) => _calls.Where(c => c.Key.EndsWith(pathSuffix, StringComparison.Ordinal)).Sum(c => c.Value);

    public int StatFs(string path, out FileSystemUsage usage)
    {
        _calls.AddOrUpdate(path, 1, (_, n) => n + 1);
        usage = default;
        if (_blocking.Keys.Any(s => path.EndsWith(s, StringComparison.Ordinal)))
        {
            // Bounded so a broken test cannot leave a thread blocked forever.
            Gate.Wait(TimeSpan.FromSeconds(10));
        }

        foreach (var (suffix, errno) in _errors)
        {
            if (path.EndsWith(suffix, StringComparison.Ordinal))
            {
                return errno;
            }
        }

        usage = Usage;
        return 0;
    }

    /// <summary>Releases every blocked call. The gate is not disposed: a released call may still be leaving Wait.</summary>
    public void Dispose() => Gate.Set();
}
