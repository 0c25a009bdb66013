using System.Globalization;
using Monitor.Agent.Gpu;
using Monitor.Agent.Gpu.Xid;
using Monitor.Agent.Jobs;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Gpu;

/// <summary>
/// <c>--compat.dcgm</c>: dcgm-exporter's default counter set (etc/default-counters.csv, reference gpu-exporters.md §1)
/// under its names, units and labels, from the same samples as the native series, so NVIDIA's dashboard 12239 and
/// alerts written for dcgm-exporter keep working. Labels in dcgm-exporter's order: <c>gpu</c>, <c>UUID</c>,
/// <c>pci_bus_id</c>, <c>device</c>, <c>modelName</c>, <c>Hostname</c> (the spelling of every release up to
/// 4.8.2), and the label-type row <c>DCGM_FI_DRIVER_VERSION</c>.
/// </summary>
/// <remarks>
/// dcgm-exporter declares its energy, replay, remapped-row and NVLink rows as counters without a <c>_total</c>
/// suffix. They are typed gauge here: OpenMetrics (which Prometheus negotiates) requires counter samples to end in
/// <c>_total</c>, which would rename the very series dashboards query. PromQL's rate() works on them either way.
/// The profiling (DCP) fields come from NVML GPM on Hopper and newer, without DCGM or privileges; on other GPUs
/// they are absent. <c>DCGM_FI_PROF_PCIE_TX/RX_BYTES</c> use GPM's PCIe rates, else NVML's PCIe throughput when
/// <c>--collector.gpu.pcie-throughput</c> is on. Left out, because NVML has no source:
/// <c>DCGM_FI_DEV_VGPU_LICENSE_STATUS</c> (vGPU guests only).
/// </remarks>
internal sealed class DcgmCompat
{
    private const double MiB = 1024 * 1024;

