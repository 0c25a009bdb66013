using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Zfs;

/// <summary>
/// node_exporter's zfs collector: the uint64 kstats (type 4) of the files under <c>/proc/spl/kstat/zfs</c>
/// (<c>arcstats</c> as <c>node_zfs_arc_*</c>, <c>dmu_tx</c>, <c>fm</c>, ...), untyped, with the kstat's dotted name
/// (<c>kstat.zfs.misc.arcstats.hits</c>) as HELP; per pool its <c>io</c> counters (<c>node_zfs_zpool_*{zpool}</c>), its
/// datasets' <c>objset-*</c> counters (<c>node_zfs_zpool_dataset_*{zpool,dataset}</c>) and its <c>state</c>
/// (<c>node_zfs_zpool_state{zpool,state}</c>, one series per known state).
/// </summary>
/// <remarks>
/// As 1.5.0: a kstat file that is missing is left out; one that is malformed fails the collector (we still export the
/// other files, read in full). Differences: a pool whose files do not read or parse is skipped (logged once) and the
/// other pools are reported, where 1.5.0 fails the collector (or panics, for a short <c>io</c> line); a kstat whose
/// name does not make a valid metric name is left out, where 1.5.0 panics. Families are created the first time a
/// kstat is seen and kept, with paths, so a steady scrape allocates only the pool directory listings.
/// </remarks>
internal sealed class ZfsCollector : ICollector
{
    private const string Uint64Type = "4";

    private static readonly string[] PoolStates = ["online", "degraded", "faulted", "offline", "removed", "unavail"];

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly MetricGroup _group;
    private readonly string _root;
    private readonly KstatFile[] _files;
    private readonly FamilyCache _ioFamilies;
    private readonly FamilyCache _objsetFamilies;
    private readonly MetricFamily _state;
    private readonly Dictionary<string, Pool> _pools = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failingPools = new(StringComparer.Ordinal);
    private readonly List<Pending> _pending = [];
    private bool _loggedUnavailable;

