using Monitor.Agent.Gpu.Nvml;

namespace Monitor.Agent.Gpu;

/// <summary>When a GPU value is read.</summary>
internal enum GpuCadence
{
    /// <summary>Every tick (1 s), by its own NVML call.</summary>
    Tick,

    /// <summary>At <c>--collector.gpu.slow-interval</c> (static or expensive values), kept between reads.</summary>
    Slow,

    /// <summary>Every tick, from the one <c>nvmlDeviceGetFieldValues</c> batch.</summary>
    Field,

    /// <summary>At <c>--collector.gpu.gpm-interval</c>, derived between two GPM samples (Hopper and newer).</summary>
    Gpm,

    /// <summary>Computed by the sampler from other values (integrals over time).</summary>
    Derived,
}

/// <summary>
/// Reads one NVML call for a device and writes the value(s) it yields into <paramref name="values"/> (indexed by
/// <see cref="GpuValue"/>) in base units; returns the call's result. Nothing is written unless it succeeded.
/// </summary>
internal delegate NvmlReturn GpuRead(INvml nvml, nint device, double[] values);

/// <summary>A field of the <c>nvmlDeviceGetFieldValues</c> batch: its id, scope, and the factor to base units.</summary>
/// <param name="NvLink">Asked only on GPUs with NVLink links.</param>
internal sealed record GpuField(uint Id, uint Scope, double Scale, bool NvLink);

/// <summary>
/// One GPU value, everything about it in one row: how NVML gives it and how it becomes a base unit, when it is read,
/// the native series it is written to, and dcgm-exporter's name and unit for it (<c>--compat.dcgm</c>).
/// </summary>
/// <param name="Value">The slot in <see cref="GpuSample.Values"/>.</param>
/// <param name="Cadence">When it is read.</param>
/// <param name="Source">The NVML call and conversion, as docs/metrics.md gives them.</param>
/// <param name="Read">
/// The read, on the row of the call's first value; its other values (siblings) have none. Null too for fields
/// (<see cref="Field"/>), GPM metrics (<see cref="GpmId"/>) and derived values.
/// </param>
/// <param name="Name">The native family. Members of a labelled family share it; the first member carries the HELP.</param>
/// <param name="Help">The family's HELP (empty on later members).</param>
/// <param name="Counter">Typed counter (else gauge).</param>
/// <param name="Labels">Label names and values beyond <c>gpu</c> and <c>uuid</c>, as name=value pairs.</param>
internal sealed record GpuMetric(GpuValue Value, GpuCadence Cadence, string Source, GpuRead? Read, string Name, string Help, bool Counter = false, params string[] Labels)
{
    /// <summary>Read only with <c>--collector.gpu.pcie-throughput</c>.</summary>
    public bool OptIn { get; init; }

    /// <summary>For <see cref="GpuCadence.Field"/> values: the field.</summary>
    public GpuField? Field { get; init; }

    /// <summary>For <see cref="GpuCadence.Gpm"/> values: the NVML_GPM_METRIC id and the factor from NVML's unit (% or MiB/s).</summary>
    public (uint Id, double Scale)? GpmId { get; init; }

    /// <summary>The dcgm-exporter series (<c>--compat.dcgm</c>), or null when dcgm-exporter's default set has none.</summary>
    public string? Dcgm { get; init; }

    /// <summary>dcgm-exporter's HELP, with its unit.</summary>
    public string DcgmHelp { get; init; } = string.Empty;

    /// <summary>dcgm-exporter's value is ours × <see cref="DcgmMultiply"/> ÷ <see cref="DcgmDivide"/>.</summary>
    public double DcgmMultiply { get; init; } = 1;

    /// <summary>See <see cref="DcgmMultiply"/>; a divisor keeps MHz exact from Hz (1e-6 has no exact double).</summary>
    public double DcgmDivide { get; init; } = 1;

    /// <summary>
    /// For a bit mask: the label value of each bit, lowest first. The family gets one series per bit, with the
    /// row's one label (written <c>name=*</c>) set to the bit's name and the value 1 or 0.
    /// </summary>
    public string[]? Bits { get; init; }

    /// <summary>A value dcgm-exporter's series takes first when present (PCIe: GPM's rates before NVML's 20 ms window).</summary>
    public GpuValue? DcgmPrefer { get; init; }

    /// <summary>The label names beyond gpu and uuid.</summary>
    public string[] LabelNames { get; } = [.. Labels.Select(l => l[..l.IndexOf('=', StringComparison.Ordinal)])];

    /// <summary>The label values beyond gpu and uuid.</summary>
    public string[] LabelValues { get; } = [.. Labels.Select(l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..])];
}

