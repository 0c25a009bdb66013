using Monitor.Agent.Collectors.Arp;
using Monitor.Agent.Collectors.Bonding;
using Monitor.Agent.Collectors.Bcache;
using Monitor.Agent.Collectors.Cpu;
using Monitor.Agent.Collectors.DiskStats;
using Monitor.Agent.Collectors.Entropy;
using Monitor.Agent.Collectors.FibreChannel;
using Monitor.Agent.Collectors.FileFd;
using Monitor.Agent.Collectors.Filesystem;
using Monitor.Agent.Collectors.Gpu;
using Monitor.Agent.Collectors.Hwmon;
using Monitor.Agent.Collectors.InfiniBand;
using Monitor.Agent.Collectors.Ipvs;
using Monitor.Agent.Collectors.LoadAvg;
using Monitor.Agent.Collectors.Mdadm;
using Monitor.Agent.Collectors.MemInfo;
using Monitor.Agent.Collectors.NetClass;
using Monitor.Agent.Collectors.NetDev;
using Monitor.Agent.Collectors.NetStat;
using Monitor.Agent.Collectors.Nfs;
using Monitor.Agent.Collectors.Nvme;
using Monitor.Agent.Collectors.Pressure;
using Monitor.Agent.Collectors.SockStat;
using Monitor.Agent.Collectors.Stat;
using Monitor.Agent.Collectors.Textfile;
using Monitor.Agent.Collectors.ThermalZone;
using Monitor.Agent.Collectors.Uname;
using Monitor.Agent.Collectors.VmStat;
using Monitor.Agent.Collectors.Zfs;
using Monitor.Agent.Gpu;

namespace Monitor.Agent.Collectors;

/// <summary>Every collector the agent knows. Each entry gives a <c>--[no-]collector.&lt;name&gt;</c> flag.</summary>
internal static class CollectorCatalog
{
    /// <summary>All collectors, in name order.</summary>
    public static IReadOnlyList<CollectorDescriptor> All { get; } =
        new[]
        {
            ArpCollector.Descriptor,
            BondingCollector.Descriptor,
            BcacheCollector.Descriptor,
            CpuCollector.Descriptor,
            DiskStatsCollector.Descriptor,
            EntropyCollector.Descriptor,
            FibreChannelCollector.Descriptor,
            FileFdCollector.Descriptor,
            FilesystemCollector.Descriptor,
            GpuCollector.Descriptor,
            HwmonCollector.Descriptor,
            InfiniBandCollector.Descriptor,
            IpvsCollector.Descriptor,
            Jobs.JobsCollector.Descriptor,
            LoadAvgCollector.Descriptor,
            MdadmCollector.Descriptor,
            MemInfoCollector.Descriptor,
            NetClassCollector.Descriptor,
            NetDevCollector.Descriptor,
            NetStatCollector.Descriptor,
            NfsCollector.Descriptor,
            NfsdCollector.Descriptor,
            NvmeCollector.Descriptor,
            PressureCollector.Descriptor,
            SockStatCollector.Descriptor,
            StatCollector.Descriptor,
            TextfileCollector.Descriptor,
            ThermalZoneCollector.Descriptor,
            UnameCollector.Descriptor,
            VmStatCollector.Descriptor,
            Conntrack.ConntrackCollector.Descriptor,
            Softnet.SoftnetCollector.Descriptor,
            UdpQueues.UdpQueuesCollector.Descriptor,
            SchedStat.SchedStatCollector.Descriptor,
            CpuFreq.CpuFreqCollector.Descriptor,
            Time.TimeCollector.Descriptor,
            Timex.TimexCollector.Descriptor,
            OsRelease.OsReleaseCollector.Descriptor,
            Selinux.SelinuxCollector.Descriptor,
            Rapl.RaplCollector.Descriptor,
            Dmi.DmiCollector.Descriptor,
            PowerSupply.PowerSupplyClassCollector.Descriptor,
            Edac.EdacCollector.Descriptor,
            ZfsCollector.Descriptor,
            TapeStats.TapeStatsCollector.Descriptor,
            Xfs.XfsCollector.Descriptor,
            Btrfs.BtrfsCollector.Descriptor,
        }.OrderBy(d => d.Name, StringComparer.Ordinal).ToArray();
}
