using System.Runtime.InteropServices;

namespace Monitor.Agent.Gpu.Nvml;

/// <summary>
/// The NVML entry points the agent calls, bound with source-generated P/Invoke to <see cref="NvmlLibrary.ImportName"/>
/// (resolved to the library <see cref="NvmlLibrary"/> loaded). Every call returns <see cref="NvmlReturn"/>; no
/// <c>[SuppressGCTransition]</c>, because several calls block for milliseconds (reference nvml.md §1, §9).
/// </summary>
internal static unsafe partial class NvmlNative
{
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlInit_v2")]
    public static partial NvmlReturn Init();

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlShutdown")]
    public static partial NvmlReturn Shutdown();

    /// <summary>Returns a pointer to a static string; declared <c>nint</c> so the marshaller never frees it.</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlErrorString")]
    public static partial nint ErrorString(NvmlReturn result);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlSystemGetDriverVersion")]
    public static partial NvmlReturn SystemGetDriverVersion(byte* version, uint length);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetCount_v2")]
    public static partial NvmlReturn DeviceGetCount(out uint count);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")]
    public static partial NvmlReturn DeviceGetHandleByIndex(uint index, out nint device);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetName")]
    public static partial NvmlReturn DeviceGetName(nint device, byte* name, uint length);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetUUID")]
    public static partial NvmlReturn DeviceGetUuid(nint device, byte* uuid, uint length);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetSerial")]
    public static partial NvmlReturn DeviceGetSerial(nint device, byte* serial, uint length);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetPciInfo_v3")]
    public static partial NvmlReturn DeviceGetPciInfo(nint device, out NvmlPciInfo pci);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetUtilizationRates")]
    public static partial NvmlReturn DeviceGetUtilizationRates(nint device, out NvmlUtilization utilization);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetMemoryInfo")]
    public static partial NvmlReturn DeviceGetMemoryInfo(nint device, out NvmlMemory memory);

    /// <summary>R510+; set <see cref="NvmlMemoryV2.Version"/> first.</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetMemoryInfo_v2")]
    public static partial NvmlReturn DeviceGetMemoryInfoV2(nint device, ref NvmlMemoryV2 memory);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetTemperature")]
    public static partial NvmlReturn DeviceGetTemperature(nint device, int sensor, out uint celsius);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetTemperatureThreshold")]
    public static partial NvmlReturn DeviceGetTemperatureThreshold(nint device, int threshold, out uint celsius);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetPowerUsage")]
    public static partial NvmlReturn DeviceGetPowerUsage(nint device, out uint milliwatts);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetEnforcedPowerLimit")]
    public static partial NvmlReturn DeviceGetEnforcedPowerLimit(nint device, out uint milliwatts);

    /// <summary>Millijoules since the driver was loaded; Volta+.</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetTotalEnergyConsumption")]
    public static partial NvmlReturn DeviceGetTotalEnergyConsumption(nint device, out ulong millijoules);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetClockInfo")]
    public static partial NvmlReturn DeviceGetClockInfo(nint device, int clockType, out uint megahertz);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetMaxClockInfo")]
    public static partial NvmlReturn DeviceGetMaxClockInfo(nint device, int clockType, out uint megahertz);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetPerformanceState")]
    public static partial NvmlReturn DeviceGetPerformanceState(nint device, out int state);

    /// <summary>R535+; older drivers have <see cref="DeviceGetCurrentClocksThrottleReasons"/> with the same bits.</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetCurrentClocksEventReasons")]
    public static partial NvmlReturn DeviceGetCurrentClocksEventReasons(nint device, out ulong reasons);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetCurrentClocksThrottleReasons")]
    public static partial NvmlReturn DeviceGetCurrentClocksThrottleReasons(nint device, out ulong reasons);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetEncoderUtilization")]
    public static partial NvmlReturn DeviceGetEncoderUtilization(nint device, out uint percent, out uint samplingPeriodMicroseconds);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetDecoderUtilization")]
    public static partial NvmlReturn DeviceGetDecoderUtilization(nint device, out uint percent, out uint samplingPeriodMicroseconds);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetFanSpeed")]
    public static partial NvmlReturn DeviceGetFanSpeed(nint device, out uint percent);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetTotalEccErrors")]
    public static partial NvmlReturn DeviceGetTotalEccErrors(nint device, int errorType, int counterType, out ulong count);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetRemappedRows")]
    public static partial NvmlReturn DeviceGetRemappedRows(nint device, out uint correctable, out uint uncorrectable, out uint isPending, out uint failureOccurred);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetPcieReplayCounter")]
    public static partial NvmlReturn DeviceGetPcieReplayCounter(nint device, out uint count);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetCurrPcieLinkGeneration")]
    public static partial NvmlReturn DeviceGetCurrPcieLinkGeneration(nint device, out uint generation);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetCurrPcieLinkWidth")]
    public static partial NvmlReturn DeviceGetCurrPcieLinkWidth(nint device, out uint width);

    /// <summary>
    /// Entries are 24 bytes, except on R535.43–535.86 (32 bytes, no version bump): callers pass a buffer of capacity
    /// × 32 bytes pre-filled with a sentinel and derive the stride from what was written (reference nvml.md §4).
    /// </summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetComputeRunningProcesses_v3")]
    public static partial NvmlReturn DeviceGetComputeRunningProcesses(nint device, ref uint count, byte* infos);

