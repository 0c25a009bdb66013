using System.Globalization;
using System.Text.RegularExpressions;

namespace Monitor.Testing;

/// <summary>
/// Reads what the tests check in the aggregator's pages, from the server's HTML or the DOM a browser dumped: the
/// chart bars and every address the page could load or link to.
/// </summary>
public static partial class PageMarkup
{
    /// <summary>The bars of the charts in document order: their CSS class after <c>bar</c> (the colour) and their width.</summary>
    public static IReadOnlyList<(string Class, double Width)> Bars(string html) =>
        [.. BarRect().Matches(html).Select(m => (m.Groups[1].Value, double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))];

    /// <summary>Every <c>src</c>, <c>href</c> and <c>action</c> value (and CSS <c>url(...)</c>), as written.</summary>
    public static IReadOnlyList<string> References(string html) =>
        [.. Reference().Matches(html).Select(m => m.Groups[2].Value), .. CssUrl().Matches(html).Select(m => m.Groups[1].Value)];

    /// <summary>The references that leave the server: absolute (<c>http:</c>, <c>//host</c>) or another scheme (<c>javascript:</c>, <c>data:</c>).</summary>
    public static IReadOnlyList<string> ExternalReferences(string html) =>
        [.. References(html).Where(r => !r.StartsWith('/') || r.StartsWith("//", StringComparison.Ordinal))];

    [GeneratedRegex("<rect class=\"bar ([a-z]+)\" x=\"[0-9.]+\" y=\"[0-9.]+\" width=\"([0-9.]+)\"")]
    private static partial Regex BarRect();

    [GeneratedRegex("\\b(src|href|action)\\s*=\\s*\"([^\"]*)\"", RegexOptions.IgnoreCase)]
    private static partial Regex Reference();

    [GeneratedRegex("url\\(([^)]*)\\)", RegexOptions.IgnoreCase)]
    private static partial Regex CssUrl();
}
