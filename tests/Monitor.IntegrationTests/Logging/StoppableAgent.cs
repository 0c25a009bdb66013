using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Logging;

/// <summary>
/// The real agent, like <see cref="AgentProcess"/>, but stopped the way systemd stops it: SIGTERM, then its exit
/// code. Wrapped in <c>timeout</c> (which forwards SIGTERM to the agent and exits with its status) so it stops itself
/// even if the test run dies.
/// </summary>
internal sealed partial class StoppableAgent : IAsyncDisposable
{
    private const int SigTerm = 15;
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private StoppableAgent(Process process) => _process = process;

    /// <summary>The agent's base address.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Everything the agent wrote to stdout and stderr so far.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>True while the process runs.</summary>
    public bool Running => !_process.HasExited;

    public static async Task<StoppableAgent> StartAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("timeout") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        foreach (var arg in (string[])["300", AgentProcess.ExecutablePath, "--web.listen-address=127.0.0.1:0", "--collector.jobs.state-path=-", .. args])
        {
            info.ArgumentList.Add(arg);
        }

        var agent = new StoppableAgent(new Process { StartInfo = info, EnableRaisingEvents = true });
        agent._process.OutputDataReceived += (_, e) => agent.OnLine(e.Data);
        agent._process.ErrorDataReceived += (_, e) => agent.OnLine(e.Data);
        agent._process.Exited += (_, _) => agent._listening.TrySetException(new InvalidOperationException($"monitor-agent exited:\n{agent.Log}"));
        agent._process.Start();
        agent._process.BeginOutputReadLine();
        agent._process.BeginErrorReadLine();
        agent.BaseAddress = await agent._listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return agent;
    }

    /// <summary>The samples of one scrape of /metrics.</summary>
    public async Task<Dictionary<string, double>> ScrapeAsync(HttpClient client) =>
        PromSamples.Parse(await client.GetStringAsync(new Uri(BaseAddress, "metrics")));

    /// <summary>Sends SIGTERM and waits for the exit code; fails when the agent is still running after <paramref name="timeout"/>.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        Assert.Equal(0, Kill(_process.Id, SigTerm));
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Lines of the log that contain <paramref name="text"/>.</summary>
    public int CountLines(string text) => Log.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }

        var match = ListeningLine().Match(line);
        if (match.Success)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value + "/"));
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [GeneratedRegex(@"Listening on (https?://[0-9.:\[\]]+)")]
    private static partial Regex ListeningLine();
}