    /// <summary>Fill <c>FieldId</c>/<c>ScopeId</c>, and pre-set <c>NvmlReturn</c> = 999 and <c>Timestamp</c> = 0 per entry.</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetFieldValues")]
    public static partial NvmlReturn DeviceGetFieldValues(nint device, int count, NvmlFieldValue* values);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlEventSetCreate")]
    public static partial NvmlReturn EventSetCreate(out nint set);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetSupportedEventTypes")]
    public static partial NvmlReturn DeviceGetSupportedEventTypes(nint device, out ulong types);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceRegisterEvents")]
    public static partial NvmlReturn DeviceRegisterEvents(nint device, ulong types, nint set);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlEventSetWait_v2")]
    public static partial NvmlReturn EventSetWait(nint set, out NvmlEventData data, uint timeoutMilliseconds);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlEventSetFree")]
    public static partial NvmlReturn EventSetFree(nint set);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetVbiosVersion")]
    public static partial NvmlReturn DeviceGetVbiosVersion(nint device, byte* version, uint length);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetCudaComputeCapability")]
    public static partial NvmlReturn DeviceGetCudaComputeCapability(nint device, out int major, out int minor);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetMaxPcieLinkGeneration")]
    public static partial NvmlReturn DeviceGetMaxPcieLinkGeneration(nint device, out uint generation);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetMaxPcieLinkWidth")]
    public static partial NvmlReturn DeviceGetMaxPcieLinkWidth(nint device, out uint width);

    /// <summary>KB/s over a 20 ms window; the call blocks about 20 ms (reference nvml.md §9). Counter 0 TX, 1 RX.</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetPcieThroughput")]
    public static partial NvmlReturn DeviceGetPcieThroughput(nint device, int counter, out uint kilobytesPerSecond);

    /// <summary>Pass <paramref name="count"/> = 0 and a null buffer to query the number of pages (cause 0 multiple single-bit, 1 double-bit).</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetRetiredPages")]
    public static partial NvmlReturn DeviceGetRetiredPages(nint device, int cause, ref uint count, ulong* addresses);

    /// <summary>Current and pending (after the next reboot) ECC mode: 0 disabled, 1 enabled.</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetEccMode")]
    public static partial NvmlReturn DeviceGetEccMode(nint device, out int current, out int pending);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetRetiredPagesPendingStatus")]
    public static partial NvmlReturn DeviceGetRetiredPagesPendingStatus(nint device, out int isPending);

    /// <summary>
    /// Samples newer than <paramref name="lastSeenTimeStamp"/> (CPU µs). A null buffer returns INSUFFICIENT_SIZE with the
    /// driver's sample-buffer size in <paramref name="count"/> (72 on the H100), which is the size to allocate.
    /// </summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetProcessUtilization")]
    public static partial NvmlReturn DeviceGetProcessUtilization(nint device, NvmlProcessUtilizationSample* samples, ref uint count, ulong lastSeenTimeStamp);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetMigMode")]
    public static partial NvmlReturn DeviceGetMigMode(nint device, out uint current, out uint pending);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetMaxMigDeviceCount")]
    public static partial NvmlReturn DeviceGetMaxMigDeviceCount(nint device, out uint count);

    /// <summary>NOT_FOUND for an empty slot.</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetMigDeviceHandleByIndex")]
    public static partial NvmlReturn DeviceGetMigDeviceHandleByIndex(nint device, uint index, out nint migDevice);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetGpuInstanceId")]
    public static partial NvmlReturn DeviceGetGpuInstanceId(nint migDevice, out uint id);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlDeviceGetComputeInstanceId")]
    public static partial NvmlReturn DeviceGetComputeInstanceId(nint migDevice, out uint id);

    /// <summary>Set <see cref="NvmlGpmSupport.Version"/> to 1 first. Hopper and newer report support.</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlGpmQueryDeviceSupport")]
    public static partial NvmlReturn GpmQueryDeviceSupport(nint device, ref NvmlGpmSupport support);

    /// <summary>An opaque sample buffer; free it with <see cref="GpmSampleFree"/>.</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlGpmSampleAlloc")]
    public static partial NvmlReturn GpmSampleAlloc(out nint sample);

    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlGpmSampleFree")]
    public static partial NvmlReturn GpmSampleFree(nint sample);

    /// <summary>Takes a sample now (230–610 µs on an H100).</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlGpmSampleGet")]
    public static partial NvmlReturn GpmSampleGet(nint device, nint sample);

    /// <summary>Takes a sample of one MIG GPU instance of <paramref name="device"/> (the parent GPU).</summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlGpmMigSampleGet")]
    public static partial NvmlReturn GpmMigSampleGet(nint device, uint gpuInstanceId, nint sample);

    /// <summary>
    /// Derives the requested metrics between two samples (about 1.4 ms for 10 metrics). <paramref name="metrics"/>
    /// points to a buffer of at least <see cref="NvmlGpm.MetricsGetSize"/> bytes laid out as nvmlGpmMetricsGet_t.
    /// </summary>
    [LibraryImport(NvmlLibrary.ImportName, EntryPoint = "nvmlGpmMetricsGet")]
    public static partial NvmlReturn GpmMetricsGet(byte* metrics);
}
