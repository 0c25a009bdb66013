using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Bcache;

/// <summary>
/// node_exporter's bcache collector: per cache set <c>/sys/fs/bcache/&lt;uuid&gt;</c> (entries whose name has a dash),
/// its btree and cache figures, per backing device (<c>bdev[0-9]*</c>) its dirty data, writeback rate terms and
/// <c>stats_total</c>, and per cache device (<c>cache[0-9]*</c>) its errors and written bytes. Values are bcache's
/// human-readable numbers (<c>20.4G</c>) decoded as procfs 0.8.0 does (<see cref="BcacheValue"/>).
/// </summary>
/// <remarks>
/// As 1.5.0: an attribute file that does not exist reads as 0; one that does not read or parse fails the cache set.
/// 1.5.0 then fails the whole collector; we skip that cache set (logged once) and report the others.
/// <c>--collector.bcache.priorityStats</c> (default false, as 1.5.0) adds the expensive <c>priority_stats</c> read.
/// No <c>/sys/fs/bcache</c>: no series, one failed directory lookup per scrape.
/// </remarks>
internal sealed class BcacheCollector : ICollector
{
    private static readonly string[] SetFiles =
        ["average_key_size", "btree_cache_size", "cache_available_percent", "congested", "root_usage_percent", "tree_depth",
         "internal/active_journal_entries", "internal/btree_nodes", "internal/btree_read_average_duration_us", "internal/cache_read_races"];

    private static readonly string[] PeriodFiles =
        ["bypassed", "cache_bypass_hits", "cache_bypass_misses", "cache_hits", "cache_miss_collisions", "cache_misses", "cache_readaheads"];

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _root;
    private readonly bool _priorityStats;
    private readonly Dictionary<string, CacheSet> _sets = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failing = new(StringComparer.Ordinal);
    private readonly MetricFamily[] _setFamilies;
    private readonly MetricFamily[] _bdevFamilies;
    private readonly MetricFamily[] _periodFamilies;
    private readonly MetricFamily[] _cacheFamilies;
    private readonly ulong[] _setValues = new ulong[10];
    private readonly ulong[] _periodValues = new ulong[7];
    private bool _loggedUnavailable;

