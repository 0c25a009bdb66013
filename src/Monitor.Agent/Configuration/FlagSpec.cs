using Monitor.Agent.Collectors;

namespace Monitor.Agent.Configuration;

/// <summary>
/// One command-line flag and the configuration key it sets. The same table drives parsing, <c>--help</c> and the
/// validation of every configuration source (flags, <c>--config.file</c>, <c>MONITOR_</c> environment variables), so
/// a bad value is reported with the same words wherever it came from.
/// </summary>
/// <param name="Flag">Flag name without the leading dashes, e.g. <c>web.listen-address</c>.</param>
/// <param name="Key">Configuration key, e.g. <c>Web:ListenAddress</c>.</param>
/// <param name="Default">Default value as text.</param>
/// <param name="Help">One line for <c>--help</c>.</param>
/// <param name="Kind">How the value is validated.</param>
/// <param name="Allowed">Allowed words when <paramref name="Kind"/> is <see cref="FlagKind.Choice"/>.</param>
internal sealed record FlagSpec(string Flag, string Key, string Default, string Help, FlagKind Kind, IReadOnlyList<string>? Allowed = null)
{
    /// <summary>True for flags that take no value and have a <c>--no-</c> form.</summary>
    public bool IsBoolean => Kind == FlagKind.Bool;

    /// <summary>The allowed values, in words, for error messages.</summary>
    public string AllowedText => Kind switch
    {
        FlagKind.Bool => "true or false",
        FlagKind.Int => "a whole number >= 0",
        FlagKind.Duration => "a positive duration such as 500ms, 5s or 1m",
        FlagKind.Regex => "a valid regular expression of at most 4,096 characters",
        FlagKind.Choice => "one of " + string.Join(", ", Allowed ?? []),
        _ => "any text",
    };
}
