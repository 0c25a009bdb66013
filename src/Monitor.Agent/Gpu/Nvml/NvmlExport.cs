namespace Monitor.Agent.Gpu.Nvml;

/// <summary>
/// The optional NVML entry points: every export <see cref="NvmlNative"/> binds besides the ones every NVML has
/// (<see cref="NvmlLibrary"/>'s required list). <see cref="NativeNvml"/> checks each at initialization and answers
/// FUNCTION_NOT_FOUND for one the library lacks instead of calling it (which would throw
/// <see cref="EntryPointNotFoundException"/>), so a missing export only makes its own values absent.
/// </summary>
/// <remarks>Keep in the order of <see cref="NvmlExports.Names"/>; a unit test checks both against NvmlNative's bindings.</remarks>
internal enum NvmlExport
{
    /// <summary><c>nvmlSystemGetDriverVersion</c>.</summary>
    SystemGetDriverVersion,

    /// <summary><c>nvmlDeviceGetSerial</c>.</summary>
    DeviceGetSerial,

    /// <summary><c>nvmlDeviceGetPciInfo_v3</c>.</summary>
    DeviceGetPciInfo,

    /// <summary><c>nvmlDeviceGetUtilizationRates</c>.</summary>
    DeviceGetUtilizationRates,

    /// <summary><c>nvmlDeviceGetMemoryInfo</c>.</summary>
    DeviceGetMemoryInfo,

    /// <summary><c>nvmlDeviceGetMemoryInfo_v2</c>.</summary>
    DeviceGetMemoryInfoV2,

    /// <summary><c>nvmlDeviceGetTemperature</c>.</summary>
    DeviceGetTemperature,

    /// <summary><c>nvmlDeviceGetTemperatureThreshold</c>.</summary>
    DeviceGetTemperatureThreshold,

    /// <summary><c>nvmlDeviceGetPowerUsage</c>.</summary>
    DeviceGetPowerUsage,

    /// <summary><c>nvmlDeviceGetEnforcedPowerLimit</c>.</summary>
    DeviceGetEnforcedPowerLimit,

    /// <summary><c>nvmlDeviceGetTotalEnergyConsumption</c>.</summary>
    DeviceGetTotalEnergyConsumption,

    /// <summary><c>nvmlDeviceGetClockInfo</c>.</summary>
    DeviceGetClockInfo,

    /// <summary><c>nvmlDeviceGetMaxClockInfo</c>.</summary>
    DeviceGetMaxClockInfo,

    /// <summary><c>nvmlDeviceGetPerformanceState</c>.</summary>
    DeviceGetPerformanceState,

    /// <summary><c>nvmlDeviceGetCurrentClocksEventReasons</c>.</summary>
    DeviceGetCurrentClocksEventReasons,

    /// <summary><c>nvmlDeviceGetCurrentClocksThrottleReasons</c>.</summary>
    DeviceGetCurrentClocksThrottleReasons,

    /// <summary><c>nvmlDeviceGetEncoderUtilization</c>.</summary>
    DeviceGetEncoderUtilization,

    /// <summary><c>nvmlDeviceGetDecoderUtilization</c>.</summary>
    DeviceGetDecoderUtilization,

    /// <summary><c>nvmlDeviceGetFanSpeed</c>.</summary>
    DeviceGetFanSpeed,

    /// <summary><c>nvmlDeviceGetTotalEccErrors</c>.</summary>
    DeviceGetTotalEccErrors,

    /// <summary><c>nvmlDeviceGetRemappedRows</c>.</summary>
    DeviceGetRemappedRows,

    /// <summary><c>nvmlDeviceGetPcieReplayCounter</c>.</summary>
    DeviceGetPcieReplayCounter,

    /// <summary><c>nvmlDeviceGetCurrPcieLinkGeneration</c>.</summary>
    DeviceGetCurrPcieLinkGeneration,

    /// <summary><c>nvmlDeviceGetCurrPcieLinkWidth</c>.</summary>
    DeviceGetCurrPcieLinkWidth,

    /// <summary><c>nvmlDeviceGetComputeRunningProcesses_v3</c>.</summary>
    DeviceGetComputeRunningProcesses,

    /// <summary><c>nvmlDeviceGetFieldValues</c>.</summary>
    DeviceGetFieldValues,

    /// <summary><c>nvmlEventSetCreate</c>.</summary>
    EventSetCreate,

    /// <summary><c>nvmlDeviceGetSupportedEventTypes</c>.</summary>
    DeviceGetSupportedEventTypes,

    /// <summary><c>nvmlDeviceRegisterEvents</c>.</summary>
    DeviceRegisterEvents,

    /// <summary><c>nvmlEventSetWait_v2</c>.</summary>
    EventSetWait,

    /// <summary><c>nvmlEventSetFree</c>.</summary>
    EventSetFree,

    /// <summary><c>nvmlDeviceGetVbiosVersion</c>.</summary>
    DeviceGetVbiosVersion,

    /// <summary><c>nvmlDeviceGetCudaComputeCapability</c>.</summary>
    DeviceGetCudaComputeCapability,

    /// <summary><c>nvmlDeviceGetMaxPcieLinkGeneration</c>.</summary>
    DeviceGetMaxPcieLinkGeneration,

    /// <summary><c>nvmlDeviceGetMaxPcieLinkWidth</c>.</summary>
    DeviceGetMaxPcieLinkWidth,

