using System.Globalization;
using System.Text.RegularExpressions;
using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Configuration;

/// <summary>Checks one setting value against its <see cref="FlagSpec"/>.</summary>
internal static class SettingValidator
{
    /// <summary>Null when <paramref name="value"/> is acceptable; otherwise what is allowed.</summary>
    public static string? Check(FlagSpec flag, string value)
    {
        var ok = flag.Kind switch
        {
            FlagKind.Bool => bool.TryParse(value, out _),
            FlagKind.Int => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _),
            FlagKind.Duration => DurationParser.Parse(value) is { Success: true, Value: var duration } && duration > TimeSpan.Zero,
            FlagKind.Regex => IsRegex(value),
            FlagKind.Choice => flag.Allowed?.Contains(value, StringComparer.OrdinalIgnoreCase) ?? true,
            _ => true,
        };
        return ok ? null : $"allowed values: {flag.AllowedText}";
    }

    /// <summary>
    /// The longest pattern a regex setting takes. Real filters are tens of characters (node_exporter's longest default
    /// is ~100); parsing a pattern costs ~330 bytes per character, so the fuzzing's 69,000-character nested pattern in
    /// --config.file cost 22 MB just to validate (docs/testing.md).
    /// </summary>
    public const int MaxRegexLength = 4096;

    private static bool IsRegex(string value)
    {
        if (value.Length > MaxRegexLength)
        {
            return false;
        }

        try
        {
            _ = new Regex(value, RegexOptions.None, TimeSpan.FromSeconds(1));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
