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
/// <c>DCGM_FI_DEV_VGPU_LICENSE_STATUS</c> (vGPU guests only). Names, HELP and units come from <see cref="GpuCatalog"/>
/// (its <c>Dcgm*</c> columns); the NVLink bandwidth and XID series, which are not one value, are written here.
/// </remarks>
internal sealed class DcgmCompat
{
    /// <summary>The catalogue rows with a dcgm-exporter name, in catalogue order.</summary>
    private static readonly GpuMetric[] Rows = [.. GpuCatalog.Metrics.Where(m => m.Dcgm is not null)];

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
        _families = [.. Rows.Select(r => group.Gauge(r.Dcgm!, r.DcgmHelp, Labels))];
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
            var row = Rows[i];
            var key = row.DcgmPrefer is { } preferred && !double.IsNaN(v[(int)preferred]) ? preferred : row.Value;
            if (v[(int)key] is var value && !double.IsNaN(value))
            {
                _families[i].Get(labels).Set(value * row.DcgmMultiply / row.DcgmDivide);
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
