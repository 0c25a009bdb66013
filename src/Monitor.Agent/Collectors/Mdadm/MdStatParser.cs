using System.Globalization;
using System.Text.RegularExpressions;
using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.Mdadm;

/// <summary>One md array of <c>/proc/mdstat</c>, as procfs v0.8.0's <c>MDStat</c> has it (the fields node_exporter exports).</summary>
internal sealed record MdDevice(string Name, string ActivityState, long DisksActive, long DisksTotal, long DisksFailed, long DisksSpare, long BlocksTotal, long BlocksSynced);

/// <summary>
/// procfs v0.8.0's <c>parseMDStat</c>, rule for rule, including its quirks: the state is the third field of the device
/// line (so <c>active (auto-read-only)</c> gives the state <c>(auto-read-only)</c>), a raid0 or linear array counts
/// the <c>[</c> of its device line as both active and total disks, an inactive one has none, and a sync line is looked
/// for two lines below the device line (three when the second is a bitmap line). Any line that breaks a rule fails
/// the whole file, as it fails node_exporter's collector. Allocates; the collector reparses only when the text changes.
/// </summary>
internal static partial class MdStatParser
{
    // Go's \d is ASCII only; [0-9] keeps .NET from matching other Unicode digits. Go's RE2 picks the leftmost-first
    // match, as .NET's backtracking engine does, so the same texts match the same way.
    [GeneratedRegex(@"([0-9]+) blocks .*\[([0-9]+)/([0-9]+)\] \[([U_]+)\]", RegexOptions.CultureInvariant)]
    private static partial Regex StatusLine();

    [GeneratedRegex(@"\(([0-9]+)/[0-9]+\)", RegexOptions.CultureInvariant)]
    private static partial Regex RecoveryBlocks();

    [GeneratedRegex(@"= (.+)%", RegexOptions.CultureInvariant)]
    private static partial Regex RecoveryPercent();

    [GeneratedRegex(@"finish=(.+)min", RegexOptions.CultureInvariant)]
    private static partial Regex RecoveryFinish();

    [GeneratedRegex(@"speed=(.+)[A-Z]", RegexOptions.CultureInvariant)]
    private static partial Regex RecoverySpeed();

    /// <summary>Parses the whole file; never throws.</summary>
    public static ParseResult<IReadOnlyList<MdDevice>> Parse(string text)
    {
        var devices = new List<MdDevice>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.AsSpan().Trim(GoSpace).IsEmpty || line[0] == ' '
                || line.StartsWith("Personalities", StringComparison.Ordinal) || line.StartsWith("unused", StringComparison.Ordinal))
            {
                continue;
            }

            var fields = Fields(line);
            if (fields.Length < 3)
            {
                return Fail($"not enough fields in mdline (expected at least 3): {line}");
            }

            var name = fields[0];
            var state = fields[2];
            if (lines.Length <= i + 3)
            {
                return Fail($"error parsing \"{name}\": too few lines for md device");
            }

            var failed = Count(line, "(F)");
            var spare = Count(line, "(S)");
            if (StatusLineValues(line, lines[i + 1], out var active, out var total, out var size) is { } statusError)
            {
                return Fail("error parsing md device lines: " + statusError);
            }

            var syncLine = lines[i + 2].Contains("bitmap", StringComparison.Ordinal) ? lines[i + 3] : lines[i + 2];
            var synced = size;
            var recovering = syncLine.Contains("recovery", StringComparison.Ordinal);
            var resyncing = syncLine.Contains("resync", StringComparison.Ordinal);
            var checking = syncLine.Contains("check", StringComparison.Ordinal);
            if (recovering || resyncing || checking)
            {
                state = recovering ? "recovering" : checking ? "checking" : "resyncing";
                if (syncLine.Contains("PENDING", StringComparison.Ordinal) || syncLine.Contains("DELAYED", StringComparison.Ordinal))
                {
                    synced = 0;
                }
                else if (RecoveryValues(syncLine, out synced) is { } syncError)
                {
                    return Fail($"error parsing sync line in md device \"{name}\": {syncError}");
                }
            }

