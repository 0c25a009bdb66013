using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.InfiniBand;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.NetClass;

/// <summary>
/// node_exporter 1.5.0's netclass collector over <c>/sys/class/net/&lt;iface&gt;/</c>: <c>node_network_info</c>,
/// <c>node_network_up</c> and one <c>node_network_&lt;property&gt;{device}</c> per numeric attribute (carrier, speed,
/// mtu, carrier changes, ...), the RoCE and IPoIB side of the fabric.
/// </summary>
/// <remarks>
/// Interfaces matching <c>ignored-devices</c> are skipped before any of their files is read, as in node_exporter. An
/// attribute the kernel refuses (EINVAL on a down link's <c>speed</c>, EACCES) is left out, as procfs does; one that
/// does not parse drops only that interface (one warning), where node_exporter fails the whole collector. 1.5.0's
/// <c>--collector.netclass.netlink</c> mode is not implemented: we always read sysfs.
/// </remarks>
internal sealed class NetClassCollector : ICollector
{
    /// <summary>node_exporter 1.5.0's default <c>--collector.netclass.ignored-devices</c>.</summary>
    public const string DefaultIgnoredDevices = "^$";

    /// <summary>Numeric attributes in node_exporter's order: file, metric suffix, whether it is a counter.</summary>
    private static readonly (string File, string Metric, bool Counter)[] Attributes =
    [
        ("addr_assign_type", "address_assign_type", false),
        ("carrier", "carrier", false),
        ("carrier_changes", "carrier_changes_total", true),
        ("carrier_up_count", "carrier_up_changes_total", true),
        ("carrier_down_count", "carrier_down_changes_total", true),
        ("dev_id", "device_id", false),
        ("dormant", "dormant", false),
        ("flags", "flags", false),
        ("ifindex", "iface_id", false),
        ("iflink", "iface_link", false),
        ("link_mode", "iface_link_mode", false),
        ("mtu", "mtu_bytes", false),
        ("name_assign_type", "name_assign_type", false),
        ("netdev_group", "net_dev_group", false),
        ("speed", "speed_bytes", false),
        ("tx_queue_len", "transmit_queue_length", false),
        ("type", "protocol_type", false),
    ];

    private const int SpeedIndex = 14;

    private readonly TextFileReader _reader = new();
    private readonly string _classDirectory;
    private readonly System.Text.RegularExpressions.Regex? _ignored;
    private readonly bool _ignoreInvalidSpeed;
    private readonly ILogger _logger;
    private readonly MetricFamily _info;
    private readonly MetricFamily _up;
    private readonly MetricFamily[] _families;
    private readonly Dictionary<string, Interface> _interfaces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Interface>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly List<string> _stale = [];
    private readonly long[] _values = new long[Attributes.Length];
    private readonly bool[] _present = new bool[Attributes.Length];
    private long _generation;

    public NetClassCollector(CollectorContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _classDirectory = context.Paths.Sys("class/net");
        _logger = context.Logger;
        var pattern = context.Settings["ignored-devices"] ?? DefaultIgnoredDevices;
        _ignored = string.IsNullOrEmpty(pattern)
            ? null
            : new System.Text.RegularExpressions.Regex(pattern, System.Text.RegularExpressions.RegexOptions.CultureInvariant | System.Text.RegularExpressions.RegexOptions.Compiled);
        _ignoreInvalidSpeed = bool.TryParse(context.Settings["ignore-invalid-speed"], out var ignore) && ignore;
        _lookup = _interfaces.GetAlternateLookup<ReadOnlySpan<char>>();

        var g = context.Group;
        _info = g.Gauge("node_network_info", "Non-numeric data from /sys/class/net/<iface>, value is always 1.", "address", "broadcast", "device", "duplex", "ifalias", "operstate");
        _up = g.Gauge("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", "device");
        _families = [.. Attributes.Select(a => a.Counter
            ? g.Counter("node_network_" + a.Metric, "Network device property: " + a.Metric, "device")
            : g.Gauge("node_network_" + a.Metric, "Network device property: " + a.Metric, "device"))];
    }

