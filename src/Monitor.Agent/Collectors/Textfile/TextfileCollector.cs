using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Textfile;

/// <summary>
/// node_exporter's textfile collector: the metrics of every <c>*.prom</c> file in <c>--collector.textfile.directory</c>
/// (a glob is allowed), with <c>node_textfile_mtime_seconds{file}</c> for each file read and
/// <c>node_textfile_scrape_error</c> 1 while any file or directory cannot be read. The semantics are node_exporter
/// 1.5.0's, checked against the binary (docs/host-collectors.md, "textfile"):
/// <list type="bullet">
/// <item>A file that does not parse, or has client-side timestamps, is skipped whole; the rest are served.</item>
/// <item>A family without HELP gets "Metric read from" and the files that have it.</item>
/// <item>Files are read in name order; the first file to define a family sets its HELP and type, and a later file's
/// metrics of that family with another HELP or type are dropped, as is a metric whose label values repeat one
/// already read (client_golang's registry compares values only).</item>
/// <item>Within a family every metric carries every label name the file used for it, empty where missing.</item>
/// </list>
/// Beyond node_exporter: only regular files are opened (a FIFO would block node_exporter's scrape), a file over
/// <c>--collector.textfile.max-bytes</c> is refused, a file is parsed again only when it changes (inode, size, mtime,
/// ctime), and a family whose name one of the agent's own collectors exports is dropped instead of duplicated.
/// </summary>
internal sealed class TextfileCollector : ICollector
{
    /// <summary>Default of <c>--collector.textfile.max-bytes</c>: 16 MiB.</summary>
    internal const long DefaultMaxBytes = 16L << 20;

    private readonly string _directory;
    private readonly long _maxBytes;
    private readonly ILogger _logger;
    private readonly MetricGroup _group;
    private readonly MetricFamily _mtime;
    private readonly Series _error;
    private readonly Dictionary<string, FileEntry> _cache = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _logged = new(StringComparer.Ordinal);
    private FileEntry[] _last = [];
    private RawExposition _rendered = RawExposition.Empty;

