using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Edac;

/// <summary>
/// node_exporter's edac collector: <c>node_edac_{correctable,uncorrectable}_errors_total{controller}</c> from
/// <c>/sys/devices/system/edac/mc/mcN/{ce,ue}_count</c>, and <c>node_edac_csrow_{correctable,uncorrectable}_errors_total{controller,csrow}</c>
/// from each <c>csrowM/{ce,ue}_count</c>, plus <c>csrow="unknown"</c> from the controller's <c>{ce,ue}_noinfo_count</c>.
/// </summary>
/// <remarks>
/// As node_exporter 1.5.0: the label is the number after <c>mc</c> / <c>csrow</c>; no controller, no series (success).
/// A missing or malformed count fails node_exporter's whole collector; we skip that controller and log once (event
/// 2101), so one bad controller never hides the others.
/// </remarks>
internal sealed class EdacCollector : ICollector
{
    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _root;
    private readonly MetricFamily _ce;
    private readonly MetricFamily _ue;
    private readonly MetricFamily _csrowCe;
    private readonly MetricFamily _csrowUe;
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly List<(string Csrow, ulong Ce, ulong Ue)> _rows = [];
    private Controller[] _controllers = [];
    private DateTimeOffset _listedAt;

    public EdacCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _time = context.Time;
        _root = context.Paths.Sys("devices/system/edac/mc");
        var g = context.Group;
        _ce = g.Counter("node_edac_correctable_errors_total", "Total correctable memory errors.", "controller");
        _ue = g.Counter("node_edac_uncorrectable_errors_total", "Total uncorrectable memory errors.", "controller");
        _csrowCe = g.Counter("node_edac_csrow_correctable_errors_total", "Total correctable memory errors for this csrow.", "controller", "csrow");
        _csrowUe = g.Counter("node_edac_csrow_uncorrectable_errors_total", "Total uncorrectable memory errors for this csrow.", "controller", "csrow");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "edac", "Memory controller error counts from /sys/devices/system/edac/mc.", true, Cadence.OnScrape, TimeSpan.Zero, c => new EdacCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        // Controllers and csrows only change with a driver reload: list them again once a minute, not every scrape.
        if (_time.GetUtcNow() - _listedAt > TimeSpan.FromMinutes(1))
        {
            _controllers = List(_root);
            _listedAt = _time.GetUtcNow();
        }

        foreach (var controller in _controllers)
        {
            if (Read(controller, out var ce, out var ue, out var ceNoInfo, out var ueNoInfo) is { } problem)
            {
                if (_warned.Add(controller.Path))
                {
                    HostCollectorLog.EntrySkipped(_logger, controller.Path, problem);
                }
                else
                {
                    HostCollectorLog.EntrySkippedAgain(_logger, controller.Path, problem);
                }

                continue;
            }

            _ce.Get(controller.Label).Set(ce);
            _csrowCe.Get(controller.Label, "unknown").Set(ceNoInfo);
            _ue.Get(controller.Label).Set(ue);
            _csrowUe.Get(controller.Label, "unknown").Set(ueNoInfo);
            foreach (var (csrow, rowCe, rowUe) in _rows)
            {
                _csrowCe.Get(controller.Label, csrow).Set(rowCe);
                _csrowUe.Get(controller.Label, csrow).Set(rowUe);
            }
        }
    }

    private string? Read(Controller controller, out ulong ce, out ulong ue, out ulong ceNoInfo, out ulong ueNoInfo)
    {
        ce = ue = ceNoInfo = ueNoInfo = 0;
        _rows.Clear();
        try
        {
            ce = ReadUInt(controller.CeCount);
            ceNoInfo = ReadUInt(controller.CeNoInfo);
            ue = ReadUInt(controller.UeCount);
            ueNoInfo = ReadUInt(controller.UeNoInfo);
            foreach (var row in controller.Csrows)
            {
                _rows.Add((row.Label, ReadUInt(row.CeCount), ReadUInt(row.UeCount)));
            }

            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or MalformedSourceException)
        {
            return ex.Message;
        }
    }

    private ulong ReadUInt(string path)
    {
        var text = _reader.ReadAll(path).Trim();
        return Numbers.TryParseUInt64(text, out var value) ? value : throw new MalformedSourceException(path, $"not a whole number: '{text}'");
    }

    private static Controller[] List(string root)
    {
        if (!Directory.Exists(root))
        {
            return [];
        }

        return Directory.GetDirectories(root, "mc*")
            .Where(d => IsNumbered(d, "mc"))
            .Order(StringComparer.Ordinal)
            .Select(d => new Controller(
                d,
                Number(d, "mc"),
                Path.Join(d, "ce_count"),
                Path.Join(d, "ce_noinfo_count"),
                Path.Join(d, "ue_count"),
                Path.Join(d, "ue_noinfo_count"),
                Directory.GetDirectories(d, "csrow*").Where(r => IsNumbered(r, "csrow")).Order(StringComparer.Ordinal)
                    .Select(r => new Csrow(Number(r, "csrow"), Path.Join(r, "ce_count"), Path.Join(r, "ue_count"))).ToArray()))
            .ToArray();
    }

    /// <summary>filepath.Glob's <c>prefix[0-9]*</c>.</summary>
    private static bool IsNumbered(string path, string prefix)
    {
        var name = Path.GetFileName(path);
        return name.Length > prefix.Length && name.StartsWith(prefix, StringComparison.Ordinal) && char.IsAsciiDigit(name[prefix.Length]);
    }

    /// <summary>The digits after the prefix, as node_exporter's <c>mc([0-9]*)</c> captures them.</summary>
    private static string Number(string path, string prefix)
    {
        var name = Path.GetFileName(path)[prefix.Length..];
        var end = 0;
        while (end < name.Length && char.IsAsciiDigit(name[end]))
        {
            end++;
        }

        return name[..end];
    }

    private sealed record Controller(string Path, string Label, string CeCount, string CeNoInfo, string UeCount, string UeNoInfo, Csrow[] Csrows);

    private sealed record Csrow(string Label, string CeCount, string UeCount);
}
