using System.Diagnostics;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// The agent as published for the JIT fallback: <c>dotnet publish src/Monitor.Agent -c Release -r linux-x64
/// -p:MonitorTrim=true</c> (self-contained, trimmed, single file). The shipped Native AOT binary takes its place when
/// <c>MONITOR_AGENT_EXECUTABLE</c> names it (tests/aot-integration.sh). Published once into the test project's obj
/// folder and reused while no source file is newer, so a fresh clone's first run publishes it (about a minute here)
/// and later runs do not.
/// </summary>
internal static class ShippedAgentBuild
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static string? s_path;

    /// <summary>
    /// The published executable, publishing it first if it is missing or stale; the binary named by
    /// <c>MONITOR_AGENT_EXECUTABLE</c> instead when that is set (the Native AOT publish, tests/aot-integration.sh).
    /// </summary>
    public static async Task<string> GetAsync()
    {
        if (AgentProcess.ExecutableOverridden)
        {
            return AgentProcess.ExecutablePath;
        }

        await Gate.WaitAsync();
        try
        {
            return s_path ??= await PublishAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<string> PublishAsync()
    {
        var root = RepositoryRoot();
        var output = Path.Join(root, "tests", "Monitor.IntegrationTests", "obj", "shipped-agent");
        var executable = Path.Join(output, "monitor-agent");
        if (File.Exists(executable) && File.GetLastWriteTimeUtc(executable) > NewestSource(root))
        {
            return executable;
        }

        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = root,
        };
        foreach (var arg in new[] { "publish", "src/Monitor.Agent", "-c", "Release", "-r", "linux-x64", "-p:MonitorTrim=true", "-o", output, "-v", "q", "-nologo" })
        {
            info.ArgumentList.Add(arg);
        }

        // The test host runs under MSBuild's environment; a nested build must not inherit it.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(name);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"dotnet publish failed ({process.ExitCode}):\n{await stdout}\n{await stderr}");
        File.SetLastWriteTimeUtc(executable, DateTime.UtcNow);
        return executable;
    }

    private static DateTime NewestSource(string root)
    {
        var newest = DateTime.MinValue;
        foreach (var file in Directory.EnumerateFiles(Path.Join(root, "src"), "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Concat(Directory.EnumerateFiles(root, "Directory.*.props")))
        {
            var written = File.GetLastWriteTimeUtc(file);
            if (written > newest)
            {
                newest = written;
            }
        }

        return newest;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Join(dir.FullName, "Monitor.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Monitor.sln above {AppContext.BaseDirectory}");
    }
}
