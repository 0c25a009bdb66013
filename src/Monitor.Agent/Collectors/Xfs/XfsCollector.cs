using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Xfs;

/// <summary>
/// node_exporter's xfs collector: per-filesystem XFS counters from <c>/sys/fs/xfs/&lt;device&gt;/stats/stats</c>
/// (the glob <c>fs/xfs/*/stats/stats</c>; the <c>device</c> label is the directory name, e.g. <c>sda1</c> or
/// <c>dm-0</c>, as procfs v0.8.0 takes it). Each line is checked as procfs checks it: every value an unsigned 32-bit
/// integer (<c>xpc</c>: 64-bit), and the known lines with their exact value count. No XFS mounted: no series.
/// A filesystem whose file does not parse is skipped (logged); 1.5.0 fails the collector then.
/// </summary>
internal sealed class XfsCollector : ICollector
{
    // (metric suffix, help, stats line, index in the line)
    private static readonly (string Name, string Help, string Line, int Index)[] Metrics =
    [
        ("extent_allocation_extents_allocated_total", "Number of extents allocated for a filesystem.", "extent_alloc", 0),
        ("extent_allocation_blocks_allocated_total", "Number of blocks allocated for a filesystem.", "extent_alloc", 1),
        ("extent_allocation_extents_freed_total", "Number of extents freed for a filesystem.", "extent_alloc", 2),
        ("extent_allocation_blocks_freed_total", "Number of blocks freed for a filesystem.", "extent_alloc", 3),
        ("allocation_btree_lookups_total", "Number of allocation B-tree lookups for a filesystem.", "abt", 0),
        ("allocation_btree_compares_total", "Number of allocation B-tree compares for a filesystem.", "abt", 1),
        ("allocation_btree_records_inserted_total", "Number of allocation B-tree records inserted for a filesystem.", "abt", 2),
        ("allocation_btree_records_deleted_total", "Number of allocation B-tree records deleted for a filesystem.", "abt", 3),
        ("block_mapping_reads_total", "Number of block map for read operations for a filesystem.", "blk_map", 0),
        ("block_mapping_writes_total", "Number of block map for write operations for a filesystem.", "blk_map", 1),
        ("block_mapping_unmaps_total", "Number of block unmaps (deletes) for a filesystem.", "blk_map", 2),
        ("block_mapping_extent_list_insertions_total", "Number of extent list insertions for a filesystem.", "blk_map", 3),
        ("block_mapping_extent_list_deletions_total", "Number of extent list deletions for a filesystem.", "blk_map", 4),
        ("block_mapping_extent_list_lookups_total", "Number of extent list lookups for a filesystem.", "blk_map", 5),
        ("block_mapping_extent_list_compares_total", "Number of extent list compares for a filesystem.", "blk_map", 6),
        ("block_map_btree_lookups_total", "Number of block map B-tree lookups for a filesystem.", "bmbt", 0),
        ("block_map_btree_compares_total", "Number of block map B-tree compares for a filesystem.", "bmbt", 1),
        ("block_map_btree_records_inserted_total", "Number of block map B-tree records inserted for a filesystem.", "bmbt", 2),
        ("block_map_btree_records_deleted_total", "Number of block map B-tree records deleted for a filesystem.", "bmbt", 3),
        ("directory_operation_lookup_total", "Number of file name directory lookups which miss the operating systems directory name lookup cache.", "dir", 0),
        ("directory_operation_create_total", "Number of times a new directory entry was created for a filesystem.", "dir", 1),
        ("directory_operation_remove_total", "Number of times an existing directory entry was created for a filesystem.", "dir", 2),
        ("directory_operation_getdents_total", "Number of times the directory getdents operation was performed for a filesystem.", "dir", 3),
        ("inode_operation_attempts_total", "Number of times the OS looked for an XFS inode in the inode cache.", "ig", 0),
        ("inode_operation_found_total", "Number of times the OS looked for and found an XFS inode in the inode cache.", "ig", 1),
        ("inode_operation_recycled_total", "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled.", "ig", 2),
        ("inode_operation_missed_total", "Number of times the OS looked for an XFS inode in the cache, but did not find it.", "ig", 3),
        ("inode_operation_duplicates_total", "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process.", "ig", 4),
        ("inode_operation_reclaims_total", "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose.", "ig", 5),
        ("inode_operation_attribute_changes_total", "Number of times the OS explicitly changed the attributes of an XFS inode.", "ig", 6),
        ("read_calls_total", "Number of read(2) system calls made to files in a filesystem.", "rw", 1),
        ("write_calls_total", "Number of write(2) system calls made to files in a filesystem.", "rw", 0),
        ("vnode_active_total", "Number of vnodes not on free lists for a filesystem.", "vnodes", 0),
        ("vnode_allocate_total", "Number of times vn_alloc called for a filesystem.", "vnodes", 1),
        ("vnode_get_total", "Number of times vn_get called for a filesystem.", "vnodes", 2),
        ("vnode_hold_total", "Number of times vn_hold called for a filesystem.", "vnodes", 3),
        ("vnode_release_total", "Number of times vn_rele called for a filesystem.", "vnodes", 4),
        ("vnode_reclaim_total", "Number of times vn_reclaim called for a filesystem.", "vnodes", 5),
        ("vnode_remove_total", "Number of times vn_remove called for a filesystem.", "vnodes", 6),
    ];

