namespace Monitor.Agent.Logging;

/// <summary>
/// The one catalogue of log event ids (as dotnet-monitor keeps <c>LoggingEventIds</c>): every <c>[LoggerMessage]</c> in the
/// agent takes its id from here, each id is used once (EventIdsTests), and docs/events.md lists them all. The ranges say
/// which part of the agent owns an id; <see cref="EcsEvents"/> classifies events for ECS from the same ranges.
/// </summary>
internal static class EventIds
{
    // 1000–1099: Host lifecycle, listener, descriptors and web configuration (Hosting).
    /// <summary>First id of the range: Host lifecycle, listener, descriptors and web configuration (Hosting).</summary>
    public const int HostFirst = 1000;

    /// <summary>Last id of the range that starts at <see cref="HostFirst"/>.</summary>
    public const int HostLast = 1099;

    /// <summary><c>listening</c> (Hosting/AgentHost.cs).</summary>
    public const int Listening = 1000;

    /// <summary><c>stopping</c> (Hosting/AgentHost.cs).</summary>
    public const int Stopping = 1001;

    /// <summary><c>collectors_enabled</c> (Collectors/CollectorLog.cs).</summary>
    public const int CollectorsEnabled = 1002;

    /// <summary><c>connection_limit_reached</c> (Hosting/ConnectionLimiter.cs).</summary>
    public const int ConnectionLimitReached = 1010;

    /// <summary><c>http_auth_failures</c> (Hosting/AuthGuard.cs).</summary>
    public const int HttpAuthFailures = 1011;

    /// <summary><c>http_auth_failures_more</c> (Hosting/AuthGuard.cs).</summary>
    public const int HttpAuthFailuresMore = 1012;

    /// <summary><c>http_auth_summary_failed</c> (Hosting/AuthGuard.cs).</summary>
    public const int HttpAuthSummaryFailed = 1013;

    /// <summary><c>file_descriptors</c> (Hosting/AgentHost.cs).</summary>
    public const int FileDescriptors = 1020;

    /// <summary><c>connection_limit_lowered</c> (Hosting/AgentHost.cs).</summary>
    public const int ConnectionLimitLowered = 1021;

    /// <summary><c>unrecoverable_state</c> (Hosting/UnrecoverableStateMonitor.cs).</summary>
    public const int UnrecoverableState = 1022;

    /// <summary><c>warmed_up</c> (Hosting/AgentHost.cs).</summary>
    public const int WarmedUp = 1023;

    /// <summary><c>warm_up_failed</c> (Hosting/AgentHost.cs).</summary>
    public const int WarmUpFailed = 1024;

    /// <summary><c>too_few_descriptors</c> (Hosting/AgentHost.cs).</summary>
    public const int TooFewDescriptors = 1025;

    /// <summary><c>web_config_reloaded</c> (Hosting/WebConfigReloader.cs).</summary>
    public const int WebConfigReloaded = 1030;

    /// <summary><c>web_config_reload_failed</c> (Hosting/WebConfigReloader.cs).</summary>
    public const int WebConfigReloadFailed = 1031;

    /// <summary><c>web_config_reload_none</c> (Hosting/WebConfigReloader.cs).</summary>
    public const int WebConfigReloadNone = 1032;

    /// <summary><c>systemd_watchdog</c> (Hosting/SystemdService.cs).</summary>
    public const int SystemdWatchdog = 1040;

    /// <summary><c>watchdog_withheld</c> (Hosting/SystemdService.cs).</summary>
    public const int WatchdogWithheld = 1041;

    /// <summary><c>watchdog_resumed</c> (Hosting/SystemdService.cs).</summary>
    public const int WatchdogResumed = 1042;

    // 1100–1199: Collector runner: failures, recoveries, stuck reads (Collectors).
    /// <summary>First id of the range: Collector runner: failures, recoveries, stuck reads (Collectors).</summary>
    public const int CollectorsFirst = 1100;

    /// <summary>Last id of the range that starts at <see cref="CollectorsFirst"/>.</summary>
    public const int CollectorsLast = 1199;

