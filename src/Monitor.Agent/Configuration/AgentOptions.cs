using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Configuration;

/// <summary>
/// The agent's validated settings. Built from four layers (defaults, <c>--config.file</c>, <c>MONITOR_*</c>
/// environment variables, flags), checked key by key against the flag table, so a bad value from any source stops
/// startup with the key and its allowed values.
/// </summary>
internal sealed class AgentOptions
{
    private AgentOptions(IConfiguration configuration, IReadOnlyList<CollectorDescriptor> enabled, Logging.Elasticsearch.ElasticsearchOptions? elasticsearch)
    {
        Elasticsearch = elasticsearch;
        Configuration = configuration;
        EnabledCollectors = enabled;
        _ = ListenAddress.TryParse(configuration[AgentFlags.Keys.ListenAddress]!, out var listen, out _);
        Listen = listen!;
        TelemetryPath = configuration[AgentFlags.Keys.TelemetryPath]!;
        MaxRequests = int.Parse(configuration[AgentFlags.Keys.MaxRequests]!, CultureInfo.InvariantCulture);
        ReadTimeout = DurationParser.Parse(configuration[AgentFlags.Keys.ReadTimeout]!).Value;
        Paths = new HostPaths(configuration[AgentFlags.Keys.Procfs]!, configuration[AgentFlags.Keys.Sysfs]!, configuration[AgentFlags.Keys.Rootfs]!);
        MinimumLevel = configuration[AgentFlags.Keys.LogLevel]!.ToUpperInvariant() switch
        {
            "DEBUG" => LogLevel.Debug,
            "WARN" => LogLevel.Warning,
            "ERROR" => LogLevel.Error,
            _ => LogLevel.Information,
        };
        JsonLogs = string.Equals(configuration[AgentFlags.Keys.LogFormat], "json", StringComparison.OrdinalIgnoreCase);
        var webConfig = configuration[AgentFlags.Keys.WebConfigFile];
        WebConfigFile = string.IsNullOrEmpty(webConfig) ? null : webConfig;
        Web = string.IsNullOrEmpty(webConfig) ? new Hosting.WebConfig() : Hosting.WebConfig.Load(webConfig);
        // Only touch the TLS code when TLS is configured: JIT-compiling it loads the crypto assemblies (~1 MB RSS).
        Https = Web.UsesTls ? Hosting.Tls.Create(Web) : null;
        MaxConnections = int.Parse(configuration[AgentFlags.Keys.MaxConnections]!, CultureInfo.InvariantCulture);
    }

    /// <summary>The merged configuration (collectors read their sections from it).</summary>
    public IConfiguration Configuration { get; }

    /// <summary>Where the web server listens.</summary>
    public ListenAddress Listen { get; }

    /// <summary>Path of the metrics endpoint.</summary>
    public string TelemetryPath { get; }

    /// <summary>TLS and basic-auth settings from <c>--web.config.file</c>.</summary>
    public Hosting.WebConfig Web { get; }

    /// <summary>The TLS server options built from <see cref="Web"/> (certificates loaded and checked); null for plain HTTP.</summary>
    public Hosting.Tls? Https { get; }

    /// <summary>The <c>--web.config.file</c> path (SIGHUP reloads it); null when none.</summary>
    public string? WebConfigFile { get; }

    /// <summary><c>--web.max-connections</c>; 0 means what the file descriptor limit leaves.</summary>
    public int MaxConnections { get; }

    /// <summary>Maximum concurrent scrapes; 0 is unlimited.</summary>
    public int MaxRequests { get; }

    /// <summary>How long a scrape waits for the on-scrape collectors (<c>--collector.read-timeout</c>).</summary>
    public TimeSpan ReadTimeout { get; }

    /// <summary>procfs, sysfs and rootfs.</summary>
    public HostPaths Paths { get; }

    /// <summary>Minimum log level.</summary>
    public LogLevel MinimumLevel { get; }

    /// <summary>True for ECS JSON log lines.</summary>
    public bool JsonLogs { get; }

    /// <summary>The Elasticsearch sink's settings; null when no <c>--log.elasticsearch.url</c> is configured.</summary>
    public Logging.Elasticsearch.ElasticsearchOptions? Elasticsearch { get; }

    /// <summary>The collectors that run, in name order.</summary>
    public IReadOnlyList<CollectorDescriptor> EnabledCollectors { get; }

    /// <summary>A collector's own settings section.</summary>
    public IConfigurationSection CollectorSettings(string name) => Configuration.GetSection($"Collectors:{name}");

