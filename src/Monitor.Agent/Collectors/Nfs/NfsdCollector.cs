using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Nfs;

/// <summary>
/// node_exporter's nfsd collector: the NFS server's statistics from <c>/proc/net/rpc/nfsd</c> (reply cache, stale
/// file handles, bytes, threads, read-ahead cache, packets, connections, RPC errors, and the NFSv2, v3 and v4
/// operations node_exporter names).
/// </summary>
/// <remarks>As <see cref="NfsCollector"/>: a malformed file fails the collector, a missing line reads as zeros, no file no series.</remarks>
internal sealed class NfsdCollector : ICollector
{
    private const int Rc = 0, Fh = 1, Io = 2, Th = 3, Ra = 4, Net = 5, Rpc = 6, Proc2 = 7, Proc3 = 8, Proc4 = 9, Proc4Ops = 10;

    // The v2 and v3 procedures without Null, as node_exporter lists them.
    private static readonly (string, int)[] ServerV2 = NfsCollector.Positions(NfsCollector.V2).Skip(1).ToArray();
    private static readonly (string, int)[] ServerV3 = NfsCollector.Positions(NfsCollector.V3).Skip(1).ToArray();

    // procfs' V4Ops fields from Access (4) on, without PutPubFH (24) and PutRootFH (25), which node_exporter skips.
    private static readonly (string, int)[] ServerV4 =
    [
        ("Access", 4), ("Close", 5), ("Commit", 6), ("Create", 7), ("DelegPurge", 8), ("DelegReturn", 9), ("GetAttr", 10), ("GetFH", 11), ("Link", 12),
        ("Lock", 13), ("Lockt", 14), ("Locku", 15), ("Lookup", 16), ("LookupRoot", 17), ("Nverify", 18), ("Open", 19), ("OpenAttr", 20),
        ("OpenConfirm", 21), ("OpenDgrd", 22), ("PutFH", 23), ("Read", 26), ("ReadDir", 27), ("ReadLink", 28), ("Remove", 29), ("Rename", 30),
        ("Renew", 31), ("RestoreFH", 32), ("SaveFH", 33), ("SecInfo", 34), ("SetAttr", 35), ("Verify", 36), ("Write", 37), ("RelLockOwner", 38),
    ];

    private readonly TextFileReader _reader = new();
    private readonly RpcStats _stats = new(["rc", "fh", "io", "th", "ra", "net", "rpc", "proc2", "proc3", "proc4", "proc4ops"]);
    private readonly ILogger _logger;
    private readonly string _path;
    private readonly MetricFamily _cacheHits;
    private readonly MetricFamily _cacheMisses;
    private readonly MetricFamily _cacheNoCache;
    private readonly MetricFamily _staleHandles;
    private readonly MetricFamily _bytesRead;
    private readonly MetricFamily _bytesWritten;
    private readonly MetricFamily _threads;
    private readonly MetricFamily _readAheadSize;
    private readonly MetricFamily _readAheadNotFound;
    private readonly MetricFamily _packets;
    private readonly MetricFamily _connections;
    private readonly MetricFamily _rpcErrors;
    private readonly MetricFamily _rpcs;
    private readonly MetricFamily _requests;
    private bool _loggedMissing;

    public NfsdCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _path = context.Paths.Proc("net/rpc/nfsd");
        var g = context.Group;
        _cacheHits = g.Counter("node_nfsd_reply_cache_hits_total", "Total number of NFSd Reply Cache hits (client lost server response).");
        _cacheMisses = g.Counter("node_nfsd_reply_cache_misses_total", "Total number of NFSd Reply Cache an operation that requires caching (idempotent).");
        _cacheNoCache = g.Counter("node_nfsd_reply_cache_nocache_total", "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).");
        _staleHandles = g.Counter("node_nfsd_file_handles_stale_total", "Total number of NFSd stale file handles");
        _bytesRead = g.Counter("node_nfsd_disk_bytes_read_total", "Total NFSd bytes read.");
        _bytesWritten = g.Counter("node_nfsd_disk_bytes_written_total", "Total NFSd bytes written.");
        _threads = g.Gauge("node_nfsd_server_threads", "Total number of NFSd kernel threads that are running.");
        _readAheadSize = g.Gauge("node_nfsd_read_ahead_cache_size_blocks", "How large the read ahead cache is in blocks.");
        _readAheadNotFound = g.Counter("node_nfsd_read_ahead_cache_not_found_total", "Total number of NFSd read ahead cache not found.");
        _packets = g.Counter("node_nfsd_packets_total", "Total NFSd network packets (sent+received) by protocol type.", "proto");
        _connections = g.Counter("node_nfsd_connections_total", "Total number of NFSd TCP connections.");
        _rpcErrors = g.Counter("node_nfsd_rpc_errors_total", "Total number of NFSd RPC errors by error type.", "error");
        _rpcs = g.Counter("node_nfsd_server_rpcs_total", "Total number of NFSd RPCs.");
        _requests = g.Counter("node_nfsd_requests_total", "Total number NFSd Requests by method and protocol.", "proto", "method");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "nfsd", "NFS server statistics from /proc/net/rpc/nfsd.", true, Cadence.OnScrape, TimeSpan.Zero, c => new NfsdCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        if (!_reader.TryReadAll(_path, out var text))
        {
            SourceLog.MissingOnce(_logger, ref _loggedMissing, "nfsd", _path, "no NFS server statistics");
            return;
        }

        var problem = _stats.Parse(text, firstTwoOnly: "th")
            ?? _stats.CheckLength(Rc, 3) ?? _stats.CheckLength(Fh, 5) ?? _stats.CheckLength(Io, 2) ?? _stats.CheckLength(Ra, 12)
            ?? _stats.CheckLength(Net, 4) ?? _stats.CheckLength(Rpc, 5)
            ?? _stats.CheckCounted(Proc2, 18) ?? _stats.CheckCounted(Proc3, 22) ?? _stats.CheckCounted(Proc4, 2, exactly: true)
            ?? _stats.CheckCounted(Proc4Ops, 39);
        if (problem is not null)
        {
            throw new Parsing.MalformedSourceException(_path, problem);
        }

        _cacheHits.Get().Set(_stats.Value(Rc, 0));
        _cacheMisses.Get().Set(_stats.Value(Rc, 1));
        _cacheNoCache.Get().Set(_stats.Value(Rc, 2));
        _staleHandles.Get().Set(_stats.Value(Fh, 0));
        _bytesRead.Get().Set(_stats.Value(Io, 0));
        _bytesWritten.Get().Set(_stats.Value(Io, 1));
        _threads.Get().Set(_stats.Value(Th, 0));
        _readAheadSize.Get().Set(_stats.Value(Ra, 0));
        _readAheadNotFound.Get().Set(_stats.Value(Ra, 11));
        _packets.Get("udp").Set(_stats.Value(Net, 1));
        _packets.Get("tcp").Set(_stats.Value(Net, 2));
        _connections.Get().Set(_stats.Value(Net, 3));
        _rpcErrors.Get("fmt").Set(_stats.Value(Rpc, 2));
        _rpcErrors.Get("auth").Set(_stats.Value(Rpc, 3));
        _rpcErrors.Get("cInt").Set(_stats.Value(Rpc, 4));
        _rpcs.Get().Set(_stats.Value(Rpc, 0));
        NfsCollector.Requests(_requests, _stats, Proc2, "2", ServerV2);
        NfsCollector.Requests(_requests, _stats, Proc3, "3", ServerV3);
        NfsCollector.Requests(_requests, _stats, Proc4Ops, "4", ServerV4);
    }
}
