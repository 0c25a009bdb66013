using Monitor.Agent.Collectors;

namespace Monitor.Agent.Configuration;

/// <summary>The agent's flag table: the fixed flags plus the <c>--collector.*</c> flags derived from the catalog.</summary>
internal static class AgentFlags
{
    /// <summary>Flag that names the JSON settings file; read before the other sources are layered.</summary>
    public const string ConfigFile = "config.file";

    /// <summary>Configuration keys of the fixed settings.</summary>
    public static class Keys
    {
        /// <summary>Listen address.</summary>
        public const string ListenAddress = "Web:ListenAddress";

        /// <summary>Path of the metrics endpoint.</summary>
        public const string TelemetryPath = "Web:TelemetryPath";

        /// <summary>exporter-toolkit web configuration file (TLS, basic auth).</summary>
        public const string WebConfigFile = "Web:ConfigFile";

        /// <summary>Concurrent scrape limit.</summary>
        public const string MaxRequests = "Web:MaxRequests";

        /// <summary>Concurrent connection limit.</summary>
        public const string MaxConnections = "Web:MaxConnections";

        /// <summary>procfs root.</summary>
        public const string Procfs = "Paths:Procfs";

        /// <summary>sysfs root.</summary>
        public const string Sysfs = "Paths:Sysfs";

        /// <summary>Host root.</summary>
        public const string Rootfs = "Paths:Rootfs";

        /// <summary>Minimum log level.</summary>
        public const string LogLevel = "Log:Level";

        /// <summary>Log line format.</summary>
        public const string LogFormat = "Log:Format";

        /// <summary>Elasticsearch URLs (comma-separated).</summary>
        public const string EsUrl = "Log:Elasticsearch:Url";

        /// <summary>Target data stream.</summary>
        public const string EsDataStream = "Log:Elasticsearch:DataStream";

        /// <summary>API key file.</summary>
        public const string EsApiKeyFile = "Log:Elasticsearch:ApiKeyFile";

        /// <summary>Basic-auth user.</summary>
        public const string EsUsername = "Log:Elasticsearch:Username";

        /// <summary>Basic-auth password file.</summary>
        public const string EsPasswordFile = "Log:Elasticsearch:PasswordFile";

        /// <summary>CA file.</summary>
        public const string EsCaFile = "Log:Elasticsearch:CaFile";

        /// <summary>Pinned certificate fingerprint.</summary>
        public const string EsFingerprint = "Log:Elasticsearch:Fingerprint";

        /// <summary>Spool directory.</summary>
        public const string EsSpoolPath = "Log:Elasticsearch:SpoolPath";

        /// <summary>Spool size cap.</summary>
        public const string EsSpoolMaxBytes = "Log:Elasticsearch:SpoolMaxBytes";

        /// <summary>Spool age cap.</summary>
        public const string EsSpoolMaxAge = "Log:Elasticsearch:SpoolMaxAge";

        /// <summary>Shutdown drain bound.</summary>
        public const string EsShutdownTimeout = "Log:Elasticsearch:ShutdownTimeout";

        /// <summary>Deadline of the on-scrape collectors' reads.</summary>
        public const string ReadTimeout = "Collectors:ReadTimeout";

        /// <summary>Memory cap for events the spool's disk refuses.</summary>
        public const string EsMemoryQueueMaxBytes = "Log:Elasticsearch:MemoryQueueMaxBytes";

        /// <summary>Turns every collector off unless enabled explicitly.</summary>
        public const string DisableDefaults = "Collectors:DisableDefaults";
    }