    public BcacheCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _root = context.Paths.Sys("fs/bcache");
        _priorityStats = bool.TryParse(context.Settings["priorityStats"], out var priority) && priority;
        var g = context.Group;
        _setFamilies =
        [
            g.Gauge("node_bcache_average_key_size_sectors", "Average data per key in the btree (sectors).", "uuid"),
            g.Gauge("node_bcache_btree_cache_size_bytes", "Amount of memory currently used by the btree cache.", "uuid"),
            g.Gauge("node_bcache_cache_available_percent", "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).", "uuid"),
            g.Gauge("node_bcache_congested", "Congestion.", "uuid"),
            g.Gauge("node_bcache_root_usage_percent", "Percentage of the root btree node in use (tree depth increases if too high).", "uuid"),
            g.Gauge("node_bcache_tree_depth", "Depth of the btree.", "uuid"),
            g.Gauge("node_bcache_active_journal_entries", "Number of journal entries that are newer than the index.", "uuid"),
            g.Gauge("node_bcache_btree_nodes", "Total nodes in the btree.", "uuid"),
            g.Gauge("node_bcache_btree_read_average_duration_seconds", "Average btree read duration.", "uuid"),
            g.Counter("node_bcache_cache_read_races_total",
                "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.", "uuid"),
        ];
        _bdevFamilies =
        [
            g.Gauge("node_bcache_dirty_data_bytes", "Amount of dirty data for this backing device in the cache.", "uuid", "backing_device"),
            g.Gauge("node_bcache_dirty_target_bytes", "Current dirty data target threshold for this backing device in bytes.", "uuid", "backing_device"),
            g.Gauge("node_bcache_writeback_rate", "Current writeback rate for this backing device in bytes.", "uuid", "backing_device"),
            g.Gauge("node_bcache_writeback_rate_proportional_term", "Current result of proportional controller, part of writeback rate", "uuid", "backing_device"),
            g.Gauge("node_bcache_writeback_rate_integral_term", "Current result of integral controller, part of writeback rate", "uuid", "backing_device"),
            g.Gauge("node_bcache_writeback_change", "Last writeback rate change step for this backing device.", "uuid", "backing_device"),
        ];
        _periodFamilies =
        [
            g.Counter("node_bcache_bypassed_bytes_total", "Amount of IO (both reads and writes) that has bypassed the cache.", "uuid", "backing_device"),
            g.Counter("node_bcache_cache_bypass_hits_total", "Hits for IO intended to skip the cache.", "uuid", "backing_device"),
            g.Counter("node_bcache_cache_bypass_misses_total", "Misses for IO intended to skip the cache.", "uuid", "backing_device"),
            g.Counter("node_bcache_cache_hits_total", "Hits counted per individual IO as bcache sees them.", "uuid", "backing_device"),
            g.Counter("node_bcache_cache_miss_collisions_total", "Instances where data insertion from cache miss raced with write (data already present).", "uuid", "backing_device"),
            g.Counter("node_bcache_cache_misses_total", "Misses counted per individual IO as bcache sees them.", "uuid", "backing_device"),
            g.Counter("node_bcache_cache_readaheads_total", "Count of times readahead occurred.", "uuid", "backing_device"),
        ];
        _cacheFamilies = _priorityStats
            ?
            [
                g.Gauge("node_bcache_io_errors", "Number of errors that have occurred, decayed by io_error_halflife.", "uuid", "cache_device"),
                g.Counter("node_bcache_metadata_written_bytes_total", "Sum of all non data writes (btree writes and all other metadata).", "uuid", "cache_device"),
                g.Counter("node_bcache_written_bytes_total", "Sum of all data that has been written to the cache.", "uuid", "cache_device"),
                g.Gauge("node_bcache_priority_stats_unused_percent", "The percentage of the cache that doesn't contain any data.", "uuid", "cache_device"),
                g.Gauge("node_bcache_priority_stats_metadata_percent", "Bcache's metadata overhead.", "uuid", "cache_device"),
            ]
            :
            [
                g.Gauge("node_bcache_io_errors", "Number of errors that have occurred, decayed by io_error_halflife.", "uuid", "cache_device"),
                g.Counter("node_bcache_metadata_written_bytes_total", "Sum of all non data writes (btree writes and all other metadata).", "uuid", "cache_device"),
                g.Counter("node_bcache_written_bytes_total", "Sum of all data that has been written to the cache.", "uuid", "cache_device"),
            ];
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "bcache", "bcache statistics from /sys/fs/bcache.", true, Cadence.OnScrape, TimeSpan.Zero, c => new BcacheCollector(c),
        [new CollectorFlag("priorityStats", "false", "Expose expensive priority stats.", FlagKind.Bool)]);

    public void Update(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_root))
        {
            if (!_loggedUnavailable)
            {
                _loggedUnavailable = true;
                DeviceCollectorLog.SourceUnavailable(_logger, "bcache", _root);
            }

            return;
        }

        foreach (var set in _sets.Values)
        {
            set.Seen = false;
        }

        foreach (var path in Directory.EnumerateFileSystemEntries(_root))
        {
            var name = Path.GetFileName(path);
            if (!name.Contains('-', StringComparison.Ordinal))
            {
                continue;
            }

            if (!_sets.TryGetValue(name, out var set))
            {
                _sets[name] = set = new CacheSet(name, path);
            }

            set.Seen = true;
            try
            {
                ReadSet(set);
                if (_failing.Remove(name))
                {
                    // Reads again: a later failure is logged at warning once more.
                }
            }
            catch (Exception ex) when (ex is MalformedSourceException or IOException or UnauthorizedAccessException)
            {
                if (_failing.Add(name))
                {
                    DeviceCollectorLog.DeviceSkipped(_logger, "bcache", name, ex.Message);
                }
                else
                {
                    DeviceCollectorLog.DeviceSkippedAgain(_logger, "bcache", name, ex.Message);
                }
            }
        }

        foreach (var gone in _sets.Where(kv => !kv.Value.Seen).Select(kv => kv.Key).ToList())
        {
            _sets.Remove(gone);
            _failing.Remove(gone);
        }
    }

    /// <summary>Reads one cache set whole, then sets its series, so a set that fails part-way exports nothing.</summary>
    private void ReadSet(CacheSet set)
    {
        for (var i = 0; i < SetFiles.Length; i++)
        {
            _setValues[i] = ReadValue(set.SetPaths[i]);
        }

        // procfs also reads the set's own stats_total and every stats_five_minute, which node_exporter does not
        // export; we skip those 14+ reads per set and backing device.
        set.Refresh();
        foreach (var bdev in set.Bdevs)
        {
            bdev.DirtyData = ReadValue(bdev.DirtyDataPath);
            bdev.Writeback = ReadWritebackRateDebug(bdev.WritebackPath);
            for (var i = 0; i < PeriodFiles.Length; i++)
            {
                bdev.Total[i] = ReadValue(bdev.TotalPaths[i]);
            }
        }

        foreach (var cache in set.Caches)
        {
            cache.IoErrors = ReadValue(cache.IoErrorsPath);
            cache.MetadataWritten = ReadValue(cache.MetadataWrittenPath);
            cache.Written = ReadValue(cache.WrittenPath);
            if (_priorityStats)
            {
                (cache.UnusedPercent, cache.MetadataPercent) = ReadPriorityStats(cache.PriorityStatsPath);
            }
        }

        for (var i = 0; i < SetFiles.Length; i++)
        {
            // btree_read_average_duration_us is in nanoseconds despite its name; node_exporter scales it by 1e-9.
            _setFamilies[i].Get(set.Name).Set(i == 8 ? _setValues[i] * 1e-9 : _setValues[i]);
        }

        foreach (var bdev in set.Bdevs)
        {
            _bdevFamilies[0].Get(set.Name, bdev.Name).Set(bdev.DirtyData);
            _bdevFamilies[1].Get(set.Name, bdev.Name).Set(bdev.Writeback.Target);
            _bdevFamilies[2].Get(set.Name, bdev.Name).Set(bdev.Writeback.Rate);
            _bdevFamilies[3].Get(set.Name, bdev.Name).Set(bdev.Writeback.Proportional);
            _bdevFamilies[4].Get(set.Name, bdev.Name).Set(bdev.Writeback.Integral);
            _bdevFamilies[5].Get(set.Name, bdev.Name).Set(bdev.Writeback.Change);
            for (var i = 0; i < PeriodFiles.Length; i++)
            {
                _periodFamilies[i].Get(set.Name, bdev.Name).Set(bdev.Total[i]);
            }
        }

        foreach (var cache in set.Caches)
        {
            _cacheFamilies[0].Get(set.Name, cache.Name).Set(cache.IoErrors);
            _cacheFamilies[1].Get(set.Name, cache.Name).Set(cache.MetadataWritten);
            _cacheFamilies[2].Get(set.Name, cache.Name).Set(cache.Written);
            if (_priorityStats)
            {
                _cacheFamilies[3].Get(set.Name, cache.Name).Set(cache.UnusedPercent);
                _cacheFamilies[4].Get(set.Name, cache.Name).Set(cache.MetadataPercent);
            }
        }
    }

    /// <summary>procfs' readValue: a missing file is 0; the last byte (the newline) is dropped and the rest dehumanized.</summary>
    private ulong ReadValue(string path)
    {
        ReadOnlySpan<char> text;
        try
        {
            text = _reader.ReadAll(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return 0;
        }

        if (text.IsEmpty)
        {
            // procfs slices byt[:len(byt)-1] and panics on an empty file.
            throw new MalformedSourceException(path, "empty file");
        }

        return BcacheValue.Dehumanize(text[..^1]).ValueOrThrow(path);
    }

    private WritebackRateDebug ReadWritebackRateDebug(string path)
    {
        var result = default(WritebackRateDebug);
        var lines = new LineReader(_reader.ReadAll(path));
        while (lines.TryNext(out var line))
        {
            var parsed = BcacheValue.ParseWritebackLine(line, ref result);
            if (parsed is not null)
            {
                throw new MalformedSourceException(path, parsed);
            }
        }

        return result;
    }

    private (ulong Unused, ulong Metadata) ReadPriorityStats(string path)
    {
        ulong unused = 0, metadata = 0;
        var lines = new LineReader(_reader.ReadAll(path));
        while (lines.TryNext(out var line))
        {
            var isUnused = line.StartsWith("Unused:");
            if (!isUnused && !line.StartsWith("Metadata:"))
            {
                continue;
            }

            var last = BcacheValue.LastField(line);
            if (last.EndsWith('%'))
            {
                last = last[..^1];
            }

            if (!Numbers.TryParseUInt64(last, out var value))
            {
                throw new MalformedSourceException(path, $"not a whole number: '{last}'");
            }

            if (isUnused)
            {
                unused = value;
            }
            else
            {
                metadata = value;
            }
        }

        return (unused, metadata);
    }

    /// <summary>One cache set's cached paths; its backing and cache devices are listed again at every read.</summary>
    private sealed class CacheSet(string name, string path)
    {
        private readonly Dictionary<string, Bdev> _bdevs = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Cache> _caches = new(StringComparer.Ordinal);

        public string Name { get; } = name;

        public string[] SetPaths { get; } = SetFiles.Select(f => Path.Join(path, f)).ToArray();

        public bool Seen { get; set; }

        public List<Bdev> Bdevs { get; } = [];

        public List<Cache> Caches { get; } = [];

        /// <summary>Lists <c>bdev[0-9]*</c> and <c>cache[0-9]*</c> as procfs' globs do.</summary>
        public void Refresh()
        {
            Bdevs.Clear();
            Caches.Clear();
            foreach (var entry in Directory.EnumerateFileSystemEntries(path))
            {
                var child = Path.GetFileName(entry.AsSpan());
                if (Matches(child, "bdev"))
                {
                    var key = child.ToString();
                    if (!_bdevs.TryGetValue(key, out var bdev))
                    {
                        _bdevs[key] = bdev = new Bdev(key, entry);
                    }

                    Bdevs.Add(bdev);
                }
                else if (Matches(child, "cache"))
                {
                    var key = child.ToString();
                    if (!_caches.TryGetValue(key, out var cache))
                    {
                        _caches[key] = cache = new Cache(key, entry);
                    }

                    Caches.Add(cache);
                }
            }

            if (_bdevs.Count > Bdevs.Count)
            {
                foreach (var gone in _bdevs.Keys.Where(k => !Bdevs.Exists(b => b.Name == k)).ToList())
                {
                    _bdevs.Remove(gone);
                }
            }

            if (_caches.Count > Caches.Count)
            {
                foreach (var gone in _caches.Keys.Where(k => !Caches.Exists(c => c.Name == k)).ToList())
                {
                    _caches.Remove(gone);
                }
            }
        }

        private static bool Matches(ReadOnlySpan<char> name, string prefix) =>
            name.Length > prefix.Length && name.StartsWith(prefix, StringComparison.Ordinal) && char.IsAsciiDigit(name[prefix.Length]);
    }

    private sealed class Bdev(string name, string path)
    {
        public string Name { get; } = name;

        public string DirtyDataPath { get; } = Path.Join(path, "dirty_data");

        public string WritebackPath { get; } = Path.Join(path, "writeback_rate_debug");

        public string[] TotalPaths { get; } = PeriodFiles.Select(f => Path.Join(path, "stats_total", f)).ToArray();

        public ulong DirtyData { get; set; }

        public WritebackRateDebug Writeback { get; set; }

        public ulong[] Total { get; } = new ulong[PeriodFiles.Length];
    }

    private sealed class Cache(string name, string path)
    {
        public string Name { get; } = name;

        public string IoErrorsPath { get; } = Path.Join(path, "io_errors");

        public string MetadataWrittenPath { get; } = Path.Join(path, "metadata_written");

        public string WrittenPath { get; } = Path.Join(path, "written");

        public string PriorityStatsPath { get; } = Path.Join(path, "priority_stats");

        public ulong IoErrors { get; set; }

        public ulong MetadataWritten { get; set; }

        public ulong Written { get; set; }

        public ulong UnusedPercent { get; set; }

        public ulong MetadataPercent { get; set; }
    }
}

