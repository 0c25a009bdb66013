using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Monitor.Testing;

/// <summary>
/// The real <c>monitor-agent</c> executable (copied next to the test assembly by the project reference, or another
/// build such as the shipped single file), started on 127.0.0.1 with a port the agent picks and reports in its log.
/// Wrapped in <c>timeout 1800</c> so it stops itself even if the test run dies (30 min: a class fixture's agent lives as
/// long as its class, which on a loaded 2-core machine has outlasted 10 min).
/// </summary>
public sealed partial class AgentProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private string? _ledger;

    private AgentProcess(Process process) => _process = process;

    /// <summary>The agent's base address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Everything the agent logged so far.</summary>
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

    /// <summary>
    /// Waits until the log holds <paramref name="text"/>, for at most <paramref name="timeout"/>. A metric can be seen
    /// before the log line that goes with it: the line travels through the agent's stderr and this process's reader.
    /// </summary>
    public async Task WaitForLogAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Log.Contains(text, StringComparison.Ordinal))
        {
            Xunit.Assert.True(DateTime.UtcNow < deadline, $"the agent did not log '{text}' within {timeout}:\n{Log}");
            if (_process.HasExited)
            {
                Xunit.Assert.Fail($"the agent exited ({_process.ExitCode}) before logging '{text}':\n{Log}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// The path of the agent executable: <c>MONITOR_AGENT_EXECUTABLE</c> when it is set (the Native AOT publish, as
    /// tests/aot-integration.sh runs the tests marked <c>[Trait("Category", "AgentProcess")]</c>), otherwise the build
    /// copied next to the test assembly.
    /// </summary>
    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable(ExecutableVariable) is { Length: > 0 } path
            ? Path.GetFullPath(path)
            : Path.Join(AppContext.BaseDirectory, "monitor-agent");

    /// <summary>The environment variable that points the tests at another agent binary.</summary>
    public const string ExecutableVariable = "MONITOR_AGENT_EXECUTABLE";

    /// <summary>True when <see cref="ExecutableVariable"/> names the binary under test.</summary>
    public static bool ExecutableOverridden => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(ExecutableVariable));

    /// <summary>The path of the aggregator executable (copied next to the test assembly where a test project references it).</summary>
    public static string AggregatorPath => Path.Join(AppContext.BaseDirectory, "monitor-aggregator");

    /// <summary>True once the process (its <c>timeout</c> wrapper, which exits with it) has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code (the agent's: <c>timeout</c> passes it on).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts the agent with <paramref name="args"/> plus a loopback listen address, and waits until it serves.</summary>
    public static Task<AgentProcess> StartAsync(params string[] args) => StartAsync(new Dictionary<string, string>(), args);

    /// <summary>Starts the agent with extra environment variables (e.g. to script the fake NVML library).</summary>
    public static Task<AgentProcess> StartAsync(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartAsync(ExecutablePath, null, environment, TimeSpan.FromSeconds(60), args);

    /// <summary>
    /// Starts <paramref name="executable"/> (the shipped single-file build, say) with <paramref name="args"/>, after
    /// <paramref name="shellSetup"/> (e.g. <c>ulimit -n 256</c>) in its shell, and waits until it serves.
    /// </summary>
    public static Task<AgentProcess> StartExecutableAsync(string executable, string? shellSetup, params string[] args) =>
        StartAsync(executable, shellSetup, new Dictionary<string, string>(), TimeSpan.FromSeconds(90), args);

    /// <summary>
    /// <see cref="StartExecutableAsync(string, string?, string[])"/> with extra environment variables (e.g. <c>SLURM_CONF</c>
    /// for the Slurm commands the aggregator runs).
    /// </summary>
    public static Task<AgentProcess> StartExecutableAsync(string executable, string? shellSetup, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartAsync(executable, shellSetup, environment, TimeSpan.FromSeconds(90), args);

    /// <summary>Runs <paramref name="executable"/> until it exits by itself (a bad start-up) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Log)> RunExecutableToExitAsync(string executable, string? shellSetup, params string[] args)
    {
        await using var agent = Launch(executable, shellSetup, new Dictionary<string, string>(), args);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await agent._process.WaitForExitAsync(timeout.Token);
        await Task.Delay(100, CancellationToken.None); // Let the asynchronous output readers drain.
        return (agent._process.ExitCode, agent.Log);
    }

    /// <summary>The agent's own pid: the child of the <c>timeout</c> wrapper.</summary>
    public int AgentPid()
    {
        var children = File.ReadAllText($"/proc/{_process.Id}/task/{_process.Id}/children").Trim();
        return int.Parse(children.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Sends <paramref name="signal"/> (e.g. HUP) to the agent.</summary>
    public async Task SignalAsync(string signal)
    {
        var (code, _, stderr) = await ExternalTool.RunAsync("kill", [$"-{signal}", AgentPid().ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Xunit.Assert.True(code == 0, stderr);
    }

    private static async Task<AgentProcess> StartAsync(string executable, string? shellSetup, IReadOnlyDictionary<string, string> environment, TimeSpan startTimeout, string[] args)
    {
        var agent = Launch(executable, shellSetup, environment, args);
        agent.BaseAddress = await agent._listening.Task.WaitAsync(startTimeout);
        return agent;
    }

    private static AgentProcess Launch(string executable, string? shellSetup, IReadOnlyDictionary<string, string> environment, string[] args)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        // exec keeps one process chain: timeout, then the agent as its only child.
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add((shellSetup is null ? string.Empty : shellSetup + " && ") + "exec timeout 1800 \"$@\"");
        info.ArgumentList.Add("agent");
        info.ArgumentList.Add(executable);
        info.ArgumentList.Add("--web.listen-address=127.0.0.1:0");

        // Each agent gets its own job ledger unless the test names one: never the host's /var/lib/monitor-agent.
        string? ledger = null;
        if (Path.GetFileName(executable) == "monitor-agent" && !args.Any(a => a.StartsWith("--collector.jobs.state-path", StringComparison.Ordinal)))
        {
            ledger = Path.Join(Path.GetTempPath(), $"monitor-ledger-{Guid.NewGuid():N}");
            info.ArgumentList.Add($"--collector.jobs.state-path={ledger}");
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var agent = new AgentProcess(new Process { StartInfo = info, EnableRaisingEvents = true }) { _ledger = ledger };
        agent._process.OutputDataReceived += (_, e) => agent.OnLine(e.Data);
        agent._process.ErrorDataReceived += (_, e) => agent.OnLine(e.Data);
        agent._process.Exited += (_, _) => agent._listening.TrySetException(new InvalidOperationException($"monitor-agent exited with {agent._process.ExitCode}:\n{agent.Log}"));
        agent._process.Start();
        agent._process.BeginOutputReadLine();
        agent._process.BeginErrorReadLine();
        return agent;
    }

    /// <summary>Runs the agent to completion (for <c>--help</c>, <c>--version</c> and bad flags).</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunToExitAsync(params string[] args) =>
        ExternalTool.RunAsync(ExecutablePath, args, timeout: TimeSpan.FromSeconds(30));

    /// <summary>The metrics URL.</summary>
    public Uri MetricsUri => new(BaseAddress, "metrics");

    /// <summary>Fetches /metrics as text with an optional Accept header.</summary>
    public async Task<string> ScrapeAsync(HttpClient client, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, MetricsUri);
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>
    /// Sends SIGTERM (through <c>timeout</c>, which passes it on to the agent) and waits up to
    /// <paramref name="limit"/> for the exit; returns the exit code and how long the agent took.
    /// </summary>
    public async Task<(int ExitCode, TimeSpan Took)> TerminateAsync(TimeSpan limit)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (code, stdout, stderr) = await ExternalTool.RunAsync("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], timeout: TimeSpan.FromSeconds(10));
        if (code != 0)
        {
            throw new InvalidOperationException($"kill -TERM failed: {stdout}{stderr}");
        }

        using var wait = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"monitor-agent did not exit within {limit.TotalSeconds} s of SIGTERM; log:\n{Log}");
        }

        return (_process.ExitCode, started.Elapsed);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        if (_ledger is not null && Directory.Exists(_ledger))
        {
            Directory.Delete(_ledger, recursive: true);
        }
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
