using System.Globalization;

namespace Monitor.Aggregator;

/// <summary>The aggregator's settings, from its flags (see <c>monitor-aggregator --help</c> and docs/aggregator.md).</summary>
internal sealed record AggregatorOptions
{
    /// <summary><c>--web.listen-address</c>.</summary>
    public string ListenAddress { get; init; } = ":9430";

    /// <summary><c>--storage.path</c>: the SQLite file.</summary>
    public string StoragePath { get; init; } = "/var/lib/monitor-aggregator/aggregator.db";

    /// <summary><c>--cluster</c>: the name records are stored under (one aggregator may serve several clusters' stores).</summary>
    public string Cluster { get; init; } = "default";

    /// <summary><c>--targets</c>: agents as host:port or URLs.</summary>
    public IReadOnlyList<string> Targets { get; init; } = [];

    /// <summary><c>--targets.file</c>: Prometheus file_sd JSON files, read again when they change.</summary>
    public IReadOnlyList<string> TargetFiles { get; init; } = [];

    /// <summary><c>--poll.interval</c>.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>--poll.timeout</c>: one target's poll.</summary>
    public TimeSpan PollTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>--poll.concurrency</c>: targets polled at once.</summary>
    public int PollConcurrency { get; init; } = 64;

    /// <summary><c>--storage.postgres</c>: an Npgsql connection string; when set, PostgreSQL is the store instead of SQLite.</summary>
    public string? PostgresConnection { get; init; }

    /// <summary><c>--storage.retention</c>: how long ended jobs' records are kept (daily rollups are kept for ever).</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(400);

    /// <summary><c>--jobs.incomplete-after</c>: how long a running job's node may be unreachable before the job is finalized incomplete.</summary>
    public TimeSpan IncompleteAfter { get; init; } = TimeSpan.FromHours(6);

    /// <summary><c>--shard</c>: which targets this replica polls.</summary>
    public Collection.Shard Shard { get; init; } = Collection.Shard.All;

    /// <summary><c>--ha.standby</c>: poll only while holding the PostgreSQL advisory lock.</summary>
    public bool Standby { get; init; }

    /// <summary>
    /// A duration as the agent and Prometheus write them (<c>500ms</c>, <c>30s</c>, <c>5m</c>, <c>1h</c>, <c>2d</c>,
    /// <c>1w</c>, <c>1y</c> of 365 days, or a sum such as <c>1m30s</c>); null when it is not one or not positive.
    /// </summary>
    public static TimeSpan? ParseDuration(string text)
    {
        var total = TimeSpan.Zero;
        var i = 0;
        if (text.Length == 0)
        {
            return null;
        }

        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            if (i == start || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return null;
            }

            var unitStart = i;
            while (i < text.Length && char.IsAsciiLetter(text[i]))
            {
                i++;
            }

            double? seconds = text[unitStart..i] switch
            {
                "ms" => number / 1000,
                "s" => number,
                "m" => number * 60,
                "h" => number * 3600,
                "d" => number * 86400,
                "w" => number * 7 * 86400,
                "y" => number * 365 * 86400,
                _ => null,
            };
            if (seconds is not { } value || value > TimeSpan.MaxValue.TotalSeconds / 2)
            {
                return null;
            }

            total += TimeSpan.FromSeconds(value);
        }

        return total > TimeSpan.Zero ? total : null;
    }

    /// <summary>An agent address as a base URL: <c>host:port</c> becomes <c>http://host:port</c>.</summary>
    public static string TargetUrl(string target) =>
        target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            ? target.TrimEnd('/')
            : "http://" + target;
}