    // Value counts procfs accepts for the lines it knows (xpc: 64-bit values).
    private static readonly Dictionary<string, int[]> Counts = new(StringComparer.Ordinal)
    {
        ["extent_alloc"] = [4], ["abt"] = [4], ["blk_map"] = [7], ["bmbt"] = [4], ["dir"] = [4], ["trans"] = [3], ["ig"] = [7],
        ["log"] = [5], ["rw"] = [2], ["attr"] = [4], ["icluster"] = [3], ["vnodes"] = [7, 8], ["buf"] = [9], ["push_ail"] = [10],
        ["xstrat"] = [2], ["abtb2"] = [15], ["abtc2"] = [15], ["bmbt2"] = [15], ["ibt2"] = [15], ["qm"] = [8, 9], ["debug"] = [1], ["xpc"] = [3],
    };

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _root;
    private readonly MetricFamily[] _families;
    private readonly double[] _values = new double[Metrics.Length];
    private readonly Dictionary<string, string> _statsPaths = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _counts = Counts.GetAlternateLookup<ReadOnlySpan<char>>();
    private bool _warnedSkip;

    public XfsCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _root = context.Paths.Sys("fs/xfs");
        _families = [.. Metrics.Select(m => context.Group.Counter("node_xfs_" + m.Name, m.Help, "device"))];
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "xfs", "XFS runtime statistics from /sys/fs/xfs.", true, Cadence.OnScrape, TimeSpan.Zero, c => new XfsCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_root))
        {
            // 1.5.0's glob matches nothing: no series, and no error either.
            return;
        }

        foreach (var dir in Directory.EnumerateDirectories(_root))
        {
            var device = Path.GetFileName(dir);
            if (!_statsPaths.TryGetValue(device, out var path))
            {
                path = Path.Join(dir, "stats", "stats");
                _statsPaths[device] = path;
            }

            if (!File.Exists(path))
            {
                // Not matched by 1.5.0's glob: the global /sys/fs/xfs/stats directory has its counters one level up.
                continue;
            }

            ReadOnlySpan<char> text;
            try
            {
                text = _reader.ReadAll(path);
            }
            catch (Exception ex) when (SourceLog.IsMissing(ex) || (ex is IOException && !File.Exists(path)))
            {
                continue; // not matched by the glob (the global /sys/fs/xfs/stats has a file where stats/stats would be)
            }
            catch (Exception ex) when (SubsystemSkip.IsReadFailure(ex))
            {
                SubsystemSkip.Skipped(_logger, ref _warnedSkip, "xfs", path, ex.Message);
                continue;
            }

            if (Parse(text) is { } problem)
            {
                SubsystemSkip.Skipped(_logger, ref _warnedSkip, "xfs", path, problem);
                continue;
            }

            for (var i = 0; i < _families.Length; i++)
            {
                _families[i].Get(device).Set(_values[i]);
            }
        }
    }

    /// <summary>Parses one stats file into <see cref="_values"/>; the problem when it does not parse as procfs would.</summary>
    private string? Parse(ReadOnlySpan<char> text)
    {
        Array.Clear(_values);
        var lines = new LineReader(text);
        while (lines.TryNext(out var line))
        {
            var fields = new FieldReader(line);
            if (!fields.TryNext(out var label))
            {
                continue;
            }

            var is64 = label.SequenceEqual("xpc");
            var n = 0;
            var rest = fields;
            while (rest.TryNext(out var field))
            {
                if (!(is64 ? Numbers.TryParseUInt64(field, out _) : uint.TryParse(field, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)))
                {
                    return $"'{label}': not an unsigned {(is64 ? 64 : 32)}-bit integer: '{field}'";
                }

                n++;
            }

            if (n == 0)
            {
                continue; // fewer than two fields: procfs skips the line
            }

            if (_counts.TryGetValue(label, out var allowed) && Array.IndexOf(allowed, n) < 0)
            {
                return $"'{label}': {n} values, expected {string.Join(" or ", allowed)}";
            }

            for (var i = 0; i < Metrics.Length; i++)
            {
                if (label.SequenceEqual(Metrics[i].Line))
                {
                    var values = new FieldReader(line);
                    values.TryNext(out _);
                    for (var k = 0; k <= Metrics[i].Index; k++)
                    {
                        values.TryNext(out var v);
                        if (k == Metrics[i].Index)
                        {
                            _values[i] = uint.Parse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture);
                        }
                    }
                }
            }
        }

        return null;
    }
}