    /// <summary><c>nvmlDeviceGetPcieThroughput</c>.</summary>
    DeviceGetPcieThroughput,

    /// <summary><c>nvmlDeviceGetRetiredPages</c>.</summary>
    DeviceGetRetiredPages,

    /// <summary><c>nvmlDeviceGetEccMode</c>.</summary>
    DeviceGetEccMode,

    /// <summary><c>nvmlDeviceGetRetiredPagesPendingStatus</c>.</summary>
    DeviceGetRetiredPagesPendingStatus,

    /// <summary><c>nvmlDeviceGetProcessUtilization</c>.</summary>
    DeviceGetProcessUtilization,

    /// <summary><c>nvmlDeviceGetMigMode</c>.</summary>
    DeviceGetMigMode,

    /// <summary><c>nvmlDeviceGetMaxMigDeviceCount</c>.</summary>
    DeviceGetMaxMigDeviceCount,

    /// <summary><c>nvmlDeviceGetMigDeviceHandleByIndex</c>.</summary>
    DeviceGetMigDeviceHandleByIndex,

    /// <summary><c>nvmlDeviceGetGpuInstanceId</c>.</summary>
    DeviceGetGpuInstanceId,

    /// <summary><c>nvmlDeviceGetComputeInstanceId</c>.</summary>
    DeviceGetComputeInstanceId,

    /// <summary><c>nvmlGpmQueryDeviceSupport</c>.</summary>
    GpmQueryDeviceSupport,

    /// <summary><c>nvmlGpmSampleAlloc</c>.</summary>
    GpmSampleAlloc,

    /// <summary><c>nvmlGpmSampleFree</c>.</summary>
    GpmSampleFree,

    /// <summary><c>nvmlGpmSampleGet</c>.</summary>
    GpmSampleGet,

    /// <summary><c>nvmlGpmMigSampleGet</c>.</summary>
    GpmMigSampleGet,

    /// <summary><c>nvmlGpmMetricsGet</c>.</summary>
    GpmMetricsGet,

    /// <summary>The number of optional exports.</summary>
    Count,
}

/// <summary>The names of <see cref="NvmlExport"/>'s entry points.</summary>
internal static class NvmlExports
{
    /// <summary>Export names, indexed by <see cref="NvmlExport"/>.</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "nvmlSystemGetDriverVersion",
        "nvmlDeviceGetSerial",
        "nvmlDeviceGetPciInfo_v3",
        "nvmlDeviceGetUtilizationRates",
        "nvmlDeviceGetMemoryInfo",
        "nvmlDeviceGetMemoryInfo_v2",
        "nvmlDeviceGetTemperature",
        "nvmlDeviceGetTemperatureThreshold",
        "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetEnforcedPowerLimit",
        "nvmlDeviceGetTotalEnergyConsumption",
        "nvmlDeviceGetClockInfo",
        "nvmlDeviceGetMaxClockInfo",
        "nvmlDeviceGetPerformanceState",
        "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetCurrentClocksThrottleReasons",
        "nvmlDeviceGetEncoderUtilization",
        "nvmlDeviceGetDecoderUtilization",
        "nvmlDeviceGetFanSpeed",
        "nvmlDeviceGetTotalEccErrors",
        "nvmlDeviceGetRemappedRows",
        "nvmlDeviceGetPcieReplayCounter",
        "nvmlDeviceGetCurrPcieLinkGeneration",
        "nvmlDeviceGetCurrPcieLinkWidth",
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetFieldValues",
        "nvmlEventSetCreate",
        "nvmlDeviceGetSupportedEventTypes",
        "nvmlDeviceRegisterEvents",
        "nvmlEventSetWait_v2",
        "nvmlEventSetFree",
        "nvmlDeviceGetVbiosVersion",
        "nvmlDeviceGetCudaComputeCapability",
        "nvmlDeviceGetMaxPcieLinkGeneration",
        "nvmlDeviceGetMaxPcieLinkWidth",
        "nvmlDeviceGetPcieThroughput",
        "nvmlDeviceGetRetiredPages",
        "nvmlDeviceGetEccMode",
        "nvmlDeviceGetRetiredPagesPendingStatus",
        "nvmlDeviceGetProcessUtilization",
        "nvmlDeviceGetMigMode",
        "nvmlDeviceGetMaxMigDeviceCount",
        "nvmlDeviceGetMigDeviceHandleByIndex",
        "nvmlDeviceGetGpuInstanceId",
        "nvmlDeviceGetComputeInstanceId",
        "nvmlGpmQueryDeviceSupport",
        "nvmlGpmSampleAlloc",
        "nvmlGpmSampleFree",
        "nvmlGpmSampleGet",
        "nvmlGpmMigSampleGet",
        "nvmlGpmMetricsGet",
    ];

    /// <summary>Pairs of which one is enough (a newer call and the older one it replaces): not missing while the other is there.</summary>
    public static IReadOnlyList<(NvmlExport, NvmlExport)> Alternatives { get; } =
    [
        (NvmlExport.DeviceGetMemoryInfo, NvmlExport.DeviceGetMemoryInfoV2),
        (NvmlExport.DeviceGetCurrentClocksEventReasons, NvmlExport.DeviceGetCurrentClocksThrottleReasons),
    ];
}
