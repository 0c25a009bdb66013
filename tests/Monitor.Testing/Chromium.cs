using System.Diagnostics;

namespace Monitor.Testing;

/// <summary>
/// Debian's <c>chromium</c>, headless, for the tests of the web pages: the DOM as the browser built it
/// (<c>--dump-dom</c>) and screenshots (<c>--screenshot</c>). Each run gets its own throw-away profile directory,
/// and runs under a deadline: a browser that hangs is killed with every process it started.
/// </summary>
public static class Chromium
{
    /// <summary>How long one run may take (a cold start on a loaded 2-core machine takes a few seconds).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Where the screenshots go: <c>artifacts/screenshots</c> at the repository root (ignored by git; CI keeps it).</summary>
    public static string ScreenshotDirectory => Path.Join(Fixtures.RepositoryRoot, "artifacts", "screenshots");

    /// <summary>The DOM of <paramref name="url"/> once the page has loaded, serialized.</summary>
    public static async Task<string> DumpDomAsync(Uri url)
    {
        var (code, stdout, stderr) = await RunAsync(["--dump-dom", url.ToString()]);
        Xunit.Assert.True(code == 0 && stdout.Length > 0, $"chromium --dump-dom {url} exited with {code}:\n{stderr}");
        return stdout;
    }

    /// <summary>Saves a <paramref name="width"/>×<paramref name="height"/> PNG of <paramref name="url"/> to <paramref name="path"/>.</summary>
    public static async Task ScreenshotAsync(Uri url, string path, int width = 1366, int height = 900)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Delete(path);
        var (code, _, stderr) = await RunAsync([$"--window-size={width},{height}", "--hide-scrollbars", $"--screenshot={path}", url.ToString()]);
        Xunit.Assert.True(code == 0 && File.Exists(path), $"chromium --screenshot {url} exited with {code} (file written: {File.Exists(path)}):\n{stderr}");
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IEnumerable<string> args)
    {
        var executable = ExternalTool.Require("chromium", "chromium");
        var profile = Directory.CreateTempSubdirectory("monitor-chromium-");
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // --no-sandbox: tests run as root in CI containers, where the sandbox cannot start. The rest keep a run
        // self-contained: no first-run work, no extensions, no network beyond the URL, no GPU.
        foreach (var arg in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--disable-default-apps", "--mute-audio", $"--user-data-dir={profile.FullName}"])
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);

            // The browser's helpers can hold the pipes a moment after it exits; the deadline covers them too.
            return (process.ExitCode, await stdout.WaitAsync(deadline.Token), await stderr.WaitAsync(deadline.Token));
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"chromium {string.Join(' ', info.ArgumentList)} did not finish within {Timeout.TotalSeconds} s; killed");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            try
            {
                profile.Delete(recursive: true);
            }
            catch (IOException)
            {
                // A helper still writing its profile: the folder is in the temp directory, and it is only a leftover.
            }
        }
    }
}