    /// <summary>
    /// Registration: enabled by default, sampled in the background every 10 s (node_exporter reads it in the scrape).
    /// About 22 sysfs attributes per interface make it the dearest host collector: on the build machine, 1.7 ms of a
    /// scrape's CPU alone beside a 0.4 ms floor (docs/performance.md), more than the other 35 on-scrape collectors
    /// together; it reads link properties that change rarely.
    /// </summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "netclass",
        "Network interface properties (carrier, operstate, speed, mtu, carrier changes) from /sys/class/net.",
        true,
        Cadence.Background,
        TimeSpan.FromSeconds(10),
        c => new NetClassCollector(c),
        [
            new CollectorFlag("ignored-devices", DefaultIgnoredDevices, "Regexp of net devices to ignore for netclass collector.", FlagKind.Regex),
            new CollectorFlag("ignore-invalid-speed", "false", "Ignore devices where the speed is invalid.", FlagKind.Bool),
        ]);

    /// <inheritdoc/>
    public void Update(CancellationToken cancellationToken)
    {
        var generation = ++_generation;
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(_classDirectory);
        }
        catch (DirectoryNotFoundException)
        {
            return;
        }

        foreach (var entry in entries)
        {
            var name = Path.GetFileName(entry.AsSpan());
            if (_ignored is not null && _ignored.IsMatch(name))
            {
                continue;
            }

            if (!_lookup.TryGetValue(name, out var iface))
            {
                // bonding_masters and other plain files are not interfaces (procfs skips regular files).
                if (!Directory.Exists(entry))
                {
                    continue;
                }

                iface = new Interface(name.ToString(), entry);
                _interfaces.Add(iface.Name, iface);
            }

            iface.LastSeen = generation;
            Collect(iface);
        }

        Prune(generation);
    }

    private void Collect(Interface iface)
    {
        for (var i = 0; i < Attributes.Length; i++)
        {
            _present[i] = false;
            if (!TryRead(iface.Paths[i], out var text))
            {
                continue;
            }

            if (!InfiniBandParser.TryParseInt64Base0(text.Trim(), out _values[i]))
            {
                Skip(iface, $"{iface.Paths[i]}: '{text}' is not an integer");
                return;
            }

            _present[i] = true;
        }

        iface.Address = ReadString(iface.AddressPath, iface.Address);
        iface.Broadcast = ReadString(iface.BroadcastPath, iface.Broadcast);
        iface.Duplex = ReadString(iface.DuplexPath, iface.Duplex);
        iface.IfAlias = ReadString(iface.IfAliasPath, iface.IfAlias);
        iface.OperState = ReadString(iface.OperStatePath, iface.OperState);
        _warned.Remove(iface.Name);

        _up.Get(iface.Name).Set(iface.OperState == "up" ? 1 : 0);
        _info.Get(iface.Address, iface.Broadcast, iface.Name, iface.Duplex, iface.IfAlias, iface.OperState).Set(1);
        for (var i = 0; i < Attributes.Length; i++)
        {
            if (!_present[i])
            {
                continue;
            }

            var value = _values[i];
            if (i == SpeedIndex)
            {
                // Some drivers report -1 when the speed is unknown; node_exporter keeps it unless told not to, and
                // converts Mb/s in integer arithmetic.
                if (value < 0 && _ignoreInvalidSpeed)
                {
                    continue;
                }

                value = unchecked(value * 1000 * 1000 / 8);
            }

            _families[i].Get(iface.Name).Set(value);
        }
    }

    private string ReadString(string path, string previous)
    {
        if (!TryRead(path, out var text))
        {
            return string.Empty;
        }

        // procfs trims white space around attribute values.
        text = text.Trim();
        return text.SequenceEqual(previous) ? previous : text.ToString();
    }

    private bool TryRead(string path, out ReadOnlySpan<char> text)
    {
        try
        {
            text = _reader.ReadAttribute(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Missing, EINVAL (speed and carrier of a down link), EOPNOTSUPP or EACCES: left out, as procfs does.
            text = default;
            return false;
        }
    }

    private void Skip(Interface iface, string problem)
    {
        if (_warned.Add(iface.Name))
        {
            HostCollectorLog.NetClassInterfaceSkipped(_logger, iface.Name, problem);
        }
        else
        {
            HostCollectorLog.NetClassInterfaceSkippedAgain(_logger, iface.Name, problem);
        }
    }

    private void Prune(long generation)
    {
        _stale.Clear();
        foreach (var (name, iface) in _interfaces)
        {
            if (iface.LastSeen != generation)
            {
                _stale.Add(name);
            }
        }

        foreach (var name in _stale)
        {
            _interfaces.Remove(name);
            _warned.Remove(name);
        }
    }

    /// <summary>One interface: its attribute paths (joined once) and its last string values (reused while unchanged).</summary>
    private sealed class Interface(string name, string directory)
    {
        public string Name { get; } = name;

        public string Directory { get; } = directory;

        public string[] Paths { get; } = [.. Attributes.Select(a => Path.Join(directory, a.File))];

        public string AddressPath { get; } = Path.Join(directory, "address");

        public string BroadcastPath { get; } = Path.Join(directory, "broadcast");

        public string DuplexPath { get; } = Path.Join(directory, "duplex");

        public string IfAliasPath { get; } = Path.Join(directory, "ifalias");

        public string OperStatePath { get; } = Path.Join(directory, "operstate");

        public string Address { get; set; } = string.Empty;

        public string Broadcast { get; set; } = string.Empty;

        public string Duplex { get; set; } = string.Empty;

        public string IfAlias { get; set; } = string.Empty;

        public string OperState { get; set; } = string.Empty;

        public long LastSeen { get; set; }
    }
}
