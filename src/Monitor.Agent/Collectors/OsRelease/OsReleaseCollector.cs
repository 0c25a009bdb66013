using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.OsRelease;

/// <summary>
/// node_exporter's os collector: <c>node_os_info{build_id,id,id_like,image_id,image_version,name,pretty_name,variant,
/// variant_id,version,version_codename,version_id} 1</c> and <c>node_os_version{id,id_like,name}</c> (the leading
/// <c>major.minor</c> of VERSION_ID, left out when it is 0 or absent), from <c>&lt;rootfs&gt;/etc/os-release</c>, else
/// <c>&lt;rootfs&gt;/usr/lib/os-release</c>.
/// </summary>
/// <remarks>
/// Background every 60 s; the file is parsed again only when its path or modification time changes, as node_exporter
/// does. Neither file: no series (node_exporter: ErrNoData; we report success). A line that is not <c>KEY=value</c>
/// (shell quoting as hashicorp/go-envparse reads it) fails the collector; node_exporter fails that scrape but then
/// serves what it parsed before the bad line until the file changes, which we do not copy.
/// </remarks>
internal sealed class OsReleaseCollector : ICollector
{
    private static readonly string[] InfoKeys =
        ["BUILD_ID", "ID", "ID_LIKE", "IMAGE_ID", "IMAGE_VERSION", "NAME", "PRETTY_NAME", "VARIANT", "VARIANT_ID", "VERSION", "VERSION_CODENAME", "VERSION_ID"];

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string[] _paths;
    private readonly MetricFamily _info;
    private readonly MetricFamily _version;
    private string? _cachedPath;
    private DateTime _cachedMtime;
    private string[] _infoLabels = [];
    private string[] _versionLabels = [];
    private double _versionValue;
    private bool _loggedMissing;

    public OsReleaseCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _paths = [context.Paths.Root("/etc/os-release"), context.Paths.Root("/usr/lib/os-release")];
        _info = context.Group.Gauge(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            "build_id", "id", "id_like", "image_id", "image_version", "name", "pretty_name", "variant", "variant_id", "version", "version_codename", "version_id");
        _version = context.Group.Gauge("node_os_version", "Metric containing the major.minor part of the OS version.", "id", "id_like", "name");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "os", "OS release information from /etc/os-release or /usr/lib/os-release.", true, Cadence.Background, TimeSpan.FromSeconds(60),
        c => new OsReleaseCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        var found = false;
        foreach (var path in _paths)
        {
            DateTime mtime;
            try
            {
                // Follows a symlink (/etc/os-release -> ../usr/lib/os-release), as Go's File.Stat does.
                var info = new FileInfo(path);
                if (info.LinkTarget is not null)
                {
                    info = (FileInfo?)info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
                }

                if (!info.Exists)
                {
                    continue;
                }

                mtime = info.LastWriteTimeUtc;
            }
            catch (Exception ex) when (SourceLog.IsMissing(ex))
            {
                continue;
            }

            if (path != _cachedPath || mtime != _cachedMtime)
            {
                Parse(path);
                _cachedPath = path;
                _cachedMtime = mtime;
            }

            found = true;
            break;
        }

        if (!found)
        {
            SourceLog.MissingOnce(_logger, ref _loggedMissing, "os", string.Join(",", _paths), "no os-release file found");
            return;
        }

