namespace Monitor.Agent.Gpu;

/// <summary>
/// The scalar values one GPU sample holds, in base units (ratios 0–1, bytes, °C, W, J, Hz). <see cref="GpuCatalog"/>
/// says how each is read, converted and named. Ranged members (<see cref="Clock"/>, <see cref="Ecc"/>, …) are followed by their
/// siblings, as their comments say.
/// </summary>
internal enum GpuValue
{
    /// <summary>GPU busy, 0–1.</summary>
    Utilization,

    /// <summary>Memory controller busy, 0–1.</summary>
    MemoryUtilization,

    /// <summary>Bytes.</summary>
    MemoryTotal,

    /// <summary>Bytes (memory v2 used, as nvidia-smi).</summary>
    MemoryUsed,

    /// <summary>Bytes.</summary>
    MemoryFree,

    /// <summary>Bytes held by the driver (R510+).</summary>
    MemoryReserved,

    /// <summary>°C.</summary>
    Temperature,

    /// <summary>°C (field 82).</summary>
    MemoryTemperature,

    /// <summary>W.</summary>
    Power,

    /// <summary>Enforced power limit, W.</summary>
    PowerLimit,

    /// <summary>J since driver load: the last energy read plus the power integral since (never decreasing).</summary>
    Energy,

    /// <summary>Current clock, Hz: graphics, then SM, memory and video (+0…+3).</summary>
    Clock,

    /// <summary>Max clock, Hz, same order (+0…+3).</summary>
    MaxClock = Clock + 4,

    /// <summary>P-state 0–15.</summary>
    PerformanceState = MaxClock + 4,

    /// <summary>The clock event reason bit mask.</summary>
    ClockEventReasons,

    /// <summary>°C.</summary>
    SlowdownThreshold,

    /// <summary>°C.</summary>
    ShutdownThreshold,

    /// <summary>ECC counts: corrected volatile, corrected aggregate, uncorrected volatile, uncorrected aggregate (+0…+3).</summary>
    Ecc,

    /// <summary>ECC mode: current, then pending (+0, +1); 1 enabled.</summary>
    EccMode = Ecc + 4,

    /// <summary>Retired pages: multiple single-bit, double-bit (+0, +1).</summary>
    RetiredPages = EccMode + 2,

    /// <summary>1 while a page retirement waits for a reset.</summary>
    RetiredPagesPending = RetiredPages + 2,

    /// <summary>Rows remapped for correctable errors.</summary>
    RemappedCorrectable,

    /// <summary>Rows remapped for uncorrectable errors.</summary>
    RemappedUncorrectable,

    /// <summary>1 while a remap waits for a reset.</summary>
    RemapPending,

    /// <summary>1 when a remap failed.</summary>
    RemapFailure,

    /// <summary>Current PCIe generation.</summary>
    PcieGeneration,

    /// <summary>Current PCIe lanes.</summary>
    PcieWidth,

    /// <summary>Max PCIe generation.</summary>
    PcieMaxGeneration,

    /// <summary>Max PCIe lanes.</summary>
    PcieMaxWidth,

    /// <summary>PCIe replay count.</summary>
    PcieReplays,

    /// <summary>PCIe transmit, bytes/s (opt-in).</summary>
    PcieTransmit,

    /// <summary>PCIe receive, bytes/s (opt-in).</summary>
    PcieReceive,

    /// <summary>Encoder busy, 0–1.</summary>
    Encoder,

    /// <summary>Decoder busy, 0–1.</summary>
    Decoder,

    /// <summary>Fan speed, fraction of max.</summary>
    Fan,

    /// <summary>The driver's recovery action (field 230): 0 none, 1 GPU reset, 2 node reboot, 3 drain P2P, 4 drain and reset.</summary>
    RecoveryAction,

    /// <summary>MIG mode: 0 disabled, 1 enabled.</summary>
    MigMode,

    /// <summary>NVLink links.</summary>
    NvLinkCount,

    /// <summary>NVLink data transmitted over all links, bytes.</summary>
    NvLinkTransmit,

    /// <summary>NVLink data received over all links, bytes.</summary>
    NvLinkReceive,