    public ZfsCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _group = context.Group;
        _root = context.Paths.Proc("spl/kstat/zfs");
        (string Subsystem, string File)[] kstats =
        [
            ("zfs_abd", "abdstats"), ("zfs_arc", "arcstats"), ("zfs_dbuf", "dbuf_stats"), ("zfs_dmu_tx", "dmu_tx"), ("zfs_dnode", "dnodestats"),
            ("zfs_fm", "fm"), ("zfs_vdev_cache", "vdev_cache_stats"), ("zfs_vdev_mirror", "vdev_mirror_stats"), ("zfs_xuio", "xuio_stats"),
            ("zfs_zfetch", "zfetchstats"), ("zfs_zil", "zil"),
        ];
        _files = kstats.Select(k => new KstatFile(Path.Join(_root, k.File), k.File, new FamilyCache(_group, "node_" + k.Subsystem + "_", "kstat.zfs.misc." + k.File + ".", []))).ToArray();
        _ioFamilies = new FamilyCache(_group, "node_zfs_zpool_", "kstat.zfs.misc.io.", ["zpool"]);
        _objsetFamilies = new FamilyCache(_group, "node_zfs_zpool_dataset_", "kstat.zfs.misc.objset.", ["zpool", "dataset"]);
        _state = _group.Gauge("node_zfs_zpool_state", "kstat.zfs.misc.state", "zpool", "state");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "zfs", "ZFS kstats (ARC, DMU, ZIL, pools and datasets) from /proc/spl/kstat/zfs.", true, Cadence.OnScrape, TimeSpan.Zero, c => new ZfsCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_root))
        {
            if (!_loggedUnavailable)
            {
                _loggedUnavailable = true;
                DeviceCollectorLog.SourceUnavailable(_logger, "zfs", _root);
            }

            return;
        }

        MalformedSourceException? failure = null;
        foreach (var file in _files)
        {
            ReadOnlySpan<char> text;
            try
            {
                text = _reader.ReadAll(file.Path);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                continue;
            }

            try
            {
                ParseKstats(text, file);
            }
            catch (MalformedSourceException ex)
            {
                failure ??= ex;
            }
        }

        UpdatePools();
        if (failure is not null)
        {
            throw failure;
        }
    }

    private static void ParseKstats(ReadOnlySpan<char> text, KstatFile file)
    {
        var inData = false;
        var lines = new LineReader(text);
        while (lines.TryNext(out var line))
        {
            if (!TryThreeFields(line, out var name, out var type, out var data, out var count))
            {
                continue;
            }

            if (!inData)
            {
                inData = count == 3 && name is "name" && type is "type" && data is "data";
                continue;
            }

            if (type is not Uint64Type)
            {
                continue;
            }

            if (!Numbers.TryParseUInt64(data, out var value))
            {
                throw new MalformedSourceException(file.Path, $"could not parse expected integer value for \"kstat.zfs.misc.{file.Name}.{name}\"");
            }

            file.Families.Get(name)?.Get().Set(value);
        }

        if (!inData)
        {
            throw new MalformedSourceException(file.Path, $"did not parse a single \"{file.Name}\" metric");
        }
    }

    private void UpdatePools()
    {
        foreach (var pool in _pools.Values)
        {
            pool.Seen = false;
        }

        foreach (var directory in Directory.EnumerateDirectories(_root))
        {
            var name = Path.GetFileName(directory);
            if (!_pools.TryGetValue(name, out var pool))
            {
                pool = new Pool(name, directory);
                if (!pool.Exists)
                {
                    continue;
                }

                _pools[name] = pool;
            }

            pool.Seen = true;
            _pending.Clear();
            try
            {
                ReadPool(pool);
            }
            catch (Exception ex) when (ex is MalformedSourceException or IOException or UnauthorizedAccessException)
            {
                if (_failingPools.Add(name))
                {
                    DeviceCollectorLog.DeviceSkipped(_logger, "zfs", name, ex.Message);
                }
                else
                {
                    DeviceCollectorLog.DeviceSkippedAgain(_logger, "zfs", name, ex.Message);
                }

                continue;
            }

            _failingPools.Remove(name);
            foreach (var p in _pending)
            {
                var series = p.Dataset is null ? p.Family.Get(p.Pool) : p.Family.Get(p.Pool, p.Dataset);
                series.Set(p.Value);
            }

            if (pool.State is { } state)
            {
                foreach (var known in PoolStates)
                {
                    _state.Get(pool.Name, known).Set(string.Equals(known, state, StringComparison.Ordinal) ? 1 : 0);
                }
            }
        }

        foreach (var gone in _pools.Where(kv => !kv.Value.Seen).Select(kv => kv.Key).ToList())
        {
            _pools.Remove(gone);
            _failingPools.Remove(gone);
        }
    }

    /// <summary>Reads a pool's io, objset-* and state files into <see cref="_pending"/>; throws on the first problem.</summary>
    private void ReadPool(Pool pool)
    {
        if (File.Exists(pool.IoPath))
        {
            ParseIo(_reader.ReadAll(pool.IoPath), pool);
        }

        pool.RefreshObjsets();
        foreach (var objset in pool.Objsets)
        {
            ParseObjset(_reader.ReadAll(objset.Path), pool, objset);
        }

        pool.State = null;
        if (File.Exists(pool.StatePath))
        {
            var lines = new LineReader(_reader.ReadAll(pool.StatePath));
            var first = lines.TryNext(out var line) ? line : default;
            pool.State = pool.StateText(first);
        }
    }

    private void ParseIo(ReadOnlySpan<char> text, Pool pool)
    {
        Span<Range> header = stackalloc Range[64];
        ReadOnlySpan<char> headerLine = default;
        var headerCount = 0;
        var lines = new LineReader(text);
        while (lines.TryNext(out var line))
        {
            if (headerCount == 0)
            {
                var count = Split(line, header);
                if (count >= 12 && line[header[0]] is "nread")
                {
                    headerCount = count;
                    headerLine = line;
                }

                continue;
            }

            var fields = new FieldReader(line);
            for (var i = 0; i < headerCount; i++)
            {
                var field = headerLine[header[i]];
                if (!fields.TryNext(out var valueText))
                {
                    throw new MalformedSourceException(pool.IoPath, $"a line with fewer values than the {headerCount} names of the header");
                }

                if (!Numbers.TryParseUInt64(valueText, out var value))
                {
                    throw new MalformedSourceException(pool.IoPath, $"could not parse expected integer value for \"kstat.zfs.misc.io.{field}\": '{valueText}'");
                }

                if (_ioFamilies.Get(field) is { } family)
                {
                    _pending.Add(new Pending(family, pool.Name, null, value));
                }
            }
        }
    }

    private void ParseObjset(ReadOnlySpan<char> text, Pool pool, Objset objset)
    {
        var inData = false;
        string zpool = "";
        string dataset = "";
        var lines = new LineReader(text);
        while (lines.TryNext(out var line))
        {
            if (!TryThreeFields(line, out var name, out var type, out var data, out var count))
            {
                continue;
            }

            if (!inData)
            {
                inData = count == 3 && name is "name" && type is "type" && data is "data";
                continue;
            }

            if (name is "dataset_name")
            {
                zpool = pool.Name;
                dataset = objset.DatasetText(data);
                continue;
            }

            if (type is not Uint64Type)
            {
                continue;
            }

            if (!Numbers.TryParseUInt64(data, out var value))
            {
                throw new MalformedSourceException(objset.Path, $"could not parse expected integer value for \"kstat.zfs.misc.objset.{name}\"");
            }

            if (_objsetFamilies.Get(name) is { } family)
            {
                _pending.Add(new Pending(family, zpool, dataset, value));
            }
        }

        if (!inData)
        {
            throw new MalformedSourceException(objset.Path, $"did not parse a single {zpool} {dataset} metric");
        }
    }

    /// <summary>The first three whitespace-separated fields of a line and how many there are (3 meaning exactly 3); false below 3.</summary>
    private static bool TryThreeFields(ReadOnlySpan<char> line, out ReadOnlySpan<char> first, out ReadOnlySpan<char> second, out ReadOnlySpan<char> third, out int count)
    {
        var fields = new FieldReader(line);
        second = third = default;
        count = 0;
        if (!fields.TryNext(out first) || !fields.TryNext(out second) || !fields.TryNext(out third))
        {
            return false;
        }

        count = fields.TryNext(out _) ? 4 : 3;
        return true;
    }

    private static int Split(ReadOnlySpan<char> line, Span<Range> ranges)
    {
        var count = 0;
        var i = 0;
        while (i < line.Length && count < ranges.Length)
        {
            while (i < line.Length && line[i] is ' ' or '\t')
            {
                i++;
            }

            var start = i;
            while (i < line.Length && line[i] is not (' ' or '\t'))
            {
                i++;
            }

            if (i > start)
            {
                ranges[count++] = new Range(start, i);
            }
        }

        return count;
    }

    private readonly record struct Pending(MetricFamily Family, string Pool, string? Dataset, double Value);

    private sealed record KstatFile(string Path, string Name, FamilyCache Families);

    /// <summary>Families by kstat name, made on first sight: node_exporter's name (after the last dot, dashes as underscores) and HELP.</summary>
    private sealed class FamilyCache
    {
        private readonly Dictionary<string, MetricFamily?> _byKstat = new(StringComparer.Ordinal);
        private readonly Dictionary<string, MetricFamily?>.AlternateLookup<ReadOnlySpan<char>> _lookup;
        private readonly MetricGroup _group;
        private readonly string _prefix;
        private readonly string _helpPrefix;
        private readonly string[] _labels;

        public FamilyCache(MetricGroup group, string prefix, string helpPrefix, string[] labels)
        {
            _group = group;
            _prefix = prefix;
            _helpPrefix = helpPrefix;
            _labels = labels;
            _lookup = _byKstat.GetAlternateLookup<ReadOnlySpan<char>>();
        }

        /// <summary>The family of kstat <paramref name="kstat"/>; null when its name is not a valid metric name or is taken.</summary>
        public MetricFamily? Get(ReadOnlySpan<char> kstat)
        {
            if (_lookup.TryGetValue(kstat, out var family))
            {
                return family;
            }

            var key = kstat.ToString();
            var lastDot = key.LastIndexOf('.');
            var name = _prefix + (lastDot < 0 ? key : key[(lastDot + 1)..]).Replace('-', '_');
            family = null;
            if (MetricNames.IsValidMetricName(name))
            {
                try
                {
                    family = _group.Untyped(name, _helpPrefix + key, _labels);
                }
                catch (ArgumentException)
                {
                    // Another kstat already owns the name (a-b and a_b); 1.5.0 reports a duplicate too.
                }
            }

            _byKstat[key] = family;
            return family;
        }
    }

    private sealed class Pool(string name, string path)
    {
        private readonly Dictionary<string, Objset> _objsets = new(StringComparer.Ordinal);
        private string? _state;

        public string Name { get; } = name;

        public string Path { get; } = path;

        public string IoPath { get; } = System.IO.Path.Join(path, "io");

        public string StatePath { get; } = System.IO.Path.Join(path, "state");

        public bool Seen { get; set; }

        /// <summary>Whether the directory is a pool as node_exporter's globs see one (it has io, state or objset-* files).</summary>
        public bool Exists => File.Exists(IoPath) || File.Exists(StatePath) || Directory.EnumerateFiles(Path, "objset-*").Any();

        public List<Objset> Objsets { get; } = [];

        /// <summary>The lower-cased first line of <c>state</c>, or null when the pool has no state file.</summary>
        public string? State { get; set; }

        public void RefreshObjsets()
        {
            Objsets.Clear();
            foreach (var file in Directory.EnumerateFileSystemEntries(Path, "objset-*"))
            {
                if (!_objsets.TryGetValue(file, out var objset))
                {
                    _objsets[file] = objset = new Objset(file);
                }

                Objsets.Add(objset);
            }

            if (_objsets.Count > Objsets.Count)
            {
                foreach (var gone in _objsets.Keys.Where(k => !Objsets.Exists(o => o.Path == k)).ToList())
                {
                    _objsets.Remove(gone);
                }
            }
        }

        public string StateText(ReadOnlySpan<char> line)
        {
            Span<char> lower = stackalloc char[Math.Min(line.Length, 64)];
            if (line.Length > lower.Length)
            {
                return line.ToString().ToLowerInvariant();
            }

            line.ToLowerInvariant(lower);
            if (_state is null || !lower.SequenceEqual(_state))
            {
                _state = lower.ToString();
            }

            return _state;
        }
    }

    private sealed class Objset(string path)
    {
        private string _dataset = "";

        public string Path { get; } = path;

        public string DatasetText(ReadOnlySpan<char> text)
        {
            if (!text.SequenceEqual(_dataset))
            {
                _dataset = text.ToString();
            }

            return _dataset;
        }
    }
}