            devices.Add(new MdDevice(name, state, active, total, failed, spare, size, synced));
        }

        return ParseResult<IReadOnlyList<MdDevice>>.Ok(devices);
    }

    private static ParseResult<IReadOnlyList<MdDevice>> Fail(string error) => ParseResult<IReadOnlyList<MdDevice>>.Fail(error);

    private static string? StatusLineValues(string deviceLine, string statusLine, out long active, out long total, out long size)
    {
        active = total = size = 0;
        var statusFields = Fields(statusLine);
        if (statusFields.Length < 1)
        {
            return $"unexpected statusLine \"{statusLine}\"";
        }

        if (!GoParseInt(statusFields[0], out size))
        {
            return $"unexpected statusLine \"{statusLine}\": size '{statusFields[0]}' is not a 64-bit integer";
        }

        if (deviceLine.Contains("raid0", StringComparison.Ordinal) || deviceLine.Contains("linear", StringComparison.Ordinal))
        {
            // Only the member disks carry a [n] on the device line.
            active = total = Count(deviceLine, "[");
            return null;
        }

        if (deviceLine.Contains("inactive", StringComparison.Ordinal))
        {
            return null;
        }

        var match = StatusLine().Match(statusLine);
        if (!match.Success)
        {
            return $"couldn't find all the substring matches: {statusLine}";
        }

        if (!GoParseInt(match.Groups[2].Value, out total) || !GoParseInt(match.Groups[3].Value, out active))
        {
            size = 0;
            return $"unexpected statusLine \"{statusLine}\": disk count out of range";
        }

        return null;
    }

    private static string? RecoveryValues(string line, out long synced)
    {
        synced = 0;
        var blocks = RecoveryBlocks().Match(line);
        if (!blocks.Success)
        {
            return $"unexpected recoveryLine: {line}";
        }

        if (!GoParseInt(blocks.Groups[1].Value, out synced))
        {
            return $"error parsing int from recoveryLine \"{line}\"";
        }

        // node_exporter 1.5.0 exports none of these, but procfs fails the file when they do not parse.
        var percent = RecoveryPercent().Match(line);
        if (!percent.Success || !GoParseFloat(percent.Groups[1].Value.Trim(GoSpace)))
        {
            return $"unexpected recoveryLine matching percentage: {line}";
        }

        var finish = RecoveryFinish().Match(line);
        if (!finish.Success || !GoParseFloat(finish.Groups[1].Value))
        {
            return $"unexpected recoveryLine matching est. finish time: {line}";
        }

        var speed = RecoverySpeed().Match(line);
        if (!speed.Success || !GoParseFloat(speed.Groups[1].Value))
        {
            return $"unexpected recoveryLine matching speed: {line}";
        }

        return null;
    }

    /// <summary>strconv.ParseInt(s, 10, 64): optional sign, ASCII digits, no spaces.</summary>
    private static bool GoParseInt(string text, out long value) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    /// <summary>strconv.ParseFloat(s, 64) for the forms the kernel writes (decimal, exponent, inf/nan words).</summary>
    private static bool GoParseFloat(string text) =>
        double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out _)
        || text.TrimStart('+', '-').ToLowerInvariant() is "inf" or "infinity" or "nan";

    private static long Count(string text, string part)
    {
        long n = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }

    /// <summary>Go's unicode.IsSpace for the ASCII range and the Latin-1 spaces the reader can produce.</summary>
    private static readonly char[] GoSpace = [' ', '\t', '\n', '\v', '\f', '\r', '\u0085', '\u00A0'];

    /// <summary>strings.Fields.</summary>
    private static string[] Fields(string line) => line.Split(GoSpace, StringSplitOptions.RemoveEmptyEntries);
}
