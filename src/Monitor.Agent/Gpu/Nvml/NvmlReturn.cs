namespace Monitor.Agent.Gpu.Nvml;

/// <summary><c>nvmlReturn_t</c> (NVML 13.3 header; reference nvml.md §2).</summary>
internal enum NvmlReturn
{
    /// <summary>The call succeeded.</summary>
    Success = 0,

    /// <summary>NVML was not initialized (or was shut down).</summary>
    Uninitialized = 1,

    /// <summary>A parameter is invalid (e.g. an index past the count, an unknown field id).</summary>
    InvalidArgument = 2,

    /// <summary>The device does not support the query; remembered per device and call, never asked again.</summary>
    NotSupported = 3,

    /// <summary>The caller may not perform the query.</summary>
    NoPermission = 4,

    /// <summary>Deprecated.</summary>
    AlreadyInitialized = 5,

    /// <summary>The object was not found (e.g. an accounting pid, an empty MIG slot).</summary>
    NotFound = 6,

    /// <summary>The buffer is too small; the count was set to the size needed.</summary>
    InsufficientSize = 7,

    /// <summary>External power cables are not attached.</summary>
    InsufficientPower = 8,

    /// <summary>The NVIDIA kernel driver is not loaded.</summary>
    DriverNotLoaded = 9,

    /// <summary>The call timed out (event wait).</summary>
    Timeout = 10,

    /// <summary>An interrupt problem in the kernel driver.</summary>
    IrqIssue = 11,

    /// <summary>NVML could not be found or loaded.</summary>
    LibraryNotFound = 12,

    /// <summary>The function is not in this library (or a struct version mismatch on 580).</summary>
    FunctionNotFound = 13,

    /// <summary>The infoROM is corrupted.</summary>
    CorruptedInforom = 14,

    /// <summary>The GPU has fallen off the bus or is otherwise inaccessible.</summary>
    GpuIsLost = 15,

    /// <summary>The GPU needs a reset.</summary>
    ResetRequired = 16,

    /// <summary>The operating system blocked the call (e.g. cgroups).</summary>
    OperatingSystem = 17,

    /// <summary>The driver and library versions differ (a driver update without reload).</summary>
    LibRmVersionMismatch = 18,

    /// <summary>The GPU is in use.</summary>
    InUse = 19,

    /// <summary>Out of memory.</summary>
    Memory = 20,

    /// <summary>No data.</summary>
    NoData = 21,

    /// <summary>vGPU ECC is not supported.</summary>
    VgpuEccNotSupported = 22,

    /// <summary>Not enough resources.</summary>
    InsufficientResources = 23,

    /// <summary>The frequency is not supported.</summary>
    FreqNotSupported = 24,

    /// <summary>The struct version is wrong.</summary>
    ArgumentVersionMismatch = 25,

    /// <summary>The function is deprecated.</summary>
    Deprecated = 26,

    /// <summary>Not ready.</summary>
    NotReady = 27,

    /// <summary>The GPU was not found.</summary>
    GpuNotFound = 28,

    /// <summary>Invalid state.</summary>
    InvalidState = 29,

    /// <summary>The reset type is not supported.</summary>
    ResetTypeNotSupported = 30,

    /// <summary>Anything else; also our sentinel for field values NVML left unwritten.</summary>
    Unknown = 999,
}