    /// <summary><c>collector_failed</c> (Collectors/CollectorLog.cs).</summary>
    public const int CollectorFailed = 1100;

    /// <summary><c>collector_recovered</c> (Collectors/CollectorLog.cs).</summary>
    public const int CollectorRecovered = 1101;

    /// <summary><c>collector_create_failed</c> (Collectors/CollectorLog.cs).</summary>
    public const int CollectorCreateFailed = 1102;

    /// <summary><c>collector_stuck</c> (Collectors/CollectorLog.cs).</summary>
    public const int CollectorStuck = 1103;

    /// <summary><c>collector_unstuck</c> (Collectors/CollectorLog.cs).</summary>
    public const int CollectorUnstuck = 1104;

    // 1200–1299: Metrics endpoint (Hosting).
    /// <summary>First id of the range: Metrics endpoint (Hosting).</summary>
    public const int EndpointFirst = 1200;

    /// <summary>Last id of the range that starts at <see cref="EndpointFirst"/>.</summary>
    public const int EndpointLast = 1299;

    /// <summary><c>scrape_rejected</c> (Hosting/RequestLimiter.cs).</summary>
    public const int ScrapeRejected = 1200;

    // 1300–1399: Elasticsearch shipping: the shipper's own events, written to the console only, never shipped (Logging/Elasticsearch).
    /// <summary>First id of the range: Elasticsearch shipping: the shipper's own events, written to the console only, never shipped (Logging/Elasticsearch).</summary>
    public const int ShipperFirst = 1300;

    /// <summary>Last id of the range that starts at <see cref="ShipperFirst"/>.</summary>
    public const int ShipperLast = 1399;

    /// <summary><c>es_shipping</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsShipping = 1300;

    /// <summary><c>es_unreachable</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsUnreachable = 1301;

    /// <summary><c>es_recovered</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsRecovered = 1302;

    /// <summary><c>es_unauthorized</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsUnauthorized = 1303;

    /// <summary><c>es_dead_lettered</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsDeadLettered = 1304;

    /// <summary><c>es_shutdown_left</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsShutdownLeft = 1305;

    /// <summary><c>es_spool_failed</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsSpoolFailed = 1306;

    /// <summary><c>es_spool_recovered</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsSpoolRecovered = 1307;

    /// <summary><c>es_memory_queue_full</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsMemoryQueueFull = 1308;

    /// <summary><c>es_poison_search</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsPoisonSearch = 1309;

    /// <summary><c>es_shutdown_lost</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsShutdownLost = 1310;

    /// <summary><c>es_internal_error</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsInternalError = 1311;

    /// <summary><c>es_event_too_large</c> (Logging/Elasticsearch/ShipperLog.cs).</summary>
    public const int EsEventTooLarge = 1312;

    // 2100–2199: Host collectors (Collectors/*); 2110–2118 are InfiniBand and network link events with ECS infiniband.* fields.
    /// <summary>First id of the range: Host collectors (Collectors/*); 2110–2118 are InfiniBand and network link events with ECS <c>infiniband.*</c> fields.</summary>
    public const int HostCollectorsFirst = 2100;

    /// <summary>Last id of the range that starts at <see cref="HostCollectorsFirst"/>.</summary>
    public const int HostCollectorsLast = 2199;

    /// <summary>First InfiniBand and network link event (ECS <c>infiniband.*</c>).</summary>
    public const int InfiniBandFirst = 2110;

    /// <summary>Last InfiniBand and network link event.</summary>
    public const int InfiniBandLast = 2118;

    /// <summary>PressureUnavailable (Collectors/HostCollectorLog.cs).</summary>
    public const int PressureUnavailable = 2100;

    /// <summary>EntrySkipped (Collectors/HostCollectorLog.cs).</summary>
    public const int EntrySkipped = 2101;

    /// <summary>EntrySkippedAgain (Collectors/HostCollectorLog.cs).</summary>
    public const int EntrySkippedAgain = 2102;

    /// <summary>UdevDataUnavailable (Collectors/HostCollectorLog.cs).</summary>
    public const int UdevDataUnavailable = 2103;

