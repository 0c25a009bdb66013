using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.DiskStats;

/// <summary>
/// node_exporter's diskstats collector (1.5.0 with default flags): the <c>node_disk_*</c> I/O counters from
/// <c>/proc/diskstats</c>, and from udev data <c>node_disk_info</c>, <c>node_disk_filesystem_info</c>,
/// <c>node_disk_device_mapper_info</c> and the <c>node_disk_ata_*</c> gauges.
/// </summary>
/// <remarks>
/// <para>Only as many counter families as the kernel's line has are written (11, 15 or 17). Sectors are always 512
/// bytes in /proc/diskstats whatever the device's logical block size, and node_exporter 1.5.0 multiplies by 512.</para>
/// <para>Udev data is read from <c>&lt;rootfs&gt;/run/udev/data</c> (node_exporter has a separate
/// <c>--path.udev.data</c> flag defaulting to <c>/run/udev/data</c>, which containers must remember to change).</para>
/// <para>The device filter runs before anything is read for a device, and a line that does not parse drops only
/// that device; node_exporter fails the whole collector instead.</para>
/// </remarks>
internal sealed class DiskStatsCollector : ICollector
{
    /// <summary>node_exporter's default <c>--collector.diskstats.device-exclude</c> (current upstream; 1.5.0 had <c>ram</c> for <c>z?ram</c>).</summary>
    public const string DefaultExclude = @"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

    private const double SectorBytes = 512.0;
    private const double SecondsPerTick = 0.001;

    /// <summary>Counters in kernel order, with the factor node_exporter applies (1 = exported as read).</summary>
    private static readonly (string Name, string Help, bool Gauge, double Factor)[] Counters =
    [
        ("node_disk_reads_completed_total", "The total number of reads completed successfully.", false, 1),
        ("node_disk_reads_merged_total", "The total number of reads merged.", false, 1),
        ("node_disk_read_bytes_total", "The total number of bytes read successfully.", false, SectorBytes),
        ("node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", false, SecondsPerTick),
        ("node_disk_writes_completed_total", "The total number of writes completed successfully.", false, 1),
        ("node_disk_writes_merged_total", "The number of writes merged.", false, 1),
        ("node_disk_written_bytes_total", "The total number of bytes written successfully.", false, SectorBytes),
        ("node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", false, SecondsPerTick),
        ("node_disk_io_now", "The number of I/Os currently in progress.", true, 1),
        ("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", false, SecondsPerTick),
        ("node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", false, SecondsPerTick),
        ("node_disk_discards_completed_total", "The total number of discards completed successfully.", false, 1),
        ("node_disk_discards_merged_total", "The total number of discards merged.", false, 1),
        ("node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.", false, 1),
        ("node_disk_discard_time_seconds_total", "This is the total number of seconds spent by all discards.", false, SecondsPerTick),
        ("node_disk_flush_requests_total", "The total number of flush requests completed successfully", false, 1),
        ("node_disk_flush_requests_time_seconds_total", "This is the total number of seconds spent by all flush requests.", false, SecondsPerTick),
    ];

    private readonly TextFileReader _reader = new();
    private readonly TextFileReader _udevReader = new();
    private readonly ILogger _logger;
    private readonly string _path;
    private readonly string _udevDataDirectory;
    private readonly DeviceFilter _filter;
    private readonly MetricFamily[] _counters;
    private readonly MetricFamily _info;
    private readonly MetricFamily _filesystemInfo;
    private readonly MetricFamily _deviceMapperInfo;
    private readonly MetricFamily _ataWriteCache;
    private readonly MetricFamily _ataWriteCacheEnabled;
    private readonly MetricFamily _ataRotationRate;
    private readonly Dictionary<string, DiskDevice> _devices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DiskDevice>.AlternateLookup<ReadOnlySpan<char>> _deviceLookup;
    private long _update;
    private bool _warned;

    public DiskStatsCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _path = context.Paths.Proc("diskstats");
        _udevDataDirectory = context.Paths.Root("/run/udev/data");
        _filter = DeviceFilter.FromSettings(context.Settings, DefaultExclude);
        _deviceLookup = _devices.GetAlternateLookup<ReadOnlySpan<char>>();