/// <summary>
/// Every GPU value the agent reads, one row each (<see cref="GpuMetric"/>): adding a metric is one row here (and, for
/// a new NVML call, its binding in <see cref="INvml"/>). The sampler reads from the table, the gpu collector writes
/// the native series from it, <c>--compat.dcgm</c> its dcgm-exporter series, and a test holds docs/metrics.md to it.
/// Rows are in the order the sampler reads them.
/// </summary>
/// <remarks>
/// Not in the table, because they are not one value per GPU: identity (<c>gpu_info</c>), health (<c>gpu_up</c>,
/// <c>gpu_sampling_stalled</c>), per-process, per-MIG-device and per-NVLink-link series, XIDs, and the energy read
/// itself (<see cref="EnergyCounter"/> anchors <see cref="GpuValue.Energy"/> on it).
/// </remarks>
internal static class GpuCatalog
{
    private const double MiB = 1024 * 1024;

    /// <summary>NVML clock types in enum order (GRAPHICS=0, SM=1, MEM=2, VIDEO=3) and their label values.</summary>
    public static readonly string[] ClockNames = ["graphics", "sm", "memory", "video"];

    /// <summary>Clock event (throttle) reason bits 0x1…0x100 and their label values (reference nvml.md §6).</summary>
    public static readonly string[] ReasonNames =
        ["gpu_idle", "applications_clocks_setting", "sw_power_cap", "hw_slowdown", "sync_boost", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "display_clock_setting"];

