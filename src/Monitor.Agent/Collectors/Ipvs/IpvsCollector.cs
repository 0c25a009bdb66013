using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Ipvs;

/// <summary>
/// node_exporter's ipvs collector: the IPVS totals of <c>/proc/net/ip_vs_stats</c> (<c>node_ipvs_connections_total</c>,
/// packets and bytes in and out) and, per backend of <c>/proc/net/ip_vs</c>, its weight and active and inactive
/// connections, summed over the backends that share the labels chosen by <c>--collector.ipvs.backend-labels</c>.
/// </summary>
/// <remarks>
/// As node_exporter 1.5.0 (procfs 0.8.0): no <c>ip_vs_stats</c> means no IPVS on this host (we report success with no
/// series, logged once at debug; node_exporter returns ErrNoData); a malformed <c>ip_vs_stats</c> or a missing or
/// malformed <c>ip_vs</c> fails the collector, after the totals were set when they read. A service line of another
/// protocol than TCP, UDP or FWM (SCTP) is ignored, so its backends count for the service before it, as in procfs.
/// Addresses are formatted as Go's <c>net.IP.String</c> does (RFC 5952; IPv4-mapped IPv6 as dotted IPv4).
/// Per scrape this allocates nothing once the backends have been seen: parsed addresses and label sets are cached.
/// </remarks>
internal sealed class IpvsCollector : ICollector
{
    /// <summary>Every backend label, in node_exporter's order (which is also the flag's default).</summary>
    internal static readonly string[] FullBackendLabels = ["local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"];

    private const int MaxCachedEntries = 4096;

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _statsPath;
    private readonly string _backendsPath;
    private readonly int[] _labelFields;
    private readonly MetricFamily _connections;
    private readonly MetricFamily _incomingPackets;
    private readonly MetricFamily _outgoingPackets;
    private readonly MetricFamily _incomingBytes;
    private readonly MetricFamily _outgoingBytes;
    private readonly MetricFamily _backendActive;
    private readonly MetricFamily _backendInactive;
    private readonly MetricFamily _backendWeight;

    // "C0A80016:0CEA" -> ("192.168.0.22", "3306"); strings made once per distinct address.
    private readonly Dictionary<string, IpPort> _ipPorts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IpPort>.AlternateLookup<ReadOnlySpan<char>> _ipPortLookup;
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _stringLookup;

    // Sums per label set, keyed by the label values joined with U+FFFF.
    private readonly Dictionary<string, BackendSum> _sums = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BackendSum>.AlternateLookup<ReadOnlySpan<char>> _sumLookup;
    private readonly string[] _values;
    private char[] _keyBuffer = new char[256];
    private long _generation;
    private bool _loggedUnavailable;

    public IpvsCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _statsPath = context.Paths.Proc("net/ip_vs_stats");
        _backendsPath = context.Paths.Proc("net/ip_vs");
        var labels = ParseLabels(context.Settings["backend-labels"] ?? string.Join(',', FullBackendLabels));
        _labelFields = labels.Select(l => Array.IndexOf(FullBackendLabels, l)).ToArray();
        _values = new string[labels.Length];
        _ipPortLookup = _ipPorts.GetAlternateLookup<ReadOnlySpan<char>>();
        _stringLookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
        _sumLookup = _sums.GetAlternateLookup<ReadOnlySpan<char>>();