    /// <summary>NVLink error totals: CRC flit, CRC data, replay, recovery (+0…+3).</summary>
    NvLinkErrors,

    /// <summary>
    /// GPM profiling values of the last complete interval (Hopper+), in <see cref="GpuCatalog.Gpm"/> order: graphics
    /// engine, SM active, SM occupancy, tensor, DRAM (ratios); pipes fp64, fp32, fp16, int (ratios); PCIe tx, rx and
    /// NVLink tx, rx (bytes/s) (+0…+12).
    /// </summary>
    Gpm = NvLinkErrors + 4,

    /// <summary>Seconds of tensor-pipe activity: the GPM tensor ratio integrated over each interval's wall time.</summary>
    TensorActiveSeconds = Gpm + 13,

    /// <summary>Seconds of SM activity, integrated the same way.</summary>
    SmActiveSeconds,

    /// <summary>The number of values.</summary>
    Count = SmActiveSeconds + 1,
}

/// <summary>One MIG GPU instance's GPM values (in <see cref="GpuValue.Gpm"/> order; NaN absent).</summary>
internal readonly record struct GpuGpmMigSample(uint GpuInstanceId, double[] Values);

/// <summary>One process on a GPU: NaN where NVML gave no value.</summary>
internal readonly record struct GpuProcessSample(uint Pid, double MemoryBytes, double Utilization, double MemoryUtilization, uint GpuInstanceId, uint ComputeInstanceId);

/// <summary>One MIG device (compute instance): NaN where NVML gave no value.</summary>
internal readonly record struct GpuMigSample(uint GpuInstanceId, uint ComputeInstanceId, string Uuid, double MemoryTotal, double MemoryUsed, double MemoryFree, double Utilization);

/// <summary>
/// Everything one GPU sample read: the per-device sampler fills one, and a copy is published for the 1 s update
/// (native series, the dcgm compatibility series, and later the job integrators). NaN marks a value that is absent.
/// </summary>
internal sealed class GpuSample
{
    /// <summary>Values by <see cref="GpuValue"/>; NaN when absent (unsupported, failed, or not read yet).</summary>
    public double[] Values { get; } = CreateValues();

    /// <summary>When the sample was taken (TimeProvider timestamp).</summary>
    public long Timestamp { get; set; }

    /// <summary>XID errors counted on this GPU since the agent started (set at publication).</summary>
    public long XidErrors { get; set; }

    /// <summary>The code of the last XID on this GPU since the agent started; 0 before any (set at publication).</summary>
    public uint LastXid { get; set; }

    /// <summary>The device answered GPU_IS_LOST.</summary>
    public bool Lost { get; set; }

    /// <summary>Compute processes with their memory and utilization.</summary>
    public List<GpuProcessSample> Processes { get; } = [];

    /// <summary>MIG devices, when MIG is on.</summary>
    public List<GpuMigSample> Mig { get; } = [];

    /// <summary>GPM values per MIG GPU instance, when MIG is on.</summary>
    public List<GpuGpmMigSample> GpmMig { get; } = [];

    /// <summary>Per NVLink link: 1 active, 0 not, NaN unknown.</summary>
    public List<double> NvLinkUp { get; } = [];

    /// <summary>Value <paramref name="key"/>.</summary>
    public double this[GpuValue key]
    {
        get => Values[(int)key];
        set => Values[(int)key] = value;
    }

    /// <summary>Copies everything into <paramref name="target"/>.</summary>
    public void CopyTo(GpuSample target)
    {
        Values.CopyTo(target.Values, 0);
        target.Timestamp = Timestamp;
        target.Lost = Lost;
        target.XidErrors = XidErrors;
        target.LastXid = LastXid;
        target.Processes.Clear();
        target.Processes.AddRange(Processes);
        target.Mig.Clear();
        target.Mig.AddRange(Mig);
        target.NvLinkUp.Clear();
        target.NvLinkUp.AddRange(NvLinkUp);
        target.GpmMig.Clear();
        target.GpmMig.AddRange(GpmMig);
    }

    private static double[] CreateValues()
    {
        var values = new double[(int)GpuValue.Count];
        Array.Fill(values, double.NaN);
        return values;
    }
}
