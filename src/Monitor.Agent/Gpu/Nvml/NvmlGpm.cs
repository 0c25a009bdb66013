namespace Monitor.Agent.Gpu.Nvml;

/// <summary>GPM (GPU Performance Monitoring, Hopper and newer) constants from the NVML 13.3 header (reference nvml.md, GPM addendum).</summary>
internal static class NvmlGpm
{
    /// <summary>NVML_GPM_METRIC_MAX in the 13.3 header: the array length of nvmlGpmMetricsGet_t.</summary>
    public const int MetricMax = 333;

    /// <summary>Offset of the metric array in nvmlGpmMetricsGet_t.</summary>
    public const int MetricsOffset = 24;

    /// <summary>sizeof(nvmlGpmMetricsGet_t) in 13.3: 24 + 333 × 40 = 13,344 bytes. Allocated in full even for a few metrics,
    /// because a driver may validate the buffer against its own maximum.</summary>
    public const int MetricsGetSize = MetricsOffset + (MetricMax * 40);

    /// <summary>NVML_GPM_METRIC_GRAPHICS_UTIL, %.</summary>
    public const uint GraphicsUtil = 1;

    /// <summary>NVML_GPM_METRIC_SM_UTIL, %.</summary>
    public const uint SmUtil = 2;

    /// <summary>NVML_GPM_METRIC_SM_OCCUPANCY, %.</summary>
    public const uint SmOccupancy = 3;

    /// <summary>NVML_GPM_METRIC_INTEGER_UTIL, %.</summary>
    public const uint IntegerUtil = 4;

    /// <summary>NVML_GPM_METRIC_ANY_TENSOR_UTIL, %.</summary>
    public const uint AnyTensorUtil = 5;

    /// <summary>NVML_GPM_METRIC_DRAM_BW_UTIL, %.</summary>
    public const uint DramBandwidthUtil = 10;

    /// <summary>NVML_GPM_METRIC_FP64_UTIL, %.</summary>
    public const uint Fp64Util = 11;

    /// <summary>NVML_GPM_METRIC_FP32_UTIL, %.</summary>
    public const uint Fp32Util = 12;

    /// <summary>NVML_GPM_METRIC_FP16_UTIL, %.</summary>
    public const uint Fp16Util = 13;

    /// <summary>NVML_GPM_METRIC_PCIE_TX_PER_SEC, MiB/s.</summary>
    public const uint PcieTransmit = 20;

    /// <summary>NVML_GPM_METRIC_PCIE_RX_PER_SEC, MiB/s.</summary>
    public const uint PcieReceive = 21;

    /// <summary>NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC, MiB/s.</summary>
    public const uint NvLinkReceive = 60;

    /// <summary>NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC, MiB/s.</summary>
    public const uint NvLinkTransmit = 61;
}