        var g = context.Group;
        _connections = g.Counter("node_ipvs_connections_total", "The total number of connections made.");
        _incomingPackets = g.Counter("node_ipvs_incoming_packets_total", "The total number of incoming packets.");
        _outgoingPackets = g.Counter("node_ipvs_outgoing_packets_total", "The total number of outgoing packets.");
        _incomingBytes = g.Counter("node_ipvs_incoming_bytes_total", "The total amount of incoming data.");
        _outgoingBytes = g.Counter("node_ipvs_outgoing_bytes_total", "The total amount of outgoing data.");
        _backendActive = g.Gauge("node_ipvs_backend_connections_active", "The current active connections by local and remote address.", labels);
        _backendInactive = g.Gauge("node_ipvs_backend_connections_inactive", "The current inactive connections by local and remote address.", labels);
        _backendWeight = g.Gauge("node_ipvs_backend_weight", "The current backend weight by local and remote address.", labels);
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "ipvs", "IPVS status from /proc/net/ip_vs and stats from /proc/net/ip_vs_stats.", true, Cadence.OnScrape, TimeSpan.Zero, c => new IpvsCollector(c),
        [new CollectorFlag("backend-labels", string.Join(',', FullBackendLabels), "Comma separated list for IPVS backend stats labels.")]);

    /// <summary>
    /// The flag's labels in node_exporter's order, duplicates and empty items dropped; an unknown label throws, as
    /// node_exporter fails to create the collector.
    /// </summary>
    internal static string[] ParseLabels(string text)
    {
        var given = text.Split(',').Where(l => l.Length > 0).ToHashSet(StringComparer.Ordinal);
        var unknown = given.Except(FullBackendLabels, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"Collectors:ipvs:backend-labels: unknown IPVS backend labels: \"{string.Join(", ", unknown)}\"", nameof(text));
        }

        return FullBackendLabels.Where(given.Contains).ToArray();
    }

    public void Update(CancellationToken cancellationToken)
    {
        // Without the ip_vs module: one failed open, no exception per scrape.
        if (!_reader.TryReadAll(_statsPath, out var stats))
        {
            if (!_loggedUnavailable)
            {
                _loggedUnavailable = true;
                DeviceCollectorLog.SourceUnavailable(_logger, "ipvs", _statsPath);
            }

            return;
        }

        SetStats(stats);
        SumBackends(_reader.ReadAll(_backendsPath));

        List<string>? gone = null;
        foreach (var (key, sum) in _sums)
        {
            if (sum.Generation != _generation)
            {
                (gone ??= []).Add(key);
                continue;
            }

            _backendActive.Get(sum.Labels).Set(sum.Active);
            _backendInactive.Get(sum.Labels).Set(sum.Inactive);
            _backendWeight.Get(sum.Labels).Set(sum.Weight);
        }

        foreach (var key in gone ?? [])
        {
            _sums.Remove(key);
        }
    }

    private void SetStats(ReadOnlySpan<char> text)
    {
        // procfs: strings.SplitN(content, "\n", 4) must give 4 parts, and the third line holds exactly five hex fields.
        var lines = new LineReader(text);
        var newlines = text.Count('\n');
        if (newlines < 3)
        {
            throw new MalformedSourceException(_statsPath, "ip_vs_stats corrupt: too short");
        }

        lines.TryNext(out _);
        lines.TryNext(out _);
        lines.TryNext(out var totals);
        Span<ulong> values = stackalloc ulong[5];
        var fields = new FieldReader(totals);
        var count = 0;
        while (fields.TryNext(out var field))
        {
            if (count == 5)
            {
                count++;
                break;
            }

            if (!TryParseHex(field, 64, out values[count]))
            {
                throw new MalformedSourceException(_statsPath, $"not a hexadecimal number: '{field}'");
            }

            count++;
        }

        if (count != 5)
        {
            throw new MalformedSourceException(_statsPath, "ip_vs_stats corrupt: unexpected number of fields");
        }

        _connections.Get().Set(values[0]);
        _incomingPackets.Get().Set(values[1]);
        _outgoingPackets.Get().Set(values[2]);
        _incomingBytes.Get().Set(values[3]);
        _outgoingBytes.Get().Set(values[4]);
    }

    private void SumBackends(ReadOnlySpan<char> text)
    {
        _generation++;
        string proto = "";
        string localMark = "";
        IpPort local = IpPort.None;
        var lines = new LineReader(text);
        Span<Range> parts = stackalloc Range[7];
        while (lines.TryNext(out var line))
        {
            var fields = new FieldReader(line);
            if (!fields.TryNext(out var first))
            {
                continue;
            }

            if (first is "IP" or "Prot")
            {
                continue;
            }

            if (!fields.TryNext(out var second))
            {
                // procfs indexes fields[1] here and panics; we report the file as malformed.
                throw new MalformedSourceException(_backendsPath, $"a line with one field: '{line.Trim()}'");
            }

            if (second is "RemoteAddress:Port")
            {
                continue;
            }

            switch (first)
            {
                case "TCP" or "UDP":
                    proto = first is "TCP" ? "TCP" : "UDP";
                    localMark = "";
                    local = ParseIpPort(second);
                    break;
                case "FWM":
                    proto = "FWM";
                    localMark = Intern(second);
                    local = IpPort.None;
                    break;
                case "->":
                    if (!fields.TryNext(out _) || !fields.TryNext(out var weightText) || !fields.TryNext(out var activeText) || !fields.TryNext(out var inactiveText))
                    {
                        continue;
                    }

                    var remote = ParseIpPort(second);
                    var weight = Decimal(weightText);
                    var active = Decimal(activeText);
                    var inactive = Decimal(inactiveText);
                    var sum = Sum(local, remote, proto, localMark);
                    sum.Weight += weight;
                    sum.Active += active;
                    sum.Inactive += inactive;
                    break;
            }
        }
    }

    private BackendSum Sum(IpPort local, IpPort remote, string proto, string localMark)
    {
        var length = 0;
        for (var i = 0; i < _labelFields.Length; i++)
        {
            _values[i] = _labelFields[i] switch
            {
                0 => local.Address,
                1 => local.Port,
                2 => remote.Address,
                3 => remote.Port,
                4 => proto,
                _ => localMark,
            };
            length += _values[i].Length + 1;
        }

        if (_keyBuffer.Length < length)
        {
            _keyBuffer = new char[length * 2];
        }

        var n = 0;
        foreach (var value in _values)
        {
            value.CopyTo(_keyBuffer.AsSpan(n));
            n += value.Length;
            _keyBuffer[n++] = '\uFFFF';
        }

        var key = _keyBuffer.AsSpan(0, n);
        if (!_sumLookup.TryGetValue(key, out var sum))
        {
            sum = new BackendSum([.. _values]);
            _sumLookup[key] = sum;
        }

        if (sum.Generation != _generation)
        {
            sum.Generation = _generation;
            sum.Weight = sum.Active = sum.Inactive = 0;
        }

        return sum;
    }

    private ulong Decimal(ReadOnlySpan<char> text) =>
        Numbers.TryParseUInt64(text, out var value) ? value : throw new MalformedSourceException(_backendsPath, $"not a whole number: '{text}'");

    private string Intern(ReadOnlySpan<char> text)
    {
        if (_stringLookup.TryGetValue(text, out var s))
        {
            return s;
        }

        if (_strings.Count >= MaxCachedEntries)
        {
            _strings.Clear();
        }

        s = text.ToString();
        _strings[s] = s;
        return s;
    }

    private IpPort ParseIpPort(ReadOnlySpan<char> text)
    {
        if (_ipPortLookup.TryGetValue(text, out var cached))
        {
            return cached;
        }

        var parsed = IpvsAddress.ParseIpPort(text);
        if (!parsed.Success)
        {
            throw new MalformedSourceException(_backendsPath, parsed.Error!);
        }

        if (_ipPorts.Count >= MaxCachedEntries)
        {
            _ipPorts.Clear();
        }

        _ipPorts[text.ToString()] = parsed.Value!;
        return parsed.Value!;
    }

    /// <summary>Parses Go's <c>strconv.ParseUint(s, 16, bits)</c>: hex digits only, no prefix or sign, no overflow.</summary>
    internal static bool TryParseHex(ReadOnlySpan<char> text, int bits, out ulong value)
    {
        value = 0;
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (var c in text)
        {
            int digit = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'f' => c - 'a' + 10,
                >= 'A' and <= 'F' => c - 'A' + 10,
                _ => -1,
            };
            if (digit < 0 || value >> (bits - 4) != 0)
            {
                return false;
            }

            value = (value << 4) | (uint)digit;
        }

        return true;
    }

    /// <summary>The label values of one address and port.</summary>
    internal sealed record IpPort(string Address, string Port)
    {
        /// <summary>An FWM service, or a backend before any service: procfs' nil address ("") and port 0.</summary>
        public static IpPort None { get; } = new("", "0");
    }

    private sealed class BackendSum(string[] labels)
    {
        public string[] Labels { get; } = labels;

        public long Generation { get; set; }

        public ulong Weight { get; set; }

        public ulong Active { get; set; }

        public ulong Inactive { get; set; }
    }
}