/// <summary>The writeback figures of a backing device's <c>writeback_rate_debug</c>.</summary>
internal record struct WritebackRateDebug(ulong Rate, ulong Dirty, ulong Target, long Proportional, long Integral, long Change, long NextIo);

/// <summary>bcache's human-readable numbers, decoded exactly as procfs 0.8.0's <c>dehumanize</c>.</summary>
internal static class BcacheValue
{
    /// <summary>
    /// A number with an optional unit letter (k, M, G, T, P, E, Z, Y: powers of 1024). With a unit, the part after the
    /// dot is read as its own number and divided by 10.24 (bcache prints one decimal of 1024ths, roughly); an unknown
    /// letter multiplies by 0, as procfs' map lookup does. The product is truncated to an unsigned 64-bit integer.
    /// </summary>
    public static ParseResult<ulong> Dehumanize(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return ParseResult<ulong>.Fail("zero-length reply");
        }

        double mul = 1;
        double mant;
        var last = text[^1];
        if (last > '9')
        {
            text = text[..^1];
            mul = last switch
            {
                'k' => 1L << 10,
                'M' => 1L << 20,
                'G' => 1L << 30,
                'T' => 1L << 40,
                'P' => 1L << 50,
                'E' => 1L << 60,
                'Z' => Math.Pow(2, 70),
                'Y' => Math.Pow(2, 80),
                _ => 0,
            };
            var dot = text.IndexOf('.');
            var intText = dot < 0 ? text : text[..dot];
            if (!TryParseFloat(intText, out mant))
            {
                return ParseResult<ulong>.Fail($"not a number: '{intText}'");
            }

            if (dot >= 0)
            {
                var rest = text[(dot + 1)..];
                var second = rest.IndexOf('.');
                var fracText = second < 0 ? rest : rest[..second];
                if (!TryParseFloat(fracText, out var frac))
                {
                    return ParseResult<ulong>.Fail($"not a number: '{fracText}'");
                }

                mant += frac / 10.24;
            }
        }
        else if (!TryParseFloat(text, out mant))
        {
            return ParseResult<ulong>.Fail($"not a number: '{text}'");
        }

