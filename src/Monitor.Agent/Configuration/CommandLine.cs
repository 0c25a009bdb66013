using System.Text;

namespace Monitor.Agent.Configuration;

/// <summary>What the command line asks for.</summary>
internal enum CommandAction
{
    /// <summary>Run the agent.</summary>
    Run,

    /// <summary>Print <c>--help</c> and exit 0.</summary>
    Help,

    /// <summary>Print <c>--version</c> and exit 0.</summary>
    Version,
}

/// <summary>The parsed command line: the action, the settings the flags set, and the config file if one was named.</summary>
/// <param name="Action">What to do.</param>
/// <param name="Settings">Configuration key → value for every flag given.</param>
/// <param name="ConfigFile">The <c>--config.file</c> value, if given.</param>
internal sealed record CommandLine(CommandAction Action, IReadOnlyDictionary<string, string> Settings, string? ConfigFile)
{
    /// <summary>
    /// Parses node_exporter-style flags: <c>--name=value</c>, <c>--name value</c>, and for switches <c>--name</c> and
    /// <c>--no-name</c>. Throws <see cref="OptionsException"/> naming the flag for anything it cannot accept.
    /// </summary>
    public static CommandLine Parse(IReadOnlyList<string> args, IReadOnlyList<FlagSpec> flags)
    {
        var byName = flags.ToDictionary(f => f.Flag, StringComparer.Ordinal);
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? configFile = null;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help" or "-help")
            {
                return new CommandLine(CommandAction.Help, settings, configFile);
            }

            if (arg is "--version" or "-version")
            {
                return new CommandLine(CommandAction.Version, settings, configFile);
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new OptionsException($"unexpected argument '{arg}': flags start with --, see --help");
            }

            var body = arg[2..];
            var eq = body.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? body : body[..eq];
            string? value = eq < 0 ? null : body[(eq + 1)..];

            if (name == AgentFlags.ConfigFile)
            {
                configFile = value ?? NextValue(args, ref i, name);
                continue;
            }

            if (byName.TryGetValue(name, out var flag))
            {
                if (flag.IsBoolean)
                {
                    value ??= "true";
                }
                else
                {
                    value ??= NextValue(args, ref i, name);
                }
            }
            else if (name.StartsWith("no-", StringComparison.Ordinal) && byName.TryGetValue(name[3..], out flag) && flag.IsBoolean)
            {
                if (value is not null)
                {
                    throw new OptionsException($"flag --{name} takes no value");
                }

                value = "false";
            }
            else
            {
                throw new OptionsException($"unknown flag --{name}{Suggest(name, flags)}");
            }

            var problem = SettingValidator.Check(flag, value);
            if (problem is not null)
            {
                throw new OptionsException($"invalid value '{value}' for flag --{flag.Flag}: {problem}");
            }

            // --log.elasticsearch.url may be repeated: the URLs add up (failover order).
            settings[flag.Key] = flag.Key == AgentFlags.Keys.EsUrl && settings.TryGetValue(flag.Key, out var earlier) ? earlier + "," + value : value;
        }

        return new CommandLine(CommandAction.Run, settings, configFile);
    }

    /// <summary>The <c>--help</c> text: every flag with its default.</summary>
    public static string HelpText(IReadOnlyList<FlagSpec> flags, string version)
    {
        var rows = new List<(string Left, string Right)>
        {
            ("-h, --help", "Show this help and exit."),
            ("    --version", "Print the version and exit."),
            ($"    --{AgentFlags.ConfigFile}=FILE", "JSON settings file; its keys are the configuration keys below (e.g. {\"Web\": {\"ListenAddress\": \":9420\"}})."),
        };
        foreach (var flag in flags)
        {
            if (flag.IsBoolean)
            {
                rows.Add(($"    --[no-]{flag.Flag}", $"{flag.Help} (default: {flag.Default}; key {flag.Key})"));
            }
            else
            {
                var suffix = flag.Kind == Collectors.FlagKind.Choice ? $" [{string.Join('|', flag.Allowed ?? [])}]" : string.Empty;
                rows.Add(($"    --{flag.Flag}=\"{flag.Default}\"", $"{flag.Help}{suffix} (key {flag.Key})"));
            }
        }

        var width = Math.Min(rows.Max(r => r.Left.Length), 60) + 2;
        var text = new StringBuilder();
        text.Append("usage: monitor-agent [<flags>]\n\n")
            .Append("Monitor node agent ").Append(version).Append(": host, GPU and job metrics for Prometheus.\n\nFlags:\n");
        foreach (var (left, right) in rows)
        {
            text.Append("  ").Append(left);
            if (left.Length + 2 > width)
            {
                text.Append('\n').Append(' ', width + 2);
            }
            else
            {
                text.Append(' ', width - left.Length);
            }

            text.Append(right).Append('\n');
        }

        text.Append("\nEvery flag can also be set in the config file under its configuration key, or in the environment as\n")
            .Append("MONITOR_<FLAG> with dots and dashes as underscores (MONITOR_WEB_LISTEN_ADDRESS, MONITOR_COLLECTOR_CPU=false).\n")
            .Append("Precedence: flags > environment > config file > defaults.\n");
        return text.ToString();
    }

    /// <summary>The environment variable that sets <paramref name="flag"/>.</summary>
    public static string EnvironmentName(string flag) =>
        "MONITOR_" + flag.Replace('.', '_').Replace('-', '_').ToUpperInvariant();

    private static string NextValue(IReadOnlyList<string> args, ref int i, string name)
    {
        if (i + 1 >= args.Count)
        {
            throw new OptionsException($"flag --{name} needs a value");
        }

        return args[++i];
    }

    private static string Suggest(string name, IReadOnlyList<FlagSpec> flags)
    {
        var best = flags
            .Select(f => (f.Flag, Distance: Distance(name, f.Flag)))
            .OrderBy(f => f.Distance)
            .FirstOrDefault();
        return best.Flag is not null && best.Distance <= Math.Max(2, name.Length / 4)
            ? $"; did you mean --{best.Flag}? (see --help)"
            : "; see --help for the list of flags";
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
