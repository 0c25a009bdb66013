using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// A real agent process for the listener tests, started like <see cref="AgentProcess"/> (loopback, a port it picks,
/// wrapped in <c>timeout</c> so it stops itself) but with what those tests need besides: another executable (the
/// shipped single-file build), a file descriptor limit (<c>ulimit -n</c>), the agent's own pid (for SIGHUP) and its
/// exit code.
/// </summary>
internal sealed partial class AgentUnderTest : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AgentUnderTest(Process process) => _process = process;

    /// <summary>The agent's base address.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The metrics URL.</summary>
    public Uri MetricsUri => new(BaseAddress, "metrics");

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

    /// <summary>True once the process (its <c>timeout</c> wrapper, which exits with it) has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code (the agent's: <c>timeout</c> passes it on).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// Starts <paramref name="executable"/> with <paramref name="args"/>, after <paramref name="shellSetup"/> (e.g.
    /// <c>ulimit -n 256</c>, which sets the soft and the hard limit as the issue's reproduction did) in its shell.
    /// </summary>
    public static async Task<AgentUnderTest> StartAsync(string executable, string? shellSetup, params string[] args)
    {
        var agent = Launch(executable, shellSetup, args);
        agent.BaseAddress = await agent._listening.Task.WaitAsync(TimeSpan.FromSeconds(90));
        return agent;
    }

    /// <summary>Runs the agent until it exits by itself (bad start-up) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Log)> RunToExitAsync(string executable, string? shellSetup, params string[] args)
    {
        await using var agent = Launch(executable, shellSetup, args);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await agent._process.WaitForExitAsync(timeout.Token);
        await Task.Delay(100, CancellationToken.None); // Let the asynchronous output readers drain.
        return (agent._process.ExitCode, agent.Log);
    }

    /// <summary>The agent's own pid: the child of the <c>timeout</c> wrapper.</summary>
    public int AgentPid()
    {
        var children = File.ReadAllText($"/proc/{_process.Id}/task/{_process.Id}/children").Trim();
        return int.Parse(children.Split(' ')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>Sends <paramref name="signal"/> (e.g. HUP) to the agent.</summary>
    public async Task SignalAsync(string signal)
    {
        var (code, _, stderr) = await ExternalTool.RunAsync("kill", [$"-{signal}", AgentPid().ToString(CultureInfo.InvariantCulture)]);
        Assert.True(code == 0, stderr);
    }

    /// <summary>Waits until the log holds <paramref name="text"/>, for at most <paramref name="timeout"/>.</summary>
    public async Task WaitForLogAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Log.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the agent did not log '{text}' within {timeout}:\n{Log}");
            if (_process.HasExited)
            {
                Assert.Fail($"the agent exited ({_process.ExitCode}) before logging '{text}':\n{Log}");
            }

            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static AgentUnderTest Launch(string executable, string? shellSetup, string[] args)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // exec keeps one process chain: timeout, then the agent as its only child.
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add((shellSetup is null ? string.Empty : shellSetup + " && ") + "exec timeout 600 \"$@\"");
        info.ArgumentList.Add("agent");
        info.ArgumentList.Add(executable);
        info.ArgumentList.Add("--web.listen-address=127.0.0.1:0");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var agent = new AgentUnderTest(new Process { StartInfo = info, EnableRaisingEvents = true });
        agent._process.OutputDataReceived += (_, e) => agent.OnLine(e.Data);
        agent._process.ErrorDataReceived += (_, e) => agent.OnLine(e.Data);
        agent._process.Exited += (_, _) => agent._listening.TrySetException(new InvalidOperationException($"monitor-agent exited with {agent._process.ExitCode}:\n{agent.Log}"));
        agent._process.Start();
        agent._process.BeginOutputReadLine();
        agent._process.BeginErrorReadLine();
        return agent;
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

    [GeneratedRegex(@"Listening on (https?://[0-9.:\[\]]+)")]
    private static partial Regex ListeningLine();
}