    /// <summary>UdevValueInvalid (Collectors/HostCollectorLog.cs).</summary>
    public const int UdevValueInvalid = 2104;

    /// <summary>CpuJumpedBack (Collectors/HostCollectorLog.cs).</summary>
    public const int CpuJumpedBack = 2105;

    /// <summary>CpuAttributeUnavailable (Collectors/HostCollectorLog.cs).</summary>
    public const int CpuAttributeUnavailable = 2106;

    /// <summary>MemInfoFieldSkipped (Collectors/HostCollectorLog.cs).</summary>
    public const int MemInfoFieldSkipped = 2107;

    /// <summary>IbPortStateChanged (Collectors/HostCollectorLog.cs).</summary>
    public const int IbPortStateChanged = 2110;

    /// <summary>IbLinkDowned (Collectors/HostCollectorLog.cs).</summary>
    public const int IbLinkDowned = 2111;

    /// <summary>IbRateDropped (Collectors/HostCollectorLog.cs).</summary>
    public const int IbRateDropped = 2112;

    /// <summary>IbLinkErrorRecoveryBurst (Collectors/HostCollectorLog.cs).</summary>
    public const int IbLinkErrorRecoveryBurst = 2113;

    /// <summary>IbDeviceFailed (Collectors/HostCollectorLog.cs).</summary>
    public const int IbDeviceFailed = 2114;

    /// <summary>IbDeviceRecovered (Collectors/HostCollectorLog.cs).</summary>
    public const int IbDeviceRecovered = 2115;

    /// <summary>IbDeviceStuck (Collectors/HostCollectorLog.cs).</summary>
    public const int IbDeviceStuck = 2116;

    /// <summary>NetClassInterfaceSkipped (Collectors/HostCollectorLog.cs).</summary>
    public const int NetClassInterfaceSkipped = 2117;

    /// <summary>NetClassInterfaceSkippedAgain (Collectors/HostCollectorLog.cs).</summary>
    public const int NetClassInterfaceSkippedAgain = 2118;

    /// <summary>MountStuck (Collectors/Filesystem/FilesystemLog.cs).</summary>
    public const int MountStuck = 2120;

    /// <summary>MountRecovered (Collectors/Filesystem/FilesystemLog.cs).</summary>
    public const int MountRecovered = 2121;

    /// <summary>StatFsFailed (Collectors/Filesystem/FilesystemLog.cs).</summary>
    public const int StatFsFailed = 2122;

    /// <summary>MalformedLine (Collectors/Filesystem/FilesystemLog.cs).</summary>
    public const int MountInfoLineMalformed = 2123;

    /// <summary>Unnamed (Collectors/Hwmon/HwmonLog.cs).</summary>
    public const int HwmonUnnamed = 2130;

    /// <summary>ReadFailed (Collectors/ThermalZone/ThermalZoneLog.cs).</summary>
    public const int ThermalZoneReadFailed = 2131;

    /// <summary>SourceUnavailable (Collectors/SourceLog.cs).</summary>
    public const int SourceUnavailable = 2140;
    /// <summary>SourceUnavailable (Collectors/DeviceCollectorLog.cs).</summary>
    public const int DeviceSourceUnavailable = 2150;

    /// <summary>DeviceSkipped (Collectors/DeviceCollectorLog.cs).</summary>
    public const int DeviceSkipped = 2151;

    /// <summary>DeviceSkippedAgain (Collectors/DeviceCollectorLog.cs).</summary>
    public const int DeviceSkippedAgain = 2152;

    /// <summary>FileFailed (Collectors/Textfile/TextfileLog.cs).</summary>
    public const int TextfileFileFailed = 2190;

    /// <summary>DirectoryFailed (Collectors/Textfile/TextfileLog.cs).</summary>
    public const int TextfileDirectoryFailed = 2191;

    /// <summary>MetricDropped (Collectors/Textfile/TextfileLog.cs).</summary>
    public const int TextfileMetricDropped = 2192;

    /// <summary>FamilyShadowed (Collectors/Textfile/TextfileLog.cs).</summary>
    public const int TextfileFamilyShadowed = 2193;

