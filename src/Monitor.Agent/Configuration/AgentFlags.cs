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

        /// <summary>Turns every collector off unless enabled explicitly.</summary>
        public const string DisableDefaults = "Collectors:DisableDefaults";
    }

    /// <summary>The fixed flags, in <c>--help</c> order.</summary>
    public static IReadOnlyList<FlagSpec> Fixed { get; } =
    [
        new("web.listen-address", Keys.ListenAddress, ":9420", "Address to listen on for the web interface and telemetry ([host]:port; port 0 picks a free port).", FlagKind.String),
        new("web.telemetry-path", Keys.TelemetryPath, "/metrics", "Path under which to expose metrics.", FlagKind.String),
        new("web.config.file", Keys.WebConfigFile, "", "Path to a web configuration file (exporter-toolkit format) that enables TLS and/or basic authentication.", FlagKind.String),
        new("web.max-requests", Keys.MaxRequests, "40", "Maximum number of parallel scrape requests; 0 disables the limit.", FlagKind.Int),
        new("path.procfs", Keys.Procfs, "/proc", "procfs mountpoint.", FlagKind.String),
        new("path.sysfs", Keys.Sysfs, "/sys", "sysfs mountpoint.", FlagKind.String),
        new("path.rootfs", Keys.Rootfs, "/", "rootfs mountpoint (the host's / when the agent runs in a container).", FlagKind.String),
        new("log.level", Keys.LogLevel, "info", "Only log messages with the given severity or above.", FlagKind.Choice, ["debug", "info", "warn", "error"]),
        new("log.format", Keys.LogFormat, "text", "Output format of log messages: text for terminals, json for ECS documents.", FlagKind.Choice, ["text", "json"]),
        new("nvml.library", "Collectors:gpu:nvml-library", "libnvidia-ml.so.1", "NVML library the gpu collector loads: a soname or a path (e.g. /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1).", FlagKind.String),
        new("compat.dcgm", "Collectors:gpu:compat-dcgm", "false", "Also export dcgm-exporter's default metric set (DCGM_FI_* names, units and labels) so dashboards and alerts written for dcgm-exporter keep working.", FlagKind.Bool),
        new("gpu.simulate", "Collectors:gpu:simulate", "0", "Simulate this many GPUs instead of reading NVML (demos, dashboards, alert development).", FlagKind.Int),
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
