using System.Text.Json;

namespace Monitor.Aggregator.Collection;

/// <summary>
/// The targets to poll: the static <c>--targets</c> plus every target of the <c>--targets.file</c> files, which are
/// Prometheus <c>file_sd</c> JSON or YAML (<c>[{"targets": ["node1:9420"], "labels": {...}}]</c>; a name ending in .yml
/// or .yaml is YAML), so operators reuse their Prometheus target lists, plus, with <c>--targets.slurm</c>, every node
/// of Slurm's. A file is read again when its modification time changes; a file that cannot be read or parsed keeps
/// its last good targets, and its problem is reported until it is fixed.
/// </summary>
internal sealed class TargetList(IReadOnlyList<string> targets, IReadOnlyList<string> files, SlurmNodes? slurm = null)
{
    private readonly Dictionary<string, (DateTime Modified, IReadOnlyList<string> Targets)> _files = new(StringComparer.Ordinal);

    /// <summary>The target sources: each file, and "--targets.slurm" when Slurm's nodes are polled.</summary>
    public IReadOnlyList<string> Sources => [.. files, .. slurm is null ? Array.Empty<string>() : ["--targets.slurm"]];

    /// <summary>Problems with the sources at the last <see cref="Current"/>, by source.</summary>
    public Dictionary<string, string> Problems { get; } = new(StringComparer.Ordinal);

    /// <summary>Every target now, as base URLs, each once, in a stable order.</summary>
    public IReadOnlyList<string> Current()
    {
        var all = new SortedSet<string>(targets.Select(AggregatorOptions.TargetUrl), StringComparer.Ordinal);
        foreach (var file in files)
        {
            try
            {
                var modified = File.GetLastWriteTimeUtc(file);
                if (!_files.TryGetValue(file, out var known) || known.Modified != modified)
                {
                    known = (modified, IsYaml(file) ? ParseYaml(File.ReadAllText(file)) : Parse(File.ReadAllBytes(file)));
                    _files[file] = known;
                }

                Problems.Remove(file);
                all.UnionWith(known.Targets);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException)
            {
                Problems[file] = e.Message;
                if (_files.TryGetValue(file, out var last))
                {
                    all.UnionWith(last.Targets);
                }
            }
        }

        if (slurm is not null)
        {
            all.UnionWith(slurm.Current());
            if (slurm.Problem is { } problem)
            {
                Problems["--targets.slurm"] = problem;
            }
            else
            {
                Problems.Remove("--targets.slurm");
            }
        }

        return [.. all];
    }

    private static bool IsYaml(string file) => file.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase);

    /// <summary>The targets of one file_sd YAML document; throws <see cref="FormatException"/>.</summary>
    internal static IReadOnlyList<string> ParseYaml(string text)
    {
        var stream = Monitor.Contracts.SafeYaml.Load(text, 8);

        if (stream.Documents.Count == 0)
        {
            return [];
        }

        if (stream.Documents[0].RootNode is not YamlDotNet.RepresentationModel.YamlSequenceNode groups)
        {
            throw new FormatException("a file_sd file is a list of {targets: [...]} groups");
        }

        var targets = new List<string>();
        foreach (var group in groups)
        {
            if (group is not YamlDotNet.RepresentationModel.YamlMappingNode fields
                || !fields.Children.TryGetValue(new YamlDotNet.RepresentationModel.YamlScalarNode("targets"), out var list)
                || list is not YamlDotNet.RepresentationModel.YamlSequenceNode items)
            {
                throw new FormatException("every group needs a targets list");
            }

            foreach (var item in items)
            {
                targets.Add(AggregatorOptions.TargetUrl(item is YamlDotNet.RepresentationModel.YamlScalarNode { Value.Length: > 0 } scalar ? scalar.Value! : throw new FormatException("a target is an empty or non-string value")));
            }
        }

        return targets;
    }

    /// <summary>The targets of one file_sd JSON document; throws <see cref="JsonException"/> or <see cref="FormatException"/>.</summary>
    internal static IReadOnlyList<string> Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8, CommentHandling = JsonCommentHandling.Skip });
        using var document = JsonDocument.ParseValue(ref reader);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("a file_sd file is a JSON array of {\"targets\": [...]} groups");
        }

        var targets = new List<string>();
        foreach (var group in document.RootElement.EnumerateArray())
        {
            if (group.ValueKind != JsonValueKind.Object || !group.TryGetProperty("targets", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("every group needs a \"targets\" array");
            }

            foreach (var target in list.EnumerateArray())
            {
                targets.Add(AggregatorOptions.TargetUrl(target.GetString() is { Length: > 0 } text ? text : throw new FormatException("a target is an empty or non-string value")));
            }
        }

        return targets;
    }
}