        var g = context.Group;
        _counters = [.. Counters.Select(c => c.Gauge ? g.Gauge(c.Name, c.Help, "device") : g.Counter(c.Name, c.Help, "device"))];
        _info = g.Gauge("node_disk_info", "Info of /sys/block/<block_device>.",
            "device", "major", "minor", "path", "wwn", "model", "serial", "revision");
        _filesystemInfo = g.Gauge("node_disk_filesystem_info", "Info about disk filesystem.", "device", "type", "usage", "uuid", "version");
        _deviceMapperInfo = g.Gauge("node_disk_device_mapper_info", "Info about disk device mapper.",
            "device", "name", "uuid", "vg_name", "lv_name", "lv_layer");
        _ataWriteCache = g.Gauge("node_disk_ata_write_cache", "ATA disk has a write cache.", "device");
        _ataWriteCacheEnabled = g.Gauge("node_disk_ata_write_cache_enabled", "ATA disk has its write cache enabled.", "device");
        _ataRotationRate = g.Gauge("node_disk_ata_rotation_rate_rpm", "ATA disk rotation rate in RPMs (0 for SSDs).", "device");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "diskstats", "Block device I/O statistics from /proc/diskstats and udev data.", true, Cadence.OnScrape, TimeSpan.Zero,
        c => new DiskStatsCollector(c), DeviceFilter.Flags("diskstats", DefaultExclude));

    public void Update(CancellationToken cancellationToken)
    {
        _update++;
        var lines = new LineReader(_reader.ReadAll(_path));
        while (lines.TryNext(out var line))
        {
            if (line.IsWhiteSpace())
            {
                continue;
            }

            var parsed = DiskStatsParser.ParseLine(line);
            if (!parsed.Success)
            {
                Skipped(parsed.Error!);
                continue;
            }

            var stats = parsed.Value;
            var name = line[stats.Name];
            if (_filter.IsIgnored(name))
            {
                continue;
            }

            var device = Device(name, stats.Major, stats.Minor);
            device.LastSeen = _update;
            RefreshUdev(device);
            WriteInfo(device);

            for (var i = 0; i < stats.CounterCount; i++)
            {
                // node_exporter computes float64(counter) * factor; the same operation keeps values bit-identical.
                var factor = Counters[i].Factor;
                var value = (double)stats.Counters[i];
                _counters[i].Get(name).Set(factor == 1 ? value : value * factor);
            }
        }

        // Forget devices that went away, so the cache does not grow with hot-plugged disks. Removing while
        // enumerating is allowed for Dictionary since .NET Core 3.0.
        foreach (var (key, device) in _devices)
        {
            if (device.LastSeen != _update)
            {
                _devices.Remove(key);
            }
        }
    }

    private DiskDevice Device(ReadOnlySpan<char> name, uint major, uint minor)
    {
        if (!_deviceLookup.TryGetValue(name, out var device) || device.Major != major || device.Minor != minor)
        {
            device = new DiskDevice(name.ToString(), major, minor, _udevDataDirectory);
            _devices[device.Name] = device;
        }

        return device;
    }

    private void RefreshUdev(DiskDevice device)
    {
        // No udev data (no udevd in the container, or a device udev ignores) is the common case on some hosts: a
        // failed open, not an exception per device per scrape.
        ReadOnlySpan<char> text;
        string? problem;
        try
        {
            problem = _udevReader.TryReadAll(device.UdevPath, out text) ? null : "no such file";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            text = default;
            problem = ex.Message;
        }

        if (problem is not null)
        {
            // node_disk_info keeps empty labels.
            HostCollectorLog.UdevDataUnavailable(_logger, device.Name, device.UdevPath, problem);
            if (device.UdevText is not null)
            {
                device.SetUdev(null, UdevProperties.Empty);
            }

            return;
        }

        if (device.UdevText is null || !text.SequenceEqual(device.UdevText))
        {
            device.SetUdev(text.ToString(), UdevDataParser.Parse(text));
        }
    }

    private void WriteInfo(DiskDevice device)
    {
        _info.Get(device.InfoLabels).Set(1);
        if (device.FilesystemLabels is { } fs)
        {
            _filesystemInfo.Get(fs).Set(1);
        }

        if (device.DeviceMapperLabels is { } dm)
        {
            _deviceMapperInfo.Get(dm).Set(1);
        }

        var udev = device.Udev;
        if (udev.Ata.Length > 0)
        {
            WriteAta(_ataWriteCache, device, "ID_ATA_WRITE_CACHE", udev.AtaWriteCache);
            WriteAta(_ataWriteCacheEnabled, device, "ID_ATA_WRITE_CACHE_ENABLED", udev.AtaWriteCacheEnabled);
            WriteAta(_ataRotationRate, device, "ID_ATA_ROTATION_RATE_RPM", udev.AtaRotationRateRpm);
        }
    }

    private void WriteAta(MetricFamily family, DiskDevice device, string property, string? value)
    {
        if (value is null)
        {
            return;
        }

        if (Numbers.TryParseDouble(value, out var number))
        {
            family.Get(device.Name.AsSpan()).Set(number);
        }
        else
        {
            HostCollectorLog.UdevValueInvalid(_logger, property, device.Name, value);
        }
    }

    private void Skipped(string problem)
    {
        // Warn once; after that the same broken line would warn on every scrape.
        if (!_warned)
        {
            _warned = true;
            HostCollectorLog.EntrySkipped(_logger, _path, problem);
        }
        else
        {
            HostCollectorLog.EntrySkippedAgain(_logger, _path, problem);
        }
    }
}
