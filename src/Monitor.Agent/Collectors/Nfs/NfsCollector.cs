using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Nfs;

/// <summary>
/// node_exporter's nfs collector: the NFS client's RPC statistics from <c>/proc/net/rpc/nfs</c> (packets,
/// connections, RPCs, retransmissions, authentication refreshes, and every NFSv2, v3 and v4 procedure by name).
/// </summary>
/// <remarks>
/// As node_exporter 1.5.0 (procfs v0.8.0): a malformed file fails the collector; a line the file lacks exports
/// zeros; a v4 line shorter than the 59 procedures known is padded with zeros. No file (the nfs module is not
/// loaded): no series, one debug line (node_exporter returns ErrNoData, so success 0; we report success, as for
/// pressure and conntrack).
/// </remarks>
internal sealed class NfsCollector : ICollector
{
    private const int Net = 0, Rpc = 1, Proc2 = 2, Proc3 = 3, Proc4 = 4;

    /// <summary>procfs' V2Stats fields, in order (the method label).</summary>
    internal static readonly string[] V2 = ["Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write", "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat"];

    /// <summary>procfs' V3Stats fields, in order.</summary>
    internal static readonly string[] V3 = ["Null", "GetAttr", "SetAttr", "Lookup", "Access", "ReadLink", "Read", "Write", "Create", "MkDir", "SymLink", "MkNod", "Remove", "RmDir", "Rename", "Link", "ReadDir", "ReadDirPlus", "FsStat", "FsInfo", "PathConf", "Commit"];

    /// <summary>procfs' ClientV4Stats fields, in order.</summary>
    private static readonly string[] V4 =
    [
        "Null", "Read", "Write", "Commit", "Open", "OpenConfirm", "OpenNoattr", "OpenDowngrade", "Close", "Setattr", "FsInfo", "Renew", "SetClientID",
        "SetClientIDConfirm", "Lock", "Lockt", "Locku", "Access", "Getattr", "Lookup", "LookupRoot", "Remove", "Rename", "Link", "Symlink", "Create",
        "Pathconf", "StatFs", "ReadLink", "ReadDir", "ServerCaps", "DelegReturn", "GetACL", "SetACL", "FsLocations", "ReleaseLockowner", "Secinfo",
        "FsidPresent", "ExchangeID", "CreateSession", "DestroySession", "Sequence", "GetLeaseTime", "ReclaimComplete", "LayoutGet", "GetDeviceInfo",
        "LayoutCommit", "LayoutReturn", "SecinfoNoName", "TestStateID", "FreeStateID", "GetDeviceList", "BindConnToSession", "DestroyClientID", "Seek",
        "Allocate", "DeAllocate", "LayoutStats", "Clone",
    ];

    private readonly TextFileReader _reader = new();
    private readonly RpcStats _stats = new(["net", "rpc", "proc2", "proc3", "proc4"]);
    private readonly ILogger _logger;
    private readonly string _path;
    private readonly MetricFamily _packets;
    private readonly MetricFamily _connections;
    private readonly MetricFamily _rpcs;
    private readonly MetricFamily _retransmissions;
    private readonly MetricFamily _refreshes;
    private readonly MetricFamily _requests;
    private bool _loggedMissing;

    public NfsCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _path = context.Paths.Proc("net/rpc/nfs");
        var g = context.Group;
        _packets = g.Counter("node_nfs_packets_total", "Total NFSd network packets (sent+received) by protocol type.", "protocol");
        _connections = g.Counter("node_nfs_connections_total", "Total number of NFSd TCP connections.");
        _rpcs = g.Counter("node_nfs_rpcs_total", "Total number of RPCs performed.");
        _retransmissions = g.Counter("node_nfs_rpc_retransmissions_total", "Number of RPC transmissions performed.");
        _refreshes = g.Counter("node_nfs_rpc_authentication_refreshes_total", "Number of RPC authentication refreshes performed.");
        _requests = g.Counter("node_nfs_requests_total", "Number of NFS procedures invoked.", "proto", "method");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "nfs", "NFS client RPC statistics from /proc/net/rpc/nfs.", true, Cadence.OnScrape, TimeSpan.Zero, c => new NfsCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        // One failed open, not an exception per scrape, on the many nodes without the nfs module.
        if (!_reader.TryReadAll(_path, out var text))
        {
            SourceLog.MissingOnce(_logger, ref _loggedMissing, "nfs", _path, "no NFS client statistics");
            return;
        }

        var problem = _stats.Parse(text)
            ?? _stats.CheckLength(Net, 4) ?? _stats.CheckLength(Rpc, 3)
            ?? _stats.CheckCounted(Proc2, 18) ?? _stats.CheckCounted(Proc3, 22) ?? _stats.CheckCounted(Proc4, 0);
        if (problem is not null)
        {
            throw new Parsing.MalformedSourceException(_path, problem);
        }

        _packets.Get("udp").Set(_stats.Value(Net, 1));
        _packets.Get("tcp").Set(_stats.Value(Net, 2));
        _connections.Get().Set(_stats.Value(Net, 3));
        _rpcs.Get().Set(_stats.Value(Rpc, 0));
        _retransmissions.Get().Set(_stats.Value(Rpc, 1));
        _refreshes.Get().Set(_stats.Value(Rpc, 2));
        Requests(_requests, _stats, Proc2, "2", ClientV2);
        Requests(_requests, _stats, Proc3, "3", ClientV3);
        Requests(_requests, _stats, Proc4, "4", ClientV4);
    }

    /// <summary>Each of <paramref name="names"/> with its position on a counted line (after the count, from 1).</summary>
    internal static (string Name, int At)[] Positions(IEnumerable<string> names) => [.. names.Select((name, i) => (name, i + 1))];

    /// <summary>Sets <c>requests_total{proto,method}</c> for <paramref name="methods"/> from line <paramref name="line"/>.</summary>
    internal static void Requests(MetricFamily family, RpcStats stats, int line, string proto, (string Name, int At)[] methods)
    {
        foreach (var (name, at) in methods)
        {
            family.Get(proto, name).Set(stats.Value(line, at));
        }
    }

    private static readonly (string, int)[] ClientV2 = Positions(V2);
    private static readonly (string, int)[] ClientV3 = Positions(V3);
    private static readonly (string, int)[] ClientV4 = Positions(V4);
}