        return ParseResult<ulong>.Ok(GoUInt64(mant * mul));
    }

    /// <summary>procfs' <c>dehumanizeSigned</c>: one leading minus, then <see cref="Dehumanize"/>, negated with wrap-around.</summary>
    public static ParseResult<long> DehumanizeSigned(ReadOnlySpan<char> text)
    {
        var negative = text.StartsWith('-');
        var value = Dehumanize(negative ? text[1..] : text);
        if (!value.Success)
        {
            return ParseResult<long>.Fail(value.Error!);
        }

        return ParseResult<long>.Ok(unchecked(negative ? -(long)value.Value : (long)value.Value));
    }

    /// <summary>One line of <c>writeback_rate_debug</c>; returns the problem, or null.</summary>
    public static string? ParseWritebackLine(ReadOnlySpan<char> line, ref WritebackRateDebug wrd)
    {
        if (line.StartsWith("rate:"))
        {
            var r = Dehumanize(TrimSuffix(LastField(line), "/sec"));
            wrd.Rate = r.Value;
            return r.Error;
        }

        if (line.StartsWith("dirty:"))
        {
            var r = Dehumanize(LastField(line));
            wrd.Dirty = r.Value;
            return r.Error;
        }

        if (line.StartsWith("target:"))
        {
            var r = Dehumanize(LastField(line));
            wrd.Target = r.Value;
            return r.Error;
        }

        if (line.StartsWith("proportional:"))
        {
            var r = DehumanizeSigned(LastField(line));
            wrd.Proportional = r.Value;
            return r.Error;
        }

        if (line.StartsWith("integral:"))
        {
            var r = DehumanizeSigned(LastField(line));
            wrd.Integral = r.Value;
            return r.Error;
        }

        if (line.StartsWith("change:"))
        {
            var r = DehumanizeSigned(TrimSuffix(LastField(line), "/sec"));
            wrd.Change = r.Value;
            return r.Error;
        }

        if (line.StartsWith("next io:"))
        {
            var text = TrimSuffix(LastField(line), "ms");
            if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var next))
            {
                return $"not a whole number: '{text}'";
            }

            wrd.NextIo = next;
        }

        return null;
    }

    /// <summary>The last whitespace-separated field (Go's <c>fields[len(fields)-1]</c>).</summary>
    public static ReadOnlySpan<char> LastField(ReadOnlySpan<char> line)
    {
        line = line.TrimEnd(" \t\r\v\f");
        var start = line.LastIndexOfAny(" \t\r\v\f");
        return line[(start + 1)..];
    }

    private static ReadOnlySpan<char> TrimSuffix(ReadOnlySpan<char> text, string suffix) =>
        text.EndsWith(suffix, StringComparison.Ordinal) ? text[..^suffix.Length] : text;

    private static bool TryParseFloat(ReadOnlySpan<char> text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && !text.Contains(' ') && !text.Contains('\t');

    /// <summary>Go's float64 to uint64 conversion on amd64: below 2^63 through a signed conversion (so negatives wrap).</summary>
    private static ulong GoUInt64(double value) =>
        value < 9223372036854775808.0 ? unchecked((ulong)(long)value) : (ulong)value;
}