    /// <summary>Builds and validates the options. Throws <see cref="OptionsException"/> for anything invalid.</summary>
    public static AgentOptions Load(
        CommandLine commandLine,
        IReadOnlyList<FlagSpec> flags,
        IReadOnlyList<CollectorDescriptor> catalog,
        Func<string, string?> environment)
    {
        var builder = new ConfigurationBuilder()
            .AddInMemoryCollection(flags.Select(f => new KeyValuePair<string, string?>(f.Key, f.Default)));

        var explicitKeys = new HashSet<string>(commandLine.Settings.Keys, StringComparer.OrdinalIgnoreCase);
        var configFile = commandLine.ConfigFile ?? environment(CommandLine.EnvironmentName(AgentFlags.ConfigFile));
        if (!string.IsNullOrEmpty(configFile))
        {
            var fromFile = ReadConfigFile(configFile, flags);
            explicitKeys.UnionWith(fromFile.Keys);
            builder.AddInMemoryCollection(fromFile);
        }

        var fromEnvironment = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var flag in flags)
        {
            var name = CommandLine.EnvironmentName(flag.Flag);
            if (environment(name) is { } value)
            {
                var problem = SettingValidator.Check(flag, value);
                if (problem is not null)
                {
                    throw new OptionsException($"invalid value '{value}' for environment variable {name} (--{flag.Flag}): {problem}");
                }

                fromEnvironment[flag.Key] = value;
                explicitKeys.Add(flag.Key);
            }
        }

        builder.AddInMemoryCollection(fromEnvironment);
        builder.AddInMemoryCollection(commandLine.Settings.Select(kv => new KeyValuePair<string, string?>(kv.Key, kv.Value)));
        var configuration = builder.Build();

        if (!ListenAddress.TryParse(configuration[AgentFlags.Keys.ListenAddress]!, out _, out var listenProblem))
        {
            throw new OptionsException($"invalid value '{configuration[AgentFlags.Keys.ListenAddress]}' for --web.listen-address ({AgentFlags.Keys.ListenAddress}): {listenProblem}");
        }

        if (!configuration[AgentFlags.Keys.TelemetryPath]!.StartsWith('/'))
        {
            throw new OptionsException($"invalid value '{configuration[AgentFlags.Keys.TelemetryPath]}' for --web.telemetry-path ({AgentFlags.Keys.TelemetryPath}): allowed values: a path starting with /");
        }

        var disableDefaults = bool.Parse(configuration[AgentFlags.Keys.DisableDefaults]!);
        var enabled = new List<CollectorDescriptor>();
        foreach (var collector in catalog.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            // As in node_exporter: --collector.disable-defaults turns off every collector not named explicitly.
            var key = AgentFlags.EnabledKey(collector.Name);
            var on = explicitKeys.Contains(key) ? bool.Parse(configuration[key]!) : collector.EnabledByDefault && !disableDefaults;
            if (on)
            {
                enabled.Add(collector);
            }
        }

        var elasticsearch = ElasticsearchSettings.Load(configuration, environment);
        return new AgentOptions(configuration, enabled, elasticsearch);
    }

    private static Dictionary<string, string?> ReadConfigFile(string path, IReadOnlyList<FlagSpec> flags)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new OptionsException($"cannot read --config.file '{path}': {ex.Message}");
        }

        return ParseConfigFile(text, path, flags);
    }

    /// <summary>
    /// The settings of a config file's text (as File.ReadAllText decodes it), each checked against its flag; throws
    /// <see cref="OptionsException"/>.
    /// </summary>
    internal static Dictionary<string, string?> ParseConfigFile(string text, string path, IReadOnlyList<FlagSpec> flags)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new OptionsException($"--config.file '{path}': the top level must be a JSON object");
            }

            Flatten(document.RootElement, prefix: null, values);
        }
        catch (JsonException ex)
        {
            throw new OptionsException($"--config.file '{path}' is not valid JSON: {ex.Message}");
        }

        var known = flags.ToDictionary(f => f.Key, StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in values)
        {
            if (!known.TryGetValue(key, out var flag))
            {
                var section = key.Contains(':', StringComparison.Ordinal) ? key[..key.LastIndexOf(':')] : string.Empty;
                var siblings = flags.Where(f => f.Key.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase) && f.Key.LastIndexOf(':') == section.Length).Select(f => f.Key).ToList();
                var hint = siblings.Count > 0 ? $"; allowed keys here: {string.Join(", ", siblings)}" : "; see --help for the configuration keys";
                throw new OptionsException($"unknown setting '{key}' in --config.file '{path}'{hint}");
            }

            var problem = SettingValidator.Check(flag, value ?? string.Empty);
            if (problem is not null)
            {
                throw new OptionsException($"invalid value '{value}' for '{flag.Key}' in --config.file '{path}' (--{flag.Flag}): {problem}");
            }
        }

        return values;
    }

    private static void Flatten(JsonElement element, string? prefix, Dictionary<string, string?> values)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Flatten(property.Value, prefix is null ? property.Name : $"{prefix}:{property.Name}", values);
                }

                break;
            case JsonValueKind.Array:
                throw new OptionsException($"setting '{prefix}' in --config.file is a list; write it as one string (a regex alternation for filters)");
            case JsonValueKind.String:
                values[prefix!] = element.GetString();
                break;
            case JsonValueKind.True or JsonValueKind.False:
                values[prefix!] = element.ValueKind == JsonValueKind.True ? "true" : "false";
                break;
            case JsonValueKind.Number:
                values[prefix!] = element.GetRawText();
                break;
            default:
                // null: the configuration would hold no value where every reader expects one (a null listen address
                // or path ended in a NullReferenceException at startup).
                throw new OptionsException($"setting '{prefix}' in --config.file is null; give it a value or leave it out");
        }
    }
}
