namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>Settings of the Elasticsearch log sink, validated by <see cref="Configuration.AgentOptions"/>.</summary>
internal sealed class ElasticsearchOptions
{
    /// <summary>Elasticsearch base URLs, tried in order; a failed request moves to the next one.</summary>
    public required IReadOnlyList<Uri> Urls { get; init; }

    /// <summary>Target data stream. Default <c>logs-monitor.agent-default</c>.</summary>
    public string DataStream { get; init; } = "logs-monitor.agent-default";

    /// <summary>The <c>Authorization</c> header value (<c>ApiKey …</c> or <c>Basic …</c>), or null. Never logged.</summary>
    public string? Authorization { get; init; }

    /// <summary>PEM file with the CA that signs the server certificate, or null for the system store.</summary>
    public string? CaFile { get; init; }

    /// <summary>SHA-256 fingerprint (hex, colons allowed) the server certificate or one of its chain must have, or null.</summary>
    public string? Fingerprint { get; init; }

    /// <summary>Spool directory. Default <c>/var/lib/monitor-agent/spool</c>.</summary>
    public string SpoolPath { get; init; } = "/var/lib/monitor-agent/spool";

    /// <summary>Spool size cap in bytes; the oldest segment is dropped beyond it. Default 256 MiB.</summary>
    public long SpoolMaxBytes { get; init; } = 256L << 20;

    /// <summary>Age after which a spooled segment is dropped. Default 7 days.</summary>
    public TimeSpan SpoolMaxAge { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Segment file size at which the writer starts a new one. Default 1/16 of the cap, 64 KiB to 16 MiB.</summary>
    public long SegmentBytes { get; init; }

    /// <summary>How long shutdown keeps shipping before it leaves the rest on disk. Default 5 s.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Documents per <c>_bulk</c> request. Default 1,000.</summary>
    public int MaxBatchCount { get; init; } = 1000;

    /// <summary>Body bytes per <c>_bulk</c> request. Default 5 MiB.</summary>
    public int MaxBatchBytes { get; init; } = 5 << 20;

    /// <summary>Timeout of one <c>_bulk</c> request. Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Bytes of formatted events that may wait in memory while the spool's disk refuses writes (full, failing,
    /// read-only); beyond it the oldest are dropped and counted. Default 8 MiB.
    /// </summary>
    public int MemoryQueueMaxBytes { get; init; } = 8 << 20;

    /// <summary>Capacity of the hand-off queue between logging calls and the spool writer thread. Default 65,536 events.</summary>
    public int QueueCapacity { get; init; } = 65536;

    /// <summary>First backoff cap. Default 1 s.</summary>
    public TimeSpan BackoffMin { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Largest backoff. Default 60 s.</summary>
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The dataset part of <see cref="DataStream"/> (<c>logs-&lt;dataset&gt;-&lt;namespace&gt;</c>), for <c>event.dataset</c>.</summary>
    public string Dataset
    {
        get
        {
            var parts = DataStream.Split('-');
            return parts.Length == 3 ? parts[1] : DataStream;
        }
    }

    /// <summary>The segment size in effect.</summary>
    public long EffectiveSegmentBytes => SegmentBytes > 0 ? SegmentBytes : Math.Clamp(SpoolMaxBytes / 16, 64 << 10, 16 << 20);
}