    /// <summary>Default-counter rows with an NVML source: value, name, HELP as dcgm-exporter writes it, whether dcgm-exporter types it counter, scale from our base unit.</summary>
    private static readonly (GpuValue Value, string Name, string Help, bool Counter, double Scale)[] Rows =
    [
        (GpuValue.Clock + 1, "DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", false, 1),
        (GpuValue.Clock + 2, "DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).", false, 1),
        (GpuValue.MemoryTemperature, "DCGM_FI_DEV_MEMORY_TEMP", "Memory temperature (in C).", false, 1),
        (GpuValue.Temperature, "DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", false, 1),
        (GpuValue.Power, "DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", false, 1),
        (GpuValue.Energy, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since boot (in mJ).", true, 1000),
        (GpuValue.PcieReplays, "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "Total number of PCIe retries.", true, 1),
        (GpuValue.Utilization, "DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", false, 100),
        (GpuValue.MemoryUtilization, "DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).", false, 100),
        (GpuValue.Encoder, "DCGM_FI_DEV_ENC_UTIL", "Encoder utilization (in %).", false, 100),
        (GpuValue.Decoder, "DCGM_FI_DEV_DEC_UTIL", "Decoder utilization (in %).", false, 100),
        (GpuValue.MemoryFree, "DCGM_FI_DEV_FB_FREE", "Frame buffer memory free (in MB).", false, 1 / MiB),
        (GpuValue.MemoryUsed, "DCGM_FI_DEV_FB_USED", "Frame buffer memory used (in MB).", false, 1 / MiB),
        (GpuValue.MemoryReserved, "DCGM_FI_DEV_FB_RESERVED", "Frame buffer memory reserved (in MB).", false, 1 / MiB),
        (GpuValue.RemappedUncorrectable, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "Number of remapped rows for uncorrectable errors", true, 1),
        (GpuValue.RemappedCorrectable, "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "Number of remapped rows for correctable errors", true, 1),
        (GpuValue.RemapFailure, "DCGM_FI_DEV_ROW_REMAP_FAILURE", "Whether remapping of rows has failed", false, 1),
        (GpuValue.Gpm, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "Ratio of time the graphics engine is active.", false, 1),
        (GpuValue.Gpm + 1, "DCGM_FI_PROF_SM_ACTIVE", "The ratio of cycles an SM has at least 1 warp assigned.", false, 1),
        (GpuValue.Gpm + 2, "DCGM_FI_PROF_SM_OCCUPANCY", "The ratio of number of warps resident on an SM.", false, 1),
        (GpuValue.Gpm + 3, "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "Ratio of cycles the tensor (HMMA) pipe is active.", false, 1),
        (GpuValue.Gpm + 4, "DCGM_FI_PROF_DRAM_ACTIVE", "Ratio of cycles the device memory interface is active sending or receiving data.", false, 1),
        (GpuValue.Gpm + 5, "DCGM_FI_PROF_PIPE_FP64_ACTIVE", "Ratio of cycles the fp64 pipes are active.", false, 1),
        (GpuValue.Gpm + 6, "DCGM_FI_PROF_PIPE_FP32_ACTIVE", "Ratio of cycles the fp32 pipes are active.", false, 1),
        (GpuValue.Gpm + 7, "DCGM_FI_PROF_PIPE_FP16_ACTIVE", "Ratio of cycles the fp16 pipes are active.", false, 1),
        (GpuValue.PcieTransmit, "DCGM_FI_PROF_PCIE_TX_BYTES", "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.", false, 1),
        (GpuValue.PcieReceive, "DCGM_FI_PROF_PCIE_RX_BYTES", "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.", false, 1),
    ];

    /// <summary>
    /// dcgm-exporter's labels, then its job labels: <c>pod</c>, <c>namespace</c>, <c>container</c> (Kubernetes) and
    /// <c>hpc_job</c> (Slurm). A GPU held by jobs gets one series per job, as dcgm-exporter duplicates them; a free
    /// GPU gets the job labels empty, which Prometheus treats as absent.
    /// </summary>
    private static readonly string[] Labels = ["gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION", "pod", "namespace", "container", "hpc_job"];

    private static readonly string[][] NoJob = [["", "", "", ""]];

    private readonly string _hostname;
    private readonly IGpuHolders _holders;
    private readonly MetricFamily[] _families;
    private readonly MetricFamily _xid;
    private readonly MetricFamily _nvlink;
    private readonly Dictionary<int, (string Uuid, string[] Labels)> _labels = [];

    public DcgmCompat(MetricGroup group, string hostname, IGpuHolders holders)
    {
        _hostname = hostname;
        _holders = holders;
        _families = [.. Rows.Select(r => group.Gauge(r.Name, r.Help, Labels))];
        _xid = group.Gauge("DCGM_FI_DEV_XID_ERRORS", "Value of the last XID error encountered.", [.. Labels[..7], "err_code", "err_msg", .. Labels[7..]]);
        _nvlink = group.Gauge("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "Total number of NVLink bandwidth counters for all lanes.", Labels);
    }

    /// <summary>The dcgm-exporter series of one GPU; <paramref name="lastXid"/> is the last XID seen on it, if any.</summary>
    public void Publish(GpuDeviceSampler device, GpuSample sample, (double Time, ulong Xid)? lastXid)
    {
        foreach (var job in JobLabels(device.Uuid))
        {
            PublishFor([.. LabelsOf(device), .. job], sample, lastXid);
        }
    }

    /// <summary>The job label values (pod, namespace, container, hpc_job) of each job holding the GPU, or one empty set.</summary>
    private string[][] JobLabels(string uuid)
    {
        var holders = _holders.HoldersOf(uuid);
        if (holders.IsEmpty)
        {
            return NoJob;
        }

        var labels = new string[holders.Length][];
        for (var i = 0; i < holders.Length; i++)
        {
            var job = holders[i];
            labels[i] = job.Scheduler == "kubernetes"
                ? [job.Pod ?? string.Empty, job.Namespace ?? string.Empty, string.Join(',', job.Containers), string.Empty]
                : [string.Empty, string.Empty, string.Empty, job.JobId];
        }

        return labels;
    }

    private void PublishFor(string[] labels, GpuSample sample, (double Time, ulong Xid)? lastXid)
    {
        var v = sample.Values;
        for (var i = 0; i < Rows.Length; i++)
        {
            // PCIe rates: GPM's when the GPU has it, else NVML's 20 ms throughput window (opt-in).
            var key = Rows[i].Value switch
            {
                GpuValue.PcieTransmit when !double.IsNaN(v[(int)GpuValue.Gpm + 9]) => GpuValue.Gpm + 9,
                GpuValue.PcieReceive when !double.IsNaN(v[(int)GpuValue.Gpm + 10]) => GpuValue.Gpm + 10,
                var other => other,
            };
            if (v[(int)key] is var value && !double.IsNaN(value))
            {
                _families[i].Get(labels).Set(value * Rows[i].Scale);
            }
        }

        // NVML's NVLink data counters are KiB; DCGM passes the sum of both directions through in the same unit.
        if (!double.IsNaN(v[(int)GpuValue.NvLinkTransmit]) && !double.IsNaN(v[(int)GpuValue.NvLinkReceive]))
        {
            _nvlink.Get(labels).Set((v[(int)GpuValue.NvLinkTransmit] + v[(int)GpuValue.NvLinkReceive]) / 1024);
        }

        // dcgm-exporter's XID gauge holds the last code (0 before any), labelled with the code and its description.
        var xid = lastXid?.Xid ?? 0;
        var code = xid.ToString(CultureInfo.InvariantCulture);
        var message = xid == 0 ? "No XID error" : XidCatalog.Describe((uint)Math.Min(xid, uint.MaxValue));
        _xid.Get([.. labels[..7], code, message, .. labels[7..]]).Set(xid);
    }

    private string[] LabelsOf(GpuDeviceSampler device)
    {
        if (!_labels.TryGetValue(device.Index, out var cached) || cached.Uuid != device.Uuid)
        {
            cached = (device.Uuid, [device.IndexLabel, device.Uuid, device.Identity.PciBusId, $"nvidia{device.IndexLabel}", device.Name, _hostname, device.Identity.DriverVersion]);
            _labels[device.Index] = cached;
        }

        return cached.Labels;
    }
}
