using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Collectors.Textfile;

/// <summary>Log messages of the textfile collector (2190–2193). Each is logged once per change, not per scrape.</summary>
internal static partial class TextfileLog
{
    [LoggerMessage(EventId = EventIds.TextfileFileFailed, Level = LogLevel.Error,
        Message = "Textfile {Path} skipped: {Problem}; node_textfile_scrape_error is 1 until it is fixed or removed")]
    public static partial void FileFailed(ILogger logger, string path, string problem);

    [LoggerMessage(EventId = EventIds.TextfileDirectoryFailed, Level = LogLevel.Error,
        Message = "Failed to read textfile collector directory {Path}: {Problem}")]
    public static partial void DirectoryFailed(ILogger logger, string path, string problem);

    [LoggerMessage(EventId = EventIds.TextfileMetricDropped, Level = LogLevel.Warning,
        Message = "Textfile {Path}: metric {Metric} dropped: {Problem}")]
    public static partial void MetricDropped(ILogger logger, string path, string metric, string problem);

    [LoggerMessage(EventId = EventIds.TextfileFamilyShadowed, Level = LogLevel.Warning,
        Message = "Textfile {Path}: family {Family} dropped: the agent's own collectors export that name")]
    public static partial void FamilyShadowed(ILogger logger, string path, string family);
}
