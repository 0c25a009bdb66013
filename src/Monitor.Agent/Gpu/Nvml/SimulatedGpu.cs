using System.Collections.Concurrent;

namespace Monitor.Agent.Gpu.Nvml;

/// <summary>
/// One GPU of <see cref="SimulatedNvml"/>: its load and the state a test (or a demo of failure handling) sets on it.
/// Every property may be changed while the agent samples; a reading sees the value current at the call.
/// </summary>
internal sealed class SimulatedGpu(int index)
{
    /// <summary>The GPU's index, as NVML numbers it.</summary>
    public int Index => index;

    /// <summary>The NVML handle the simulation gives it (index + 1; 0 is never a handle).</summary>
    public nint Handle => index + 1;

    /// <summary>"GPU-5131d000-0000-4000-8000-00000000000i", stable across runs.</summary>
    public string Uuid => $"GPU-5131d000-0000-4000-8000-{index:D12}";

    /// <summary>Load from 0 to 1 that every load-dependent value follows; null (the default) follows the ten-minute wave.</summary>
    public double? Load { get; set; }

    /// <summary>
    /// The GPU fell off the bus after the agent identified it: every reading answers GPU_IS_LOST; its identity (name,
    /// UUID, serial, bus id, VBIOS, compute capability) still answers, as it was read at identification.
    /// </summary>
    public bool Lost { get; set; }

    /// <summary>Calls (<see cref="INvml"/> method names) that answer this result instead of their value: NOT_SUPPORTED, say.</summary>
    public ConcurrentDictionary<string, NvmlReturn> Results { get; } = new(StringComparer.Ordinal);

    /// <summary>The call (an <see cref="INvml"/> method name) that blocks until the event is set: a hung driver call.</summary>
    public (string Call, ManualResetEventSlim Release)? Hang { get; set; }

    /// <summary>The call that throws <see cref="EntryPointNotFoundException"/>, as a missing export or a binding bug would.</summary>
    public string? Throws { get; set; }

    /// <summary>The clock event reason mask; null (the default) derives it from the load (idle below 5 %, power cap above 95 %).</summary>
    public ulong? ClockEventReasons { get; set; }

    /// <summary>Corrected ECC errors since the driver loaded (the volatile counter; the aggregate counter reads the same).</summary>
    public ulong EccCorrected { get; set; }

    /// <summary>Uncorrected ECC errors since the driver loaded (volatile and aggregate).</summary>
    public ulong EccUncorrected { get; set; }

    /// <summary>ECC mode now and after the next reboot.</summary>
    public (bool Current, bool Pending) EccMode { get; set; } = (true, true);

    /// <summary>Remapped rows (correctable, uncorrectable), whether a remap is pending, and whether one failed.</summary>
    public (uint Correctable, uint Uncorrectable, uint Pending, uint Failure) RemappedRows { get; set; }

    /// <summary>The driver's recovery action (field 248): 0 none, 1 reset the GPU, 2 reboot, 3 drain and reset.</summary>
    public uint RecoveryAction { get; set; }

    /// <summary>The PCIe link now (the maximum is gen 5 x16).</summary>
    public (uint Generation, uint Width) PcieLink { get; set; } = (5, 16);

    /// <summary>PCIe replays since the driver loaded.</summary>
    public uint PcieReplays { get; set; }

    /// <summary>Whether GPM is supported (Hopper and later); false models an older board.</summary>
    public bool GpmSupported { get; set; } = true;

    /// <summary>GPM metric ids that fail with their own NOT_SUPPORTED inside a successful <c>nvmlGpmMetricsGet</c>.</summary>
    public ConcurrentDictionary<uint, bool> GpmFailures { get; } = new();
}