        _info.Get(_infoLabels).Set(1);
        if (_versionValue > 0)
        {
            _version.Get(_versionLabels).Set(_versionValue);
        }
    }

    private void Parse(string path)
    {
        var values = ParseEnv(_reader.ReadAll(path)).ValueOrThrow(path);
        _infoLabels = InfoKeys.Select(k => values.GetValueOrDefault(k, "")).ToArray();
        _versionLabels = [values.GetValueOrDefault("ID", ""), values.GetValueOrDefault("ID_LIKE", ""), values.GetValueOrDefault("NAME", "")];
        _versionValue = MajorMinor(values.GetValueOrDefault("VERSION_ID", ""));
    }

    /// <summary>node_exporter's <c>^[0-9]+\.?[0-9]*</c> match of VERSION_ID as a float; 0 when it does not match.</summary>
    internal static double MajorMinor(string versionId)
    {
        var i = 0;
        while (i < versionId.Length && char.IsAsciiDigit(versionId[i]))
        {
            i++;
        }

        if (i == 0)
        {
            return 0;
        }

        if (i < versionId.Length && versionId[i] == '.')
        {
            i++;
            while (i < versionId.Length && char.IsAsciiDigit(versionId[i]))
            {
                i++;
            }
        }

        return double.Parse(versionId.AsSpan(0, i), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Parses an os-release file as hashicorp/go-envparse does: blank lines and <c>#</c> comments skipped, an optional
    /// <c>export </c>, <c>KEY=value</c> with the value unquoted, in single quotes (literal) or double quotes (backslash
    /// escapes), a trailing comment allowed. Anything else is an error naming the line.
    /// </summary>
    internal static ParseResult<Dictionary<string, string>> ParseEnv(ReadOnlySpan<char> text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = new LineReader(text);
        var number = 0;
        var value = new System.Text.StringBuilder();
        while (lines.TryNext(out var raw))
        {
            number++;
            var line = raw.Trim();
            if (line.IsEmpty || line[0] == '#')
            {
                continue;
            }

            if (line.StartsWith("export ") || line.StartsWith("export\t"))
            {
                line = line[7..].TrimStart();
            }

            var eq = line.IndexOf('=');
            if (eq <= 0 || !IsKey(line[..eq]))
            {
                return ParseResult<Dictionary<string, string>>.Fail($"line {number}: expected KEY=value");
            }

            var key = line[..eq].ToString();
            var rest = line[(eq + 1)..];
            value.Clear();
            var i = 0;
            while (i < rest.Length && !char.IsWhiteSpace(rest[i]) && rest[i] != '#')
            {
                var c = rest[i];
                if (c == '\'')
                {
                    var end = rest[(i + 1)..].IndexOf('\'');
                    if (end < 0)
                    {
                        return ParseResult<Dictionary<string, string>>.Fail($"line {number}: unterminated single quote");
                    }

                    value.Append(rest.Slice(i + 1, end));
                    i += end + 2;
                }
                else if (c == '"')
                {
                    i++;
                    var closed = false;
                    while (i < rest.Length)
                    {
                        if (rest[i] == '\\' && i + 1 < rest.Length)
                        {
                            value.Append(rest[i + 1] switch { 'n' => '\n', var other => other });
                            i += 2;
                        }
                        else if (rest[i] == '"')
                        {
                            closed = true;
                            i++;
                            break;
                        }
                        else
                        {
                            value.Append(rest[i++]);
                        }
                    }

                    if (!closed)
                    {
                        return ParseResult<Dictionary<string, string>>.Fail($"line {number}: unterminated double quote");
                    }
                }
                else if (c == '\\' && i + 1 < rest.Length)
                {
                    value.Append(rest[i + 1]);
                    i += 2;
                }
                else if (c is '$' or '`' or '(' or ')' or ';' or '&' or '|' or '<' or '>')
                {
                    return ParseResult<Dictionary<string, string>>.Fail($"line {number}: unsupported character '{c}'");
                }
                else
                {
                    value.Append(c);
                    i++;
                }
            }

            var tail = rest[i..].Trim();
            if (!tail.IsEmpty && tail[0] != '#')
            {
                return ParseResult<Dictionary<string, string>>.Fail($"line {number}: unexpected text after the value");
            }

            values[key] = value.ToString();
        }

        return ParseResult<Dictionary<string, string>>.Ok(values);
    }

    private static bool IsKey(ReadOnlySpan<char> key)
    {
        if (key.IsEmpty || char.IsAsciiDigit(key[0]))
        {
            return false;
        }

        foreach (var c in key)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return false;
            }
        }

        return true;
    }
}