    public TextfileCollector(CollectorContext context)
    {
        _directory = context.Settings["directory"] ?? string.Empty;
        _maxBytes = long.TryParse(context.Settings["max-bytes"], out var max) && max > 0 ? max : DefaultMaxBytes;
        _logger = context.Logger;
        _group = context.Group;
        _mtime = context.Group.Gauge("node_textfile_mtime_seconds", "Unixtime mtime of textfiles successfully read.", "file");
        _error = context.Group.Gauge("node_textfile_scrape_error", "1 if there was an error opening or reading a file, 0 otherwise").Get();
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "textfile", "Metrics from *.prom files in a directory (node_exporter's textfile collector).", true, Cadence.OnScrape, TimeSpan.Zero,
        c => new TextfileCollector(c),
        [
            new CollectorFlag("directory", string.Empty, "Directory to read text files with metrics from (a glob is allowed; empty: none)."),
            new CollectorFlag("max-bytes", DefaultMaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), "Largest textfile read, in bytes; a larger file is skipped as an error.", FlagKind.Int),
        ]);

    public void Update(CancellationToken cancellationToken)
    {
        var errored = false;
        var entries = new List<FileEntry>();
        var directories = _directory.Length == 0 ? [] : PathGlob.Expand(_directory) is { Count: > 0 } matches ? matches : [_directory];
        foreach (var directory in directories)
        {
            string[] names;
            try
            {
                names = Directory.GetFileSystemEntries(directory).Select(Path.GetFileName).OfType<string>().Where(n => n.EndsWith(".prom", StringComparison.Ordinal)).ToArray();
                Forget("dir:" + directory);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                errored = true;
                if (Remember("dir:" + directory, ex.Message))
                {
                    TextfileLog.DirectoryFailed(_logger, directory, ex.Message);
                }

                continue;
            }

            Array.Sort(names, StringComparer.Ordinal);
            foreach (var name in names)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var entry = Load(PathGlob.Join(directory, name));
                errored |= entry.Error is not null;
                entries.Add(entry);
            }
        }

        if (!SameFiles(entries))
        {
            _rendered = TextfileRender.Render(Merge(entries));
            _last = [.. entries];
            foreach (var path in _cache.Keys.Where(p => !entries.Any(e => e.Path == p)).ToList())
            {
                _cache.Remove(path);
                Forget(path);
            }
        }

        foreach (var entry in entries)
        {
            if (entry.Error is null)
            {
                _mtime.Get(entry.Path).Set(entry.Status.ModifiedSeconds);
            }
        }

        _error.Set(errored ? 1 : 0);
        _group.SetRaw(_rendered);
    }

    /// <summary>Stats, and when it changed reads and parses, one file; the answer says why it was skipped, if it was.</summary>
    private FileEntry Load(string path)
    {
        var errno = FileStatus.TryGet(path, out var status);
        if (errno != 0)
        {
            var problem = $"failed to open textfile data file: {new System.ComponentModel.Win32Exception(errno).Message}";
            if (_cache.TryGetValue(path, out var missing) && missing.Status == default && missing.Error == problem)
            {
                return missing;
            }

            return Failed(_cache[path] = new FileEntry(path, default, [], problem));
        }

        if (_cache.TryGetValue(path, out var cached) && cached.Status == status)
        {
            return cached;
        }

        var entry = Read(path, status);
        _cache[path] = entry;
        if (entry.Error is null)
        {
            Forget(path);
        }

        return Failed(entry);
    }

    private FileEntry Read(string path, FileStatus status)
    {
        if (!status.IsRegular)
        {
            // node_exporter opens it anyway: a FIFO blocks its scrape, a directory fails the parse.
            return new FileEntry(path, status, [], $"not a regular file but a {status.Kind}");
        }

        if (status.Size > _maxBytes)
        {
            return new FileEntry(path, status, [], $"{status.Size} bytes is more than --collector.textfile.max-bytes={_maxBytes}");
        }

        byte[] bytes;
        try
        {
            ReadTracker.Note(path);
            bytes = ReadCapped(path, _maxBytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new FileEntry(path, status, [], $"failed to read textfile data file: {ex.Message}");
        }

        IReadOnlyList<ParsedFamily> parsed;
        try
        {
            parsed = TextParser.Parse(bytes, ExpositionFormat.Text004);
        }
        catch (ExpositionParseException ex)
        {
            return new FileEntry(path, status, [], $"failed to parse textfile data: {ex.Message}");
        }

        var families = new List<TextfileFamily>(parsed.Count);
        foreach (var family in parsed)
        {
            if (family.Samples.Count == 0)
            {
                continue;
            }

            if (family.Samples.Any(s => s.TimestampMilliseconds is not null))
            {
                return new FileEntry(path, status, [], "contains unsupported client-side timestamps, skipping entire file");
            }

            try
            {
                families.Add(TextfileFamily.From(family));
            }
            catch (FormatException ex)
            {
                return new FileEntry(path, status, [], $"failed to parse textfile data: {ex.Message}");
            }
        }

        return new FileEntry(path, status, families, null);
    }

    /// <summary>Reads at most <paramref name="max"/> bytes: a file that grew past its stat'ed size is refused, not read to the end.</summary>
    private static byte[] ReadCapped(string path, long max)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > max)
            {
                throw new IOException($"grew past --collector.textfile.max-bytes={max} while being read");
            }
        }

        return buffer.ToArray();
    }

    /// <summary>Merges the files' families the way client_golang's registry gathers node_exporter's metrics.</summary>
    private List<TextfileFamily> Merge(List<FileEntry> entries)
    {
        var filesOf = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            foreach (var family in entry.Families)
            {
                if (!filesOf.TryGetValue(family.Name, out var files))
                {
                    filesOf[family.Name] = files = [];
                }

                files.Add(entry.Path);
            }
        }

        var merged = new Dictionary<string, (TextfileFamily Family, HashSet<string> Seen)>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            foreach (var family in entry.Families)
            {
                var help = family.Help ?? "Metric read from " + string.Join(", ", filesOf[family.Name]);
                if (Shadowed(family))
                {
                    TextfileLog.FamilyShadowed(_logger, entry.Path, family.Name);
                    continue;
                }

                if (!merged.TryGetValue(family.Name, out var into))
                {
                    into = (new TextfileFamily(family.Name, help, family.Type, []), new HashSet<string>(StringComparer.Ordinal));
                    merged.Add(family.Name, into);
                }
                else if (into.Family.Help != help || into.Family.Type != family.Type)
                {
                    var problem = into.Family.Help != help
                        ? $"has help \"{help}\" but should have \"{into.Family.Help}\""
                        : $"is a {family.Type} but should be a {into.Family.Type}";
                    TextfileLog.MetricDropped(_logger, entry.Path, family.Name, problem);
                    continue;
                }

                foreach (var metric in family.Metrics)
                {
                    if (metric.LabelNames.FirstOrDefault(n => n.StartsWith("__", StringComparison.Ordinal)) is { } reserved)
                    {
                        TextfileLog.MetricDropped(_logger, entry.Path, family.Name, $"label name \"{reserved}\" is reserved");
                    }
                    else if (!into.Seen.Add(metric.Identity))
                    {
                        TextfileLog.MetricDropped(_logger, entry.Path, family.Name, "was collected before with the same name and label values");
                    }
                    else
                    {
                        into.Family.Metrics.Add(metric);
                    }
                }
            }
        }

        var result = merged.Values.Select(m => m.Family).Where(f => f.Metrics.Count > 0).ToList();
        foreach (var family in result)
        {
            family.Metrics.Sort(TextfileMetric.Compare);
        }

        return result;
    }

    /// <summary>True when a name the family would expose is already exported by one of the agent's collectors.</summary>
    private bool Shadowed(TextfileFamily family)
    {
        var name = family.Name;
        return family.Type switch
        {
            ParsedMetricType.Histogram => _group.IsNameTaken(name) || _group.IsNameTaken(name + "_bucket") || _group.IsNameTaken(name + "_sum") || _group.IsNameTaken(name + "_count"),
            ParsedMetricType.Summary => _group.IsNameTaken(name) || _group.IsNameTaken(name + "_sum") || _group.IsNameTaken(name + "_count"),
            ParsedMetricType.Counter => _group.IsNameTaken(name) || _group.IsNameTaken(name.EndsWith("_total", StringComparison.Ordinal) ? name[..^6] : name + "_total"),
            _ => _group.IsNameTaken(name),
        };
    }

    private bool SameFiles(List<FileEntry> entries)
    {
        if (entries.Count != _last.Length)
        {
            return false;
        }

        for (var i = 0; i < entries.Count; i++)
        {
            if (!ReferenceEquals(entries[i], _last[i]))
            {
                return false;
            }
        }

        return true;
    }

    private FileEntry Failed(FileEntry entry)
    {
        if (entry.Error is not null && Remember(entry.Path, entry.Error))
        {
            TextfileLog.FileFailed(_logger, entry.Path, entry.Error);
        }

        return entry;
    }

    /// <summary>Records <paramref name="problem"/> for <paramref name="key"/>; true when it is new (so it is logged once).</summary>
    private bool Remember(string key, string problem)
    {
        if (_logged.TryGetValue(key, out var last) && last == problem)
        {
            return false;
        }

        _logged[key] = problem;
        return true;
    }

    private void Forget(string key) => _logged.Remove(key);

    /// <summary>One file as last read: its status, its families, or why it was skipped.</summary>
    private sealed record FileEntry(string Path, FileStatus Status, IReadOnlyList<TextfileFamily> Families, string? Error);
}
