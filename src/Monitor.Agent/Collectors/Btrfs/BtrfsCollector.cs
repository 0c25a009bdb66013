using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Btrfs;

/// <summary>
/// node_exporter's btrfs collector, sysfs part: per filesystem (<c>/sys/fs/btrfs/*-*</c>) <c>node_btrfs_info</c>,
/// the global reserve, per block-group type (data, metadata, system) the reserved bytes and per layout (raid1, dup...)
/// used and allocated bytes and the allocation ratio, and per device <c>device_size_bytes</c> (512-byte sectors of
/// <c>devices/&lt;dev&gt;/size</c>). Read as procfs v0.8.0 reads them: a missing file is 0 or empty, a value that does
/// not parse is 0, the uuid is <c>metadata_uuid</c> (the directory name when that is empty).
/// </summary>
/// <remarks>
/// 1.5.0 also opens every mounted btrfs filesystem and asks the kernel by ioctl (BTRFS_IOC_FS_INFO, DEV_INFO,
/// GET_DEV_STATS) for per-device sizes, unused bytes and error counters; where that works it replaces the sysfs
/// <c>device_size_bytes{device,uuid}</c> with <c>device_size_bytes{btrfs_dev_uuid,device,uuid}</c>,
/// <c>device_unused_bytes</c> and <c>device_errors_total{type}</c>. The agent does not do the ioctls (yet): it always
/// exports the sysfs form, which is what 1.5.0 exports when the ioctls fail (no mount, no privileges,
/// <c>--path.rootfs</c> not the host's root). docs/host-collectors.md lists this.
/// </remarks>
internal sealed class BtrfsCollector : ICollector
{
    private static readonly string[] BlockGroupTypes = ["data", "metadata", "system"];

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _root;
    private readonly Dictionary<(string, string), string> _paths = [];
    private readonly MetricFamily _info, _globalRsv, _reserved, _used, _size, _ratio, _deviceSize;
    private bool _warnedSkip;

    public BtrfsCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _root = context.Paths.Sys("fs/btrfs");
        var g = context.Group;
        _info = g.Gauge("node_btrfs_info", "Filesystem information", "label", "uuid");
        _globalRsv = g.Gauge("node_btrfs_global_rsv_size_bytes", "Size of global reserve.", "uuid");
        _reserved = g.Gauge("node_btrfs_reserved_bytes", "Amount of space reserved for a data type", "block_group_type", "uuid");
        _used = g.Gauge("node_btrfs_used_bytes", "Amount of used space by a layout/data type", "block_group_type", "mode", "uuid");
        _size = g.Gauge("node_btrfs_size_bytes", "Amount of space allocated for a layout/data type", "block_group_type", "mode", "uuid");
        _ratio = g.Gauge("node_btrfs_allocation_ratio", "Data allocation ratio for a layout/data type", "block_group_type", "mode", "uuid");
        _deviceSize = g.Gauge("node_btrfs_device_size_bytes", "Size of a device that is part of the filesystem.", "device", "uuid");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "btrfs", "Btrfs allocation and device sizes from /sys/fs/btrfs.", true, Cadence.OnScrape, TimeSpan.Zero, c => new BtrfsCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_root))
        {
            return; // 1.5.0's glob matches nothing: no series, no error
        }

        foreach (var fs in Directory.GetFileSystemEntries(_root, "*-*"))
        {
            try
            {
                ReadFilesystem(fs);
            }
            catch (Exception ex) when (SubsystemSkip.IsReadFailure(ex))
            {
                SubsystemSkip.Skipped(_logger, ref _warnedSkip, "btrfs", fs, ex.Message);
            }
        }
    }

    private void ReadFilesystem(string dir)
    {
        var devicesDir = PathOf(dir, "devices");
        var devices = Directory.Exists(devicesDir) ? Directory.GetFileSystemEntries(devicesDir) : [];
        var uuid = Text(PathOf(dir, "metadata_uuid"));
        if (uuid.Length == 0)
        {
            uuid = Path.GetFileName(dir);
        }

        var label = Text(PathOf(dir, "label"));

        // Read everything before setting anything, so a filesystem that fails half-way leaves no partial series.
        var devCount = devices.Length;
        var deviceSizes = devices.Select(d => (Path.GetFileName(d), 512 * Value(PathOf(d, "size")))).ToList();
        var globalRsv = Value(PathOf(dir, "allocation/global_rsv_size"));
        var groups = new List<(string Type, double Reserved, List<(string Mode, double Used, double Total, double Ratio)> Layouts)>();
        foreach (var type in BlockGroupTypes)
        {
            var typeDir = PathOf(dir, "allocation/" + type);
            var reserved = Value(PathOf(typeDir, "bytes_reserved"));
            var layouts = new List<(string, double, double, double)>();
            if (Directory.Exists(typeDir))
            {
                foreach (var layoutDir in Directory.EnumerateDirectories(typeDir))
                {
                    var mode = Path.GetFileName(layoutDir);
                    layouts.Add((mode, Value(PathOf(layoutDir, "used_bytes")), Value(PathOf(layoutDir, "total_bytes")), Ratio(mode, devCount)));
                }
            }

            groups.Add((type, reserved, layouts));
        }

        _info.Get(label, uuid).Set(1);
        _globalRsv.Get(uuid).Set(globalRsv);
        foreach (var (type, reserved, layouts) in groups)
        {
            _reserved.Get(type, uuid).Set(reserved);
            foreach (var (mode, used, total, ratio) in layouts)
            {
                _used.Get(type, mode, uuid).Set(used);
                _size.Get(type, mode, uuid).Set(total);
                _ratio.Get(type, mode, uuid).Set(ratio);
            }
        }

        foreach (var (device, size) in deviceSizes)
        {
            _deviceSize.Get(device, uuid).Set(size);
        }
    }

    private static double Ratio(string mode, int devCount) => mode switch
    {
        "single" or "raid0" => 1,
        "dup" or "raid1" or "raid10" => 2,
        "raid5" => devCount / ((double)devCount - 1),
        "raid6" => devCount / ((double)devCount - 2),
        _ => 0,
    };

    private string PathOf(string dir, string file)
    {
        if (!_paths.TryGetValue((dir, file), out var path))
        {
            path = Path.Join(dir, file);
            _paths[(dir, file)] = path;
        }

        return path;
    }

    /// <summary>procfs' readFile: trimmed content; empty when missing; other read errors propagate.</summary>
    private string Text(string path)
    {
        try
        {
            return _reader.ReadAttribute(path).Trim().ToString();
        }
        catch (Exception ex) when (SourceLog.IsMissing(ex))
        {
            return "";
        }
    }

    /// <summary>procfs' readValue: a decimal unsigned integer; 0 when missing or not a number.</summary>
    private double Value(string path)
    {
        ReadOnlySpan<char> text;
        try
        {
            text = _reader.ReadAttribute(path).Trim();
        }
        catch (Exception ex) when (SourceLog.IsMissing(ex))
        {
            return 0;
        }

        return Numbers.TryParseUInt64(text, out var v) ? v : 0;
    }
}
