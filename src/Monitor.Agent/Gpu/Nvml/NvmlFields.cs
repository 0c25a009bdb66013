namespace Monitor.Agent.Gpu.Nvml;

/// <summary>The <c>NVML_FI_*</c> field ids the agent reads through <c>nvmlDeviceGetFieldValues</c> (reference nvml.md §7).</summary>
internal static class NvmlFields
{
    /// <summary>NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL.</summary>
    public const uint NvLinkCrcFlitErrors = 38;

    /// <summary>NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL.</summary>
    public const uint NvLinkCrcDataErrors = 45;

    /// <summary>NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL.</summary>
    public const uint NvLinkReplayErrors = 52;

    /// <summary>NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL.</summary>
    public const uint NvLinkRecoveryErrors = 59;

    /// <summary>NVML_FI_DEV_MEMORY_TEMP, °C.</summary>
    public const uint MemoryTemperature = 82;

    /// <summary>NVML_FI_DEV_NVLINK_LINK_COUNT.</summary>
    public const uint NvLinkCount = 91;

    /// <summary>NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, cumulative KiB; scope UINT_MAX sums all links.</summary>
    public const uint NvLinkTransmitKib = 138;

    /// <summary>NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, cumulative KiB; scope UINT_MAX sums all links.</summary>
    public const uint NvLinkReceiveKib = 139;

    /// <summary>NVML_FI_DEV_NVLINK_GET_STATE, per link (scope = link): 1 active.</summary>
    public const uint NvLinkState = 165;

    /// <summary>NVML_FI_DEV_GET_GPU_RECOVERY_ACTION: 0 none, 1 GPU reset, 2 node reboot, 3 drain P2P, 4 drain and reset.</summary>
    public const uint RecoveryAction = 230;

    /// <summary>Scope that sums all NVLink links for the throughput fields.</summary>
    public const uint AllLinks = uint.MaxValue;
}