    /// <summary>The table.</summary>
    public static readonly GpuMetric[] Metrics =
    [
        // Every tick, one call each (reference nvml.md §10 for their costs).
        new(GpuValue.Utilization, GpuCadence.Tick, "nvmlDeviceGetUtilizationRates .gpu % ÷ 100", Utilization,
            "gpu_utilization_ratio", "Fraction of the last sample period the GPU was busy (NVML utilization.gpu / 100).")
            { Dcgm = "DCGM_FI_DEV_GPU_UTIL", DcgmHelp = "GPU utilization (in %).", DcgmMultiply = 100 },
        new(GpuValue.MemoryUtilization, GpuCadence.Tick, "nvmlDeviceGetUtilizationRates .memory % ÷ 100", null,
            "gpu_memory_utilization_ratio", "Fraction of the last sample period the memory controller was busy.")
            { Dcgm = "DCGM_FI_DEV_MEM_COPY_UTIL", DcgmHelp = "Memory utilization (in %).", DcgmMultiply = 100 },
        new(GpuValue.MemoryTotal, GpuCadence.Tick, "nvmlDeviceGetMemoryInfo_v2 .total, bytes (v1 on old drivers)", Memory,
            "gpu_memory_total_bytes", "Total GPU memory."),
        new(GpuValue.MemoryUsed, GpuCadence.Tick, "nvmlDeviceGetMemoryInfo_v2 .used, bytes", null,
            "gpu_memory_used_bytes", "GPU memory used by processes (NVML memory v2 used, as nvidia-smi reports).")
            { Dcgm = "DCGM_FI_DEV_FB_USED", DcgmHelp = "Frame buffer memory used (in MB).", DcgmDivide = MiB },
        new(GpuValue.MemoryFree, GpuCadence.Tick, "nvmlDeviceGetMemoryInfo_v2 .free, bytes", null,
            "gpu_memory_free_bytes", "Free GPU memory.")
            { Dcgm = "DCGM_FI_DEV_FB_FREE", DcgmHelp = "Frame buffer memory free (in MB).", DcgmDivide = MiB },
        new(GpuValue.MemoryReserved, GpuCadence.Tick, "nvmlDeviceGetMemoryInfo_v2 .reserved, bytes (R510+)", null,
            "gpu_memory_reserved_bytes", "GPU memory reserved by the driver.")
            { Dcgm = "DCGM_FI_DEV_FB_RESERVED", DcgmHelp = "Frame buffer memory reserved (in MB).", DcgmDivide = MiB },
        new(GpuValue.Temperature, GpuCadence.Tick, "nvmlDeviceGetTemperature(GPU), °C", Temperature,
            "gpu_temperature_celsius", "GPU temperature.")
            { Dcgm = "DCGM_FI_DEV_GPU_TEMP", DcgmHelp = "GPU temperature (in C)." },
        new(GpuValue.Power, GpuCadence.Tick, "nvmlDeviceGetPowerUsage, mW ÷ 1000", Power,
            "gpu_power_watts", "Power draw (NVML power usage; a 1 s average on Ampere and later, except GA100).")
            { Dcgm = "DCGM_FI_DEV_POWER_USAGE", DcgmHelp = "Power draw (in W)." },
        new(GpuValue.PowerLimit, GpuCadence.Tick, "nvmlDeviceGetEnforcedPowerLimit, mW ÷ 1000", PowerLimit,
            "gpu_power_limit_watts", "Enforced power limit."),
        new(GpuValue.Clock, GpuCadence.Tick, "nvmlDeviceGetClockInfo(GRAPHICS), MHz × 1e6", ClockOf(0),
            "gpu_clock_hertz", "Current clock frequency.", false, "clock=graphics"),
        new(GpuValue.Clock + 1, GpuCadence.Tick, "nvmlDeviceGetClockInfo(SM), MHz × 1e6", ClockOf(1),
            "gpu_clock_hertz", string.Empty, false, "clock=sm")
            { Dcgm = "DCGM_FI_DEV_SM_CLOCK", DcgmHelp = "SM clock frequency (in MHz).", DcgmDivide = 1e6 },
        new(GpuValue.Clock + 2, GpuCadence.Tick, "nvmlDeviceGetClockInfo(MEM), MHz × 1e6", ClockOf(2),
            "gpu_clock_hertz", string.Empty, false, "clock=memory")
            { Dcgm = "DCGM_FI_DEV_MEM_CLOCK", DcgmHelp = "Memory clock frequency (in MHz).", DcgmDivide = 1e6 },
        new(GpuValue.Clock + 3, GpuCadence.Tick, "nvmlDeviceGetClockInfo(VIDEO), MHz × 1e6", ClockOf(3),
            "gpu_clock_hertz", string.Empty, false, "clock=video"),
        new(GpuValue.PerformanceState, GpuCadence.Tick, "nvmlDeviceGetPerformanceState, 0–15 (others dropped)", PerformanceState,
            "gpu_performance_state", "Performance state: 0 (maximum) to 15 (minimum)."),
        new(GpuValue.ClockEventReasons, GpuCadence.Tick, "nvmlDeviceGetCurrentClocksEventReasons, bit mask; one series per bit (ReasonNames)", ClockEventReasons,
            "gpu_clock_event_reason", "Whether the reason currently holds the clocks down (1) or not (0); sw_power_cap at the power limit is normal under load.", false, "reason=*")
            { Bits = ReasonNames },
        new(GpuValue.Ecc, GpuCadence.Tick, "nvmlDeviceGetTotalEccErrors(CORRECTED, VOLATILE)", EccOf(0),
            "gpu_ecc_errors_total", "ECC errors; counter=volatile resets when the driver loads, counter=aggregate is the board's lifetime count.", true, "error=corrected", "counter=volatile"),
        new(GpuValue.Ecc + 1, GpuCadence.Tick, "nvmlDeviceGetTotalEccErrors(CORRECTED, AGGREGATE)", EccOf(1),
            "gpu_ecc_errors_total", string.Empty, true, "error=corrected", "counter=aggregate"),
        new(GpuValue.Ecc + 2, GpuCadence.Tick, "nvmlDeviceGetTotalEccErrors(UNCORRECTED, VOLATILE)", EccOf(2),
            "gpu_ecc_errors_total", string.Empty, true, "error=uncorrected", "counter=volatile"),
        new(GpuValue.Ecc + 3, GpuCadence.Tick, "nvmlDeviceGetTotalEccErrors(UNCORRECTED, AGGREGATE)", EccOf(3),
            "gpu_ecc_errors_total", string.Empty, true, "error=uncorrected", "counter=aggregate"),
        new(GpuValue.RemappedCorrectable, GpuCadence.Tick, "nvmlDeviceGetRemappedRows .corrRows", RemappedRows,
            "gpu_remapped_rows", "Memory rows remapped, by the error that caused it.", false, "error=correctable")
            { Dcgm = "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", DcgmHelp = "Number of remapped rows for correctable errors" },
        new(GpuValue.RemappedUncorrectable, GpuCadence.Tick, "nvmlDeviceGetRemappedRows .uncRows", null,
            "gpu_remapped_rows", string.Empty, false, "error=uncorrectable")
            { Dcgm = "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", DcgmHelp = "Number of remapped rows for uncorrectable errors" },
        new(GpuValue.RemapPending, GpuCadence.Tick, "nvmlDeviceGetRemappedRows .isPending ≠ 0", null,
            "gpu_remapped_rows_pending", "Whether a row remap waits for the next GPU reset (1) or not (0)."),
        new(GpuValue.RemapFailure, GpuCadence.Tick, "nvmlDeviceGetRemappedRows .failureOccurred ≠ 0", null,
            "gpu_remapped_rows_failure", "Whether a row remap has failed (1): NVIDIA's RMA criterion.")
            { Dcgm = "DCGM_FI_DEV_ROW_REMAP_FAILURE", DcgmHelp = "Whether remapping of rows has failed" },
        new(GpuValue.Encoder, GpuCadence.Tick, "nvmlDeviceGetEncoderUtilization, % ÷ 100", Codec(decoder: false),
            "gpu_encoder_utilization_ratio", "Fraction of the sample period the video encoder was busy.")
            { Dcgm = "DCGM_FI_DEV_ENC_UTIL", DcgmHelp = "Encoder utilization (in %).", DcgmMultiply = 100 },
        new(GpuValue.Decoder, GpuCadence.Tick, "nvmlDeviceGetDecoderUtilization, % ÷ 100", Codec(decoder: true),
            "gpu_decoder_utilization_ratio", "Fraction of the sample period the video decoder was busy.")
            { Dcgm = "DCGM_FI_DEV_DEC_UTIL", DcgmHelp = "Decoder utilization (in %).", DcgmMultiply = 100 },
        new(GpuValue.Fan, GpuCadence.Tick, "nvmlDeviceGetFanSpeed, % ÷ 100", Fan,
            "gpu_fan_speed_ratio", "Fan speed as a fraction of its maximum (can exceed 1); absent on boards without fans."),

        // At the slow cadence: static, or expensive (max clocks 1.4 ms each, PCIe link 135 µs, energy 4 ms, PCIe throughput 20 ms each).
        new(GpuValue.MaxClock, GpuCadence.Slow, "nvmlDeviceGetMaxClockInfo(GRAPHICS), MHz × 1e6", MaxClockOf(0),
            "gpu_clock_max_hertz", "Maximum clock frequency.", false, "clock=graphics"),
        new(GpuValue.MaxClock + 1, GpuCadence.Slow, "nvmlDeviceGetMaxClockInfo(SM), MHz × 1e6", MaxClockOf(1),
            "gpu_clock_max_hertz", string.Empty, false, "clock=sm"),
        new(GpuValue.MaxClock + 2, GpuCadence.Slow, "nvmlDeviceGetMaxClockInfo(MEM), MHz × 1e6", MaxClockOf(2),
            "gpu_clock_max_hertz", string.Empty, false, "clock=memory"),
        new(GpuValue.MaxClock + 3, GpuCadence.Slow, "nvmlDeviceGetMaxClockInfo(VIDEO), MHz × 1e6", MaxClockOf(3),
            "gpu_clock_max_hertz", string.Empty, false, "clock=video"),
        new(GpuValue.SlowdownThreshold, GpuCadence.Slow, "nvmlDeviceGetTemperatureThreshold(SLOWDOWN), °C", Threshold(1, GpuValue.SlowdownThreshold),
            "gpu_temperature_slowdown_threshold_celsius", "Temperature at which the GPU starts to slow down."),
        new(GpuValue.ShutdownThreshold, GpuCadence.Slow, "nvmlDeviceGetTemperatureThreshold(SHUTDOWN), °C", Threshold(0, GpuValue.ShutdownThreshold),
            "gpu_temperature_shutdown_threshold_celsius", "Temperature at which the GPU shuts down."),
        new(GpuValue.RetiredPages, GpuCadence.Slow, "nvmlDeviceGetRetiredPages(MULTIPLE_SINGLE_BIT_ECC) count", RetiredPagesOf(0),
            "gpu_retired_pages", "Memory pages retired, by cause (pre-Ampere ECC GPUs; Ampere and later remap rows instead).", false, "cause=multiple_single_bit_ecc"),
        new(GpuValue.RetiredPages + 1, GpuCadence.Slow, "nvmlDeviceGetRetiredPages(DOUBLE_BIT_ECC) count", RetiredPagesOf(1),
            "gpu_retired_pages", string.Empty, false, "cause=double_bit_ecc"),
        new(GpuValue.EccMode, GpuCadence.Slow, "nvmlDeviceGetEccMode current, 1 enabled", EccMode,
            "gpu_ecc_mode_enabled", "Whether ECC is enabled (1) or not (0)."),
        new(GpuValue.EccMode + 1, GpuCadence.Slow, "nvmlDeviceGetEccMode pending, 1 enabled", null,
            "gpu_ecc_mode_pending_enabled", "Whether ECC will be enabled (1) or not (0) after the next reboot."),
        new(GpuValue.RetiredPagesPending, GpuCadence.Slow, "nvmlDeviceGetRetiredPagesPendingStatus, 1 pending", RetiredPagesPending,
            "gpu_retired_pages_pending", "Whether a page retirement waits for the next GPU reset (1) or not (0); pre-Ampere ECC GPUs."),
        new(GpuValue.PcieGeneration, GpuCadence.Slow, "nvmlDeviceGetCurrPcieLinkGeneration", PcieLink,
            "gpu_pcie_link_generation", "Current PCIe link generation."),
        new(GpuValue.PcieWidth, GpuCadence.Slow, "nvmlDeviceGetCurrPcieLinkWidth", null,
            "gpu_pcie_link_width", "Current PCIe link width (lanes)."),
        new(GpuValue.PcieMaxGeneration, GpuCadence.Slow, "nvmlDeviceGetGpuMaxPcieLinkGeneration", MaxPcieLink,
            "gpu_pcie_link_max_generation", "Maximum PCIe link generation of the GPU and system."),
        new(GpuValue.PcieMaxWidth, GpuCadence.Slow, "nvmlDeviceGetMaxPcieLinkWidth", null,
            "gpu_pcie_link_max_width", "Maximum PCIe link width (lanes)."),
        new(GpuValue.PcieReplays, GpuCadence.Slow, "nvmlDeviceGetPcieReplayCounter", PcieReplays,
            "gpu_pcie_replay_errors_total", "PCIe replay events.", true)
            { Dcgm = "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", DcgmHelp = "Total number of PCIe retries." },
        new(GpuValue.PcieTransmit, GpuCadence.Slow, "nvmlDeviceGetPcieThroughput(TX), KB/s × 1000 (opt-in)", PcieThroughput(0, GpuValue.PcieTransmit),
            "gpu_pcie_throughput_bytes_per_second", "PCIe throughput over a 20 ms window at the slow cadence (--collector.gpu.pcie-throughput).", false, "direction=tx")
            {
                OptIn = true, Dcgm = "DCGM_FI_PROF_PCIE_TX_BYTES", DcgmPrefer = GpuValue.Gpm + 9,
                DcgmHelp = "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
            },
        new(GpuValue.PcieReceive, GpuCadence.Slow, "nvmlDeviceGetPcieThroughput(RX), KB/s × 1000 (opt-in)", PcieThroughput(1, GpuValue.PcieReceive),
            "gpu_pcie_throughput_bytes_per_second", string.Empty, false, "direction=rx")
            {
                OptIn = true, Dcgm = "DCGM_FI_PROF_PCIE_RX_BYTES", DcgmPrefer = GpuValue.Gpm + 10,
                DcgmHelp = "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
            },
        new(GpuValue.MigMode, GpuCadence.Slow, "nvmlDeviceGetMigMode current", MigMode,
            "gpu_mig_mode", "Whether MIG mode is enabled (1) or not (0)."),
        new(GpuValue.Energy, GpuCadence.Slow, "nvmlDeviceGetTotalEnergyConsumption, mJ ÷ 1000 at the slow cadence, advanced each tick by the power integral (EnergyCounter)", null,
            "gpu_energy_joules_total", "Energy consumed since the driver was loaded: NVML's counter, read at the slow cadence, advanced by the power integral in between.", true)
            { Dcgm = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", DcgmHelp = "Total energy consumption since boot (in mJ).", DcgmMultiply = 1000 },
        new(GpuValue.NvLinkCount, GpuCadence.Slow, "field 91 NVLINK_LINK_COUNT (sizes the field batch)", null,
            "gpu_nvlink_links", "NVLink links on the GPU."),

        // Every tick, one nvmlDeviceGetFieldValues batch.
        new(GpuValue.MemoryTemperature, GpuCadence.Field, "field 82 MEMORY_TEMP, °C", null,
            "gpu_memory_temperature_celsius", "GPU memory (HBM) temperature.")
            { Field = new(NvmlFields.MemoryTemperature, 0, 1, false), Dcgm = "DCGM_FI_DEV_MEMORY_TEMP", DcgmHelp = "Memory temperature (in C)." },
        new(GpuValue.RecoveryAction, GpuCadence.Field, "field 230 GET_GPU_RECOVERY_ACTION", null,
            "gpu_recovery_action", "The driver's recommended recovery action (NVML field 230): 0 none, 1 GPU reset, 2 node reboot, 3 drain peer-to-peer, 4 drain and reset.")
            { Field = new(NvmlFields.RecoveryAction, 0, 1, false) },
        new(GpuValue.NvLinkTransmit, GpuCadence.Field, "field 138 NVLINK_THROUGHPUT_DATA_TX (all links), KiB × 1024", null,
            "gpu_nvlink_transmit_bytes_total", "Data transmitted over all NVLink links.", true)
            { Field = new(NvmlFields.NvLinkTransmitKib, NvmlFields.AllLinks, 1024, true) },
        new(GpuValue.NvLinkReceive, GpuCadence.Field, "field 139 NVLINK_THROUGHPUT_DATA_RX (all links), KiB × 1024", null,
            "gpu_nvlink_receive_bytes_total", "Data received over all NVLink links.", true)
            { Field = new(NvmlFields.NvLinkReceiveKib, NvmlFields.AllLinks, 1024, true) },
        new(GpuValue.NvLinkErrors, GpuCadence.Field, "field 38 NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", null,
            "gpu_nvlink_errors_total", "NVLink errors summed over links, by kind.", true, "error=crc_flit")
            { Field = new(NvmlFields.NvLinkCrcFlitErrors, 0, 1, true) },
        new(GpuValue.NvLinkErrors + 1, GpuCadence.Field, "field 45 NVLINK_CRC_DATA_ERROR_COUNT_TOTAL", null,
            "gpu_nvlink_errors_total", string.Empty, true, "error=crc_data")
            { Field = new(NvmlFields.NvLinkCrcDataErrors, 0, 1, true) },
        new(GpuValue.NvLinkErrors + 2, GpuCadence.Field, "field 52 NVLINK_REPLAY_ERROR_COUNT_TOTAL", null,
            "gpu_nvlink_errors_total", string.Empty, true, "error=replay")
            { Field = new(NvmlFields.NvLinkReplayErrors, 0, 1, true) },
        new(GpuValue.NvLinkErrors + 3, GpuCadence.Field, "field 59 NVLINK_RECOVERY_ERROR_COUNT_TOTAL", null,
            "gpu_nvlink_errors_total", string.Empty, true, "error=recovery")
            { Field = new(NvmlFields.NvLinkRecoveryErrors, 0, 1, true) },

        // GPM (Hopper+): one sample per interval, metrics derived between the last two; MIG GPUs per GPU instance (gpu_mig_*).
        new(GpuValue.Gpm, GpuCadence.Gpm, "GPM GRAPHICS_UTIL, % ÷ 100", null,
            "gpu_graphics_engine_active_ratio", "Fraction of the GPM interval the graphics/compute engine was active (GPM GRAPHICS_UTIL).")
            { GpmId = (NvmlGpm.GraphicsUtil, 0.01), Dcgm = "DCGM_FI_PROF_GR_ENGINE_ACTIVE", DcgmHelp = "Ratio of time the graphics engine is active." },
        new(GpuValue.Gpm + 1, GpuCadence.Gpm, "GPM SM_UTIL, % ÷ 100", null,
            "gpu_sm_active_ratio", "Fraction of the GPM interval the SMs were active (GPM SM_UTIL).")
            { GpmId = (NvmlGpm.SmUtil, 0.01), Dcgm = "DCGM_FI_PROF_SM_ACTIVE", DcgmHelp = "The ratio of cycles an SM has at least 1 warp assigned." },
        new(GpuValue.Gpm + 2, GpuCadence.Gpm, "GPM SM_OCCUPANCY, % ÷ 100", null,
            "gpu_sm_occupancy_ratio", "Resident warps relative to the SMs' maximum over the GPM interval (GPM SM_OCCUPANCY).")
            { GpmId = (NvmlGpm.SmOccupancy, 0.01), Dcgm = "DCGM_FI_PROF_SM_OCCUPANCY", DcgmHelp = "The ratio of number of warps resident on an SM." },
        new(GpuValue.Gpm + 3, GpuCadence.Gpm, "GPM ANY_TENSOR_UTIL, % ÷ 100", null,
            "gpu_tensor_active_ratio", "Fraction of the GPM interval any tensor pipe was active (GPM ANY_TENSOR_UTIL).")
            { GpmId = (NvmlGpm.AnyTensorUtil, 0.01), Dcgm = "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", DcgmHelp = "Ratio of cycles the tensor (HMMA) pipe is active." },
        new(GpuValue.Gpm + 4, GpuCadence.Gpm, "GPM DRAM_BW_UTIL, % ÷ 100", null,
            "gpu_dram_active_ratio", "Fraction of the GPM interval the memory interface was busy (GPM DRAM_BW_UTIL).")
            { GpmId = (NvmlGpm.DramBandwidthUtil, 0.01), Dcgm = "DCGM_FI_PROF_DRAM_ACTIVE", DcgmHelp = "Ratio of cycles the device memory interface is active sending or receiving data." },
        new(GpuValue.Gpm + 5, GpuCadence.Gpm, "GPM FP64_UTIL, % ÷ 100", null,
            "gpu_pipe_active_ratio", "Fraction of the GPM interval the pipe was active (GPM FP64/FP32/FP16/INTEGER_UTIL).", false, "pipe=fp64")
            { GpmId = (NvmlGpm.Fp64Util, 0.01), Dcgm = "DCGM_FI_PROF_PIPE_FP64_ACTIVE", DcgmHelp = "Ratio of cycles the fp64 pipes are active." },
        new(GpuValue.Gpm + 6, GpuCadence.Gpm, "GPM FP32_UTIL, % ÷ 100", null,
            "gpu_pipe_active_ratio", string.Empty, false, "pipe=fp32")
            { GpmId = (NvmlGpm.Fp32Util, 0.01), Dcgm = "DCGM_FI_PROF_PIPE_FP32_ACTIVE", DcgmHelp = "Ratio of cycles the fp32 pipes are active." },
        new(GpuValue.Gpm + 7, GpuCadence.Gpm, "GPM FP16_UTIL, % ÷ 100", null,
            "gpu_pipe_active_ratio", string.Empty, false, "pipe=fp16")
            { GpmId = (NvmlGpm.Fp16Util, 0.01), Dcgm = "DCGM_FI_PROF_PIPE_FP16_ACTIVE", DcgmHelp = "Ratio of cycles the fp16 pipes are active." },
        new(GpuValue.Gpm + 8, GpuCadence.Gpm, "GPM INTEGER_UTIL, % ÷ 100", null,
            "gpu_pipe_active_ratio", string.Empty, false, "pipe=int")
            { GpmId = (NvmlGpm.IntegerUtil, 0.01) },
        new(GpuValue.Gpm + 9, GpuCadence.Gpm, "GPM PCIE_TX_PER_SEC, MiB/s × 2^20", null,
            "gpu_pcie_gpm_bytes_per_second", "PCIe rate over the GPM interval (GPM PCIE_TX/RX_PER_SEC).", false, "direction=tx")
            { GpmId = (NvmlGpm.PcieTransmit, MiB) },
        new(GpuValue.Gpm + 10, GpuCadence.Gpm, "GPM PCIE_RX_PER_SEC, MiB/s × 2^20", null,
            "gpu_pcie_gpm_bytes_per_second", string.Empty, false, "direction=rx")
            { GpmId = (NvmlGpm.PcieReceive, MiB) },
        new(GpuValue.Gpm + 11, GpuCadence.Gpm, "GPM NVLINK_TOTAL_TX_PER_SEC, MiB/s × 2^20", null,
            "gpu_nvlink_gpm_bytes_per_second", "NVLink rate over all links over the GPM interval (GPM NVLINK_TOTAL_TX/RX_PER_SEC).", false, "direction=tx")
            { GpmId = (NvmlGpm.NvLinkTransmit, MiB) },
        new(GpuValue.Gpm + 12, GpuCadence.Gpm, "GPM NVLINK_TOTAL_RX_PER_SEC, MiB/s × 2^20", null,
            "gpu_nvlink_gpm_bytes_per_second", string.Empty, false, "direction=rx")
            { GpmId = (NvmlGpm.NvLinkReceive, MiB) },

        // Integrals the sampler keeps: exact busy time whatever the scrape interval.
        new(GpuValue.TensorActiveSeconds, GpuCadence.Derived, "GPM ANY_TENSOR_UTIL ratio × each interval's seconds, summed", null,
            "gpu_tensor_active_seconds_total", "Seconds of tensor-pipe activity: the GPM tensor ratio integrated over each interval (Hopper+).", true),
        new(GpuValue.SmActiveSeconds, GpuCadence.Derived, "GPM SM_UTIL ratio × each interval's seconds, summed", null,
            "gpu_sm_active_seconds_total", "Seconds of SM activity: the GPM SM-active ratio integrated over each interval (Hopper+).", true),
    ];

    /// <summary>The GPM rows in <see cref="GpuValue.Gpm"/> order.</summary>
    public static readonly GpuMetric[] Gpm = [.. Metrics.Where(m => m.Cadence == GpuCadence.Gpm).OrderBy(m => m.Value)];

    /// <summary>NVML_GPM_METRIC ids in <see cref="GpuValue.Gpm"/> order, as nvmlGpmMetricsGet takes them.</summary>
    public static readonly uint[] GpmIds = [.. Gpm.Select(m => m.GpmId!.Value.Id)];

    /// <summary>The rows read by a call of their own, at <paramref name="cadence"/>, in read order.</summary>
    public static GpuMetric[] Reads(GpuCadence cadence) => [.. Metrics.Where(m => m.Cadence == cadence && m.Read is not null)];

    /// <summary>Whether each value (by <see cref="GpuValue"/>) is kept between slow reads.</summary>
    public static bool[] SlowValues()
    {
        var slow = new bool[(int)GpuValue.Count];
        foreach (var metric in Metrics.Where(m => m.Cadence == GpuCadence.Slow))
        {
            slow[(int)metric.Value] = true;
        }

        return slow;
    }

    private static NvmlReturn Utilization(INvml nvml, nint device, double[] v)
    {
        var result = nvml.Utilization(device, out var utilization);
        if (result == NvmlReturn.Success)
        {
            v[(int)GpuValue.Utilization] = utilization.Gpu / 100.0;
            v[(int)GpuValue.MemoryUtilization] = utilization.Memory / 100.0;
        }

        return result;
    }

    private static NvmlReturn Memory(INvml nvml, nint device, double[] v)
    {
        var result = nvml.Memory(device, out var total, out var used, out var free, out var reserved);
        if (result == NvmlReturn.Success)
        {
            v[(int)GpuValue.MemoryTotal] = total;
            v[(int)GpuValue.MemoryUsed] = used;
            v[(int)GpuValue.MemoryFree] = free;
            v[(int)GpuValue.MemoryReserved] = reserved is { } r ? r : double.NaN;
        }

        return result;
    }

    private static NvmlReturn Temperature(INvml nvml, nint device, double[] v) =>
        One(nvml.Temperature(device, out var celsius), v, GpuValue.Temperature, celsius);

    private static NvmlReturn Power(INvml nvml, nint device, double[] v) =>
        One(nvml.PowerUsage(device, out var milliwatts), v, GpuValue.Power, milliwatts / 1000.0);

    private static NvmlReturn PowerLimit(INvml nvml, nint device, double[] v) =>
        One(nvml.PowerLimit(device, out var milliwatts), v, GpuValue.PowerLimit, milliwatts / 1000.0);

    private static GpuRead ClockOf(int type) =>
        (nvml, device, v) => One(nvml.Clock(device, type, out var mhz), v, GpuValue.Clock + type, mhz * 1e6);

    private static GpuRead MaxClockOf(int type) =>
        (nvml, device, v) => One(nvml.MaxClock(device, type, out var mhz), v, GpuValue.MaxClock + type, mhz * 1e6);

    private static NvmlReturn PerformanceState(INvml nvml, nint device, double[] v)
    {
        var result = nvml.PerformanceState(device, out var state);
        if (result == NvmlReturn.Success && state is >= 0 and <= 15)
        {
            v[(int)GpuValue.PerformanceState] = state;
        }

        return result;
    }

    private static NvmlReturn ClockEventReasons(INvml nvml, nint device, double[] v) =>
        One(nvml.ClockEventReasons(device, out var reasons), v, GpuValue.ClockEventReasons, reasons);

    // Volatile and aggregate ECC totals cost under 1 µs each: read every tick so a burst shows at once.
    private static GpuRead EccOf(int i) =>
        (nvml, device, v) => One(nvml.EccErrors(device, i / 2, i % 2, out var count), v, GpuValue.Ecc + i, count);

    private static NvmlReturn RemappedRows(INvml nvml, nint device, double[] v)
    {
        var result = nvml.RemappedRows(device, out var correctable, out var uncorrectable, out var pending, out var failure);
        if (result == NvmlReturn.Success)
        {
            v[(int)GpuValue.RemappedCorrectable] = correctable;
            v[(int)GpuValue.RemappedUncorrectable] = uncorrectable;
            v[(int)GpuValue.RemapPending] = pending != 0 ? 1 : 0;
            v[(int)GpuValue.RemapFailure] = failure != 0 ? 1 : 0;
        }

        return result;
    }

    private static GpuRead Codec(bool decoder) =>
        (nvml, device, v) => One(nvml.CodecUtilization(device, decoder, out var percent), v, decoder ? GpuValue.Decoder : GpuValue.Encoder, percent / 100.0);

    private static NvmlReturn Fan(INvml nvml, nint device, double[] v) =>
        One(nvml.FanSpeed(device, out var percent), v, GpuValue.Fan, percent / 100.0);

    private static GpuRead Threshold(int threshold, GpuValue value) =>
        (nvml, device, v) => One(nvml.TemperatureThreshold(device, threshold, out var celsius), v, value, celsius);

    private static GpuRead RetiredPagesOf(int cause) =>
        (nvml, device, v) => One(nvml.RetiredPages(device, cause, out var pages), v, GpuValue.RetiredPages + cause, pages);

    private static NvmlReturn EccMode(INvml nvml, nint device, double[] v)
    {
        var result = nvml.EccMode(device, out var current, out var pending);
        if (result == NvmlReturn.Success)
        {
            v[(int)GpuValue.EccMode] = current ? 1 : 0;
            v[(int)GpuValue.EccMode + 1] = pending ? 1 : 0;
        }

        return result;
    }

    private static NvmlReturn RetiredPagesPending(INvml nvml, nint device, double[] v) =>
        One(nvml.RetiredPagesPending(device, out var pending), v, GpuValue.RetiredPagesPending, pending ? 1 : 0);

    private static NvmlReturn PcieLink(INvml nvml, nint device, double[] v) =>
        Two(nvml.PcieLink(device, out var generation, out var width), v, GpuValue.PcieGeneration, generation, GpuValue.PcieWidth, width);

    private static NvmlReturn MaxPcieLink(INvml nvml, nint device, double[] v) =>
        Two(nvml.MaxPcieLink(device, out var generation, out var width), v, GpuValue.PcieMaxGeneration, generation, GpuValue.PcieMaxWidth, width);

    private static NvmlReturn PcieReplays(INvml nvml, nint device, double[] v) =>
        One(nvml.PcieReplays(device, out var count), v, GpuValue.PcieReplays, count);

    private static GpuRead PcieThroughput(int counter, GpuValue value) =>
        (nvml, device, v) => One(nvml.PcieThroughput(device, counter, out var kilobytesPerSecond), v, value, kilobytesPerSecond * 1000.0);

    private static NvmlReturn MigMode(INvml nvml, nint device, double[] v) =>
        One(nvml.MigMode(device, out var mode), v, GpuValue.MigMode, mode);

    private static NvmlReturn One(NvmlReturn result, double[] v, GpuValue value, double converted)
    {
        if (result == NvmlReturn.Success)
        {
            v[(int)value] = converted;
        }

        return result;
    }

    private static NvmlReturn Two(NvmlReturn result, double[] v, GpuValue first, double firstValue, GpuValue second, double secondValue)
    {
        if (result == NvmlReturn.Success)
        {
            v[(int)first] = firstValue;
            v[(int)second] = secondValue;
        }

        return result;
    }
}
