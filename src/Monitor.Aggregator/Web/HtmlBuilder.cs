using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Monitor.Aggregator.Web;

/// <summary>
/// Markup that is already HTML: what a <see cref="HtmlBuilder"/> built, or a literal the code wrote. Only this type
/// is copied into a page unescaped; every string goes through <see cref="Html.Encode"/>.
/// </summary>
/// <param name="Value">The HTML text.</param>
internal readonly record struct Markup(string Value)
{
    /// <summary>Nothing.</summary>
    public static Markup Empty { get; } = new(string.Empty);

    /// <inheritdoc/>
    public override string ToString() => Value;
}

/// <summary>
/// Builds HTML from interpolated strings whose holes are escaped by default: <c>html.Append($"&lt;td&gt;{user}&lt;/td&gt;")</c>
/// HTML-encodes <c>user</c>, formats numbers with the invariant culture, and copies only <see cref="Markup"/> as it is.
/// Job ids, user names and node names come from agents, so forgetting to escape one must not be possible.
/// </summary>
internal sealed class HtmlBuilder
{
    private readonly StringBuilder _text = new();

    /// <summary>The text so far.</summary>
    internal StringBuilder Text => _text;

    /// <summary>Appends the interpolated string, its literal parts as they are and its holes escaped.</summary>
    public HtmlBuilder Append([InterpolatedStringHandlerArgument("")] ref HtmlInterpolation html) => this;

    /// <summary>Appends <paramref name="markup"/> as it is.</summary>
    public HtmlBuilder Append(Markup markup)
    {
        _text.Append(markup.Value);
        return this;
    }

    /// <summary>What was built, as markup for another builder.</summary>
    public Markup ToMarkup() => new(_text.ToString());

    /// <inheritdoc/>
    public override string ToString() => _text.ToString();
}

/// <summary>The interpolated-string handler of <see cref="HtmlBuilder.Append(ref HtmlInterpolation)"/>: literals raw, holes escaped.</summary>
[InterpolatedStringHandler]
internal readonly ref struct HtmlInterpolation
{
    private readonly StringBuilder _text;

    /// <summary>Starts appending to <paramref name="builder"/>.</summary>
    public HtmlInterpolation(int literalLength, int formattedCount, HtmlBuilder builder)
    {
        _ = formattedCount;
        _text = builder.Text;
        _text.EnsureCapacity(_text.Length + literalLength);
    }

    /// <summary>A literal part of the template: markup written in the code.</summary>
    public void AppendLiteral(string literal) => _text.Append(literal);

    /// <summary>A string hole: escaped.</summary>
    public void AppendFormatted(string? value) => Html.Encode(_text, value);

    /// <summary>A markup hole: copied as it is.</summary>
    public void AppendFormatted(Markup markup) => _text.Append(markup.Value);

    /// <summary>A number (or any formattable value) hole: formatted with the invariant culture, then escaped.</summary>
    public void AppendFormatted<T>(T value, string? format = null)
        where T : IFormattable => Html.Encode(_text, value.ToString(format, CultureInfo.InvariantCulture));
}