    // 3000–3099: GPU (NVML sessions, GPUs, XIDs, health events), ECS gpu.* fields.
    /// <summary>First id of the range: GPU (NVML sessions, GPUs, XIDs, health events), ECS <c>gpu.*</c> fields.</summary>
    public const int GpuFirst = 3000;

    /// <summary>Last id of the range that starts at <see cref="GpuFirst"/>.</summary>
    public const int GpuLast = 3099;

    /// <summary><c>nvml_unavailable</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int NvmlUnavailable = 3000;

    /// <summary><c>nvml_started</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int NvmlStarted = 3001;

    /// <summary><c>gpu_lost</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuLost = 3002;

    /// <summary><c>gpu_xid</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuXid = 3003;

    /// <summary><c>xid_listener_stopped</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int XidListenerStopped = 3004;

    /// <summary><c>gpu_sampling_stalled</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuSamplingStalled = 3005;

    /// <summary><c>gpu_sampling_recovered</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuSamplingRecovered = 3006;

    /// <summary><c>nvml_session_lost</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int NvmlSessionLost = 3007;

    /// <summary><c>gpu_sampling_failed</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuSamplingFailed = 3008;

    /// <summary><c>gpu_slowdown_started</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuSlowdownStarted = 3009;

    /// <summary><c>gpu_slowdown_ended</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuSlowdownEnded = 3010;

    /// <summary><c>gpu_ecc_corrected</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuEccCorrected = 3011;

    /// <summary><c>gpu_ecc_uncorrected</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuEccUncorrected = 3012;

    /// <summary><c>gpu_remap_pending</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuRemapPending = 3013;

    /// <summary><c>gpu_remap_failure</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuRemapFailure = 3014;

    /// <summary><c>gpu_recovery_action</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuRecoveryAction = 3015;

    /// <summary><c>gpu_recovered</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuRecovered = 3016;

    /// <summary><c>nvml_exports_missing</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int NvmlExportsMissing = 3017;

    /// <summary><c>gpu_inaccessible</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuInaccessible = 3018;

    /// <summary><c>gpu_unidentified</c> (Collectors/Gpu/GpuCollector.cs).</summary>
    public const int GpuUnidentified = 3019;

    // 4000–4099: Jobs (start, end, sources), ECS job.* fields.
    /// <summary>First id of the range: Jobs (start, end, sources), ECS <c>job.*</c> fields.</summary>
    public const int JobsFirst = 4000;

    /// <summary>Last id of the range that starts at <see cref="JobsFirst"/>.</summary>
    public const int JobsLast = 4099;

    /// <summary><c>job_started</c> (Jobs/JobLifecycle.cs).</summary>
    public const int JobStarted = 4000;

    /// <summary><c>job_ended</c> (Jobs/JobLifecycle.cs).</summary>
    public const int JobEnded = 4001;

    /// <summary><c>job_source_failed</c> (Collectors/Jobs/JobsCollector.cs).</summary>
    public const int JobSourceFailed = 4002;

    /// <summary><c>job_source_recovered</c> (Collectors/Jobs/JobsCollector.cs).</summary>
    public const int JobSourceRecovered = 4003;

    /// <summary><c>job_ledger_corrupt</c> (Jobs/Ledger/JobLedger.cs).</summary>
    public const int LedgerCorrupt = 4010;

    /// <summary><c>job_ledger_memory_only</c> (Jobs/Ledger/JobLedger.cs).</summary>
    public const int LedgerMemoryOnly = 4011;

    /// <summary><c>job_ledger_write_failed</c> (Jobs/Ledger/JobLedger.cs).</summary>
    public const int LedgerWriteFailed = 4012;

    /// <summary><c>job_ledger_write_recovered</c> (Jobs/Ledger/JobLedger.cs).</summary>
    public const int LedgerWriteRecovered = 4013;

    /// <summary><c>job_ledger_loaded</c> (Collectors/Jobs/JobsCollector.cs).</summary>
    public const int LedgerLoaded = 4014;
}
