using System.Diagnostics;

namespace Monitor.Aggregator.Collection;

/// <summary>
/// <c>--targets.slurm</c>: every node Slurm knows, from <c>scontrol show nodes -o</c> (one line per node), as an agent
/// at <c>http://&lt;NodeHostName&gt;:&lt;--targets.slurm-port&gt;</c>, so a cluster needs no target list at all. Asked again
/// at most once a minute; when scontrol fails or hangs (10 s), the last good list is kept and the problem reported.
/// </summary>
internal sealed class SlurmNodes(string scontrol, int port, TimeProvider time)
{
    /// <summary>How long a node list is used before scontrol is asked again.</summary>
    public static readonly TimeSpan Refresh = TimeSpan.FromMinutes(1);

    private IReadOnlyList<string> _targets = [];
    private DateTimeOffset _next = DateTimeOffset.MinValue;

    /// <summary>Why the last call of scontrol failed; null when it worked.</summary>
    public string? Problem { get; private set; }

    /// <summary>
    /// Each node's state as words (down, drained, draining, fail, failing, not_responding, maint; none when it is up
    /// and in service), by NodeName and by NodeHostName, as of the last good answer of scontrol. The job alert rules
    /// read it.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlySet<string>> States { get; private set; } = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);

    /// <summary>The nodes' agents, as base URLs.</summary>
    public IReadOnlyList<string> Current()
    {
        var now = time.GetUtcNow();
        if (now < _next)
        {
            return _targets;
        }

        _next = now + Refresh;
        try
        {
            var output = Run();
            _targets = [.. Parse(output).Select(host => $"http://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}")];
            States = ParseStates(output);
            Problem = null;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or IOException or TimeoutException)
        {
            Problem = $"{scontrol} show nodes -o: {e.Message}";
        }

        return _targets;
    }

    /// <summary>The host names in <c>scontrol show nodes -o</c> output: NodeHostName, else NodeName; each once.</summary>
    public static IReadOnlyList<string> Parse(string output)
    {
        var hosts = new List<string>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string? name = null, host = null;
            foreach (var field in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (field.StartsWith("NodeName=", StringComparison.Ordinal))
                {
                    name = field["NodeName=".Length..];
                }
                else if (field.StartsWith("NodeHostName=", StringComparison.Ordinal))
                {
                    host = field["NodeHostName=".Length..];
                }
            }

            var chosen = host is { Length: > 0 } && host != "(null)" ? host : name;
            if (chosen is { Length: > 0 and <= 253 } && chosen.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or ':') && !hosts.Contains(chosen))
            {
                hosts.Add(chosen);
            }
        }

        return hosts;
    }

    /// <summary>
    /// The state words of each node in <c>scontrol show nodes -o</c> output, by NodeName and NodeHostName. State is a
    /// base state with flags, e.g. <c>IDLE+DRAIN</c>, <c>MIXED+DRAIN</c>, <c>DOWN*</c>: a base of DOWN is "down", FAIL or
    /// FAILING flags "fail" or "failing", MAINT "maint", a <c>*</c> after the base or NOT_RESPONDING "not_responding",
    /// and DRAIN "drained" on a node without jobs (IDLE, DOWN) or "draining" on one still running some.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlySet<string>> ParseStates(string output)
    {
        var states = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string? name = null, host = null, state = null;
            foreach (var field in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (field.StartsWith("NodeName=", StringComparison.Ordinal))
                {
                    name = field["NodeName=".Length..];
                }
                else if (field.StartsWith("NodeHostName=", StringComparison.Ordinal))
                {
                    host = field["NodeHostName=".Length..];
                }
                else if (field.StartsWith("State=", StringComparison.Ordinal))
                {
                    state = field["State=".Length..];
                }
            }

            if (state is null || name is null)
            {
                continue;
            }

            var parts = state.Split('+');
            var baseState = parts[0].TrimEnd('*', '~', '#', '!', '%', '$', '@', '^', '-');
            var words = new HashSet<string>(StringComparer.Ordinal);
            if (parts[0].Contains('*', StringComparison.Ordinal))
            {
                words.Add("not_responding");
            }

            if (baseState is "DOWN")
            {
                words.Add("down");
            }

            foreach (var flag in parts.Skip(1).Select(f => f.TrimEnd('*')))
            {
                switch (flag)
                {
                    case "DRAIN":
                        words.Add(baseState is "IDLE" or "DOWN" ? "drained" : "draining");
                        break;
                    case "FAIL":
                        words.Add("fail");
                        break;
                    case "FAILING":
                        words.Add("failing");
                        break;
                    case "MAINT":
                        words.Add("maint");
                        break;
                    case "NOT_RESPONDING":
                        words.Add("not_responding");
                        break;
                }
            }

            states[name] = words;
            if (host is { Length: > 0 } && host != "(null)")
            {
                states[host] = words;
            }
        }

        return states;
    }

    private string Run()
    {
        var info = new ProcessStartInfo(scontrol) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "show", "nodes", "-o" })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("no answer within 10 s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"exit code {process.ExitCode}: {error.Result.Trim()}");
        }

        return output.Result;
    }
}
