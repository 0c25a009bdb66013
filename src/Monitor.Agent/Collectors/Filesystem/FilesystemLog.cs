using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Collectors.Filesystem;

/// <summary>Source-generated log messages of the filesystem collector.</summary>
internal static partial class FilesystemLog
{
    [LoggerMessage(EventId = EventIds.MountStuck, Level = LogLevel.Warning, Message = "Mount point {MountPoint} did not answer statfs within {Timeout}; it is marked stuck and not polled again until the call returns")]
    public static partial void MountStuck(ILogger logger, string mountPoint, TimeSpan timeout);

    [LoggerMessage(EventId = EventIds.MountRecovered, Level = LogLevel.Information, Message = "Mount point {MountPoint} answered statfs again; monitoring resumes")]
    public static partial void MountRecovered(ILogger logger, string mountPoint);

    [LoggerMessage(EventId = EventIds.StatFsFailed, Level = LogLevel.Debug, Message = "statfs({Path}) failed with errno {Errno}")]
    public static partial void StatFsFailed(ILogger logger, string path, int errno);

    [LoggerMessage(EventId = EventIds.MountInfoLineMalformed, Level = LogLevel.Warning, Message = "Skipping malformed mountinfo line '{Line}': {Problem}")]
    public static partial void MalformedLine(ILogger logger, string line, string problem);
}