    /// <summary>The fixed flags, in <c>--help</c> order.</summary>
    public static IReadOnlyList<FlagSpec> Fixed { get; } =
    [
        new("web.listen-address", Keys.ListenAddress, ":9420", "Address to listen on for the web interface and telemetry ([host]:port; port 0 picks a free port).", FlagKind.String),
        new("web.telemetry-path", Keys.TelemetryPath, "/metrics", "Path under which to expose metrics.", FlagKind.String),
        new("web.config.file", Keys.WebConfigFile, "", "Path to a web configuration file (exporter-toolkit format) that enables TLS and/or basic authentication.", FlagKind.String),
        new("web.max-requests", Keys.MaxRequests, "40", "Maximum number of parallel requests that do work (the metrics path and /api/v1/jobs); more get 503 at once. 0 disables the limit.", FlagKind.Int),
        new("web.max-connections", Keys.MaxConnections, "0", "Maximum number of concurrent HTTP connections; 0 picks up to 512, as many as the file descriptor limit leaves after a reserve of 96 for collectors and the spool. At the limit a new connection displaces the one idle longest, one that never completed an authorized request first; a connection serving a request is never displaced.", FlagKind.Int),
        new("path.procfs", Keys.Procfs, "/proc", "procfs mountpoint.", FlagKind.String),
        new("path.sysfs", Keys.Sysfs, "/sys", "sysfs mountpoint.", FlagKind.String),
        new("path.rootfs", Keys.Rootfs, "/", "rootfs mountpoint (the host's / when the agent runs in a container).", FlagKind.String),
        new("log.level", Keys.LogLevel, "info", "Only log messages with the given severity or above.", FlagKind.Choice, ["debug", "info", "warn", "error"]),
        new("log.format", Keys.LogFormat, "text", "Output format of log messages: text for terminals, json for ECS documents.", FlagKind.Choice, ["text", "json"]),
        new("nvml.library", "Collectors:gpu:nvml-library", "libnvidia-ml.so.1", "NVML library the gpu collector loads: a soname or a path (e.g. /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1).", FlagKind.String),
        new("compat.dcgm", "Collectors:gpu:compat-dcgm", "false", "Also export dcgm-exporter's default metric set (DCGM_FI_* names, units and labels) so dashboards and alerts written for dcgm-exporter keep working.", FlagKind.Bool),
        new("gpu.simulate", "Collectors:gpu:simulate", "0", "Simulate this many GPUs instead of reading NVML (demos, dashboards, alert development).", FlagKind.Int),
        new("log.elasticsearch.url", Keys.EsUrl, "", "Elasticsearch URL(s) to ship logs and node events to; repeat the flag or separate with commas for failover. Empty: console only.", FlagKind.String),
        new("log.elasticsearch.data-stream", Keys.EsDataStream, "logs-monitor.agent-default", "Data stream the events are created in (logs-<dataset>-<namespace>).", FlagKind.String),
        new("log.elasticsearch.api-key-file", Keys.EsApiKeyFile, "", "File holding the Elasticsearch API key (the encoded id:key); or set MONITOR_LOG_ELASTICSEARCH_API_KEY.", FlagKind.String),
        new("log.elasticsearch.username", Keys.EsUsername, "", "User for basic authentication to Elasticsearch.", FlagKind.String),
        new("log.elasticsearch.password-file", Keys.EsPasswordFile, "", "File holding the basic-auth password; or set MONITOR_LOG_ELASTICSEARCH_PASSWORD.", FlagKind.String),
        new("log.elasticsearch.ca-file", Keys.EsCaFile, "", "PEM file with the CA that signs Elasticsearch's certificate.", FlagKind.String),
        new("log.elasticsearch.fingerprint", Keys.EsFingerprint, "", "SHA-256 fingerprint (hex) of Elasticsearch's certificate or its CA, pinned.", FlagKind.String),
        new("log.elasticsearch.spool-path", Keys.EsSpoolPath, "/var/lib/monitor-agent/spool", "Directory of the on-disk spool events wait in until Elasticsearch has them.", FlagKind.String),
        new("log.elasticsearch.spool-max-bytes", Keys.EsSpoolMaxBytes, "256MiB", "Spool size cap (bytes, or with KiB/MiB/GiB); beyond it the oldest events are dropped and counted.", FlagKind.String),
        new("log.elasticsearch.spool-max-age", Keys.EsSpoolMaxAge, "168h", "Spooled events older than this are dropped and counted.", FlagKind.Duration),
        new("log.elasticsearch.shutdown-timeout", Keys.EsShutdownTimeout, "5s", "How long shutdown keeps shipping before it leaves the rest in the spool.", FlagKind.Duration),
        new("log.elasticsearch.memory-queue-max-bytes", Keys.EsMemoryQueueMaxBytes, "8MiB", "Memory cap (1MiB to 1GiB) for events waiting while the spool's disk refuses writes (full, failing, read-only); beyond it the oldest are dropped and counted.", FlagKind.String),
        new("collector.read-timeout", Keys.ReadTimeout, CollectorRunner.DefaultReadTimeout, "How long a scrape waits for the on-scrape collectors' reads of /proc and /sys. A collector still reading then is reported failed, its series are left out and one log line names the file, until the read returns; a background collector is reported the same way when an update runs 10s past its interval.", FlagKind.Duration),
        new("collector.disable-defaults", Keys.DisableDefaults, "false", "Set all collectors to disabled by default; enable them one by one with --collector.<name>.", FlagKind.Bool),
    ];

    /// <summary>Every flag: fixed ones, then per collector its switch and its own flags.</summary>
    public static IReadOnlyList<FlagSpec> All(IReadOnlyList<CollectorDescriptor> catalog)
    {
        var all = new List<FlagSpec>(Fixed);
        foreach (var collector in catalog.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            all.Add(new FlagSpec(
                $"collector.{collector.Name}",
                EnabledKey(collector.Name),
                collector.EnabledByDefault ? "true" : "false",
                $"Enable the {collector.Name} collector: {collector.Description}",
                FlagKind.Bool));
            if (collector.Cadence == Cadence.Background)
            {
                all.Add(new FlagSpec(
                    $"collector.{collector.Name}.interval",
                    $"Collectors:{collector.Name}:{IntervalSetting}",
                    Format(collector.DefaultInterval),
                    $"How often the {collector.Name} collector samples in the background; scrapes serve the latest sample.",
                    FlagKind.Duration));
            }

            foreach (var flag in collector.Flags)
            {
                all.Add(new FlagSpec(
                    $"collector.{collector.Name}.{flag.Name}",
                    $"Collectors:{collector.Name}:{flag.Name}",
                    flag.Default,
                    flag.Help,
                    flag.Kind,
                    flag.Allowed));
            }
        }

        return all;
    }

    /// <summary>The per-collector setting that overrides a background collector's interval.</summary>
    public const string IntervalSetting = "interval";

    /// <summary>The key that switches a collector on or off.</summary>
    public static string EnabledKey(string collector) => $"Collectors:{collector}:Enabled";

    private static string Format(TimeSpan interval) =>
        interval.TotalMilliseconds % 1000 == 0
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{interval.TotalSeconds}s")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{interval.TotalMilliseconds}ms");
}
