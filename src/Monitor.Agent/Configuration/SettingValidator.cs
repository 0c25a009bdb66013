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

    private static bool IsRegex(string value)
    {
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
