using System.Globalization;

namespace Monitor.Aggregator.Web;

/// <summary>One row of a bar chart.</summary>
/// <param name="Label">The row's name, left of the bar (cut to fit; the full name is in the tooltip).</param>
/// <param name="Value">The bar's value, on the chart's scale.</param>
/// <param name="Class">The bar's CSS class (its colour): <c>ok</c>, <c>warning</c>, <c>critical</c>, <c>energy</c>...</param>
/// <param name="ValueText">The value as written right of the bar.</param>
/// <param name="Inner">A second value drawn over the first (busy over allocated), or null.</param>
/// <param name="InnerClass">The second bar's CSS class.</param>
internal sealed record ChartBar(string Label, double Value, string Class, string ValueText, double? Inner = null, string? InnerClass = null);

/// <summary>A dashed line across the chart at a value, such as a threshold of the efficiency rules.</summary>
/// <param name="Value">Where, on the chart's scale.</param>
/// <param name="Label">What is written above it.</param>
/// <param name="Class">Its CSS class (its colour).</param>
/// <param name="Anchor">Where the label sits: <c>end</c> left of the line, <c>start</c> right of it, <c>middle</c> over it (SVG text-anchor).</param>
internal sealed record ChartMark(double Value, string Label, string Class, string Anchor = "middle");

/// <summary>The widths of a chart's three columns, in CSS pixels: labels, bars (the full scale) and values.</summary>
internal sealed record ChartLayout(int LabelWidth, int PlotWidth, int ValueWidth);

/// <summary>
/// Horizontal bar charts as inline SVG: one row per bar, each bar's length proportional to its value over the scale's
/// maximum, marks drawn across. Drawn on the server, so the page needs no script, and a bar's length is in the
/// markup, where a test can measure it.
/// </summary>
internal static class SvgChart
{
    /// <summary>Height of one row.</summary>
    public const int RowHeight = 18;

    /// <summary>Height of one bar within its row.</summary>
    public const int BarHeight = 12;

    /// <summary>Room above the first row, for the marks' labels and the scale.</summary>
    private const int Top = 16;

    /// <summary>Room below the last row.</summary>
    private const int Bottom = 4;

    /// <summary>Labels longer than this are cut (about what fits in the label column at 11 px).</summary>
    private const int LabelCharacters = 18;

    /// <summary>
    /// The length of a bar for <paramref name="value"/> on a scale from 0 to <paramref name="scaleMax"/> drawn
    /// <paramref name="plotWidth"/> wide; clamped to the plot, and 0 on an empty scale.
    /// </summary>
    public static double BarWidth(double value, double scaleMax, int plotWidth) =>
        scaleMax > 0 && double.IsFinite(value) ? Math.Clamp(plotWidth * value / scaleMax, 0, plotWidth) : 0;

    /// <summary>
    /// The chart of <paramref name="bars"/> on a scale from 0 to <paramref name="scaleMax"/>, with
    /// <paramref name="marks"/> across it and <paramref name="scaleLabel"/> at the scale's end; described for screen
    /// readers by <paramref name="description"/>.
    /// </summary>
    public static Markup HorizontalBars(
        string description, IReadOnlyList<ChartBar> bars, double scaleMax, ChartLayout layout, IReadOnlyList<ChartMark> marks, string? scaleLabel = null)
    {
        var width = layout.LabelWidth + layout.PlotWidth + layout.ValueWidth;
        var height = Top + (bars.Count * RowHeight) + Bottom;
        var x0 = layout.LabelWidth;
        var svg = new HtmlBuilder();
        svg.Append($"<svg class=\"chart\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{description}\">\n");
        if (scaleLabel is not null)
        {
            svg.Append($"<text x=\"{x0 + layout.PlotWidth}\" y=\"{Top - 5}\" text-anchor=\"end\">{scaleLabel}</text>\n");
        }

        for (var i = 0; i < bars.Count; i++)
        {
            var bar = bars[i];
            var y = Top + (i * RowHeight);
            var barY = y + ((RowHeight - BarHeight) / 2);
            var label = bar.Label.Length > LabelCharacters ? bar.Label[..(LabelCharacters - 1)] + "…" : bar.Label;
            svg.Append($"<g><title>{bar.Label}: {bar.ValueText}</title>");
            svg.Append($"<text x=\"{x0 - 6}\" y=\"{y + 13}\" text-anchor=\"end\">{label}</text>");
            svg.Append($"<rect class=\"track\" x=\"{x0}\" y=\"{barY}\" width=\"{layout.PlotWidth}\" height=\"{BarHeight}\"/>");
            svg.Append($"<rect class=\"bar {bar.Class}\" x=\"{x0}\" y=\"{barY}\" width=\"{Length(BarWidth(bar.Value, scaleMax, layout.PlotWidth))}\" height=\"{BarHeight}\"/>");
            if (bar.Inner is { } inner)
            {
                svg.Append($"<rect class=\"bar {bar.InnerClass}\" x=\"{x0}\" y=\"{barY + 3}\" width=\"{Length(BarWidth(inner, scaleMax, layout.PlotWidth))}\" height=\"{BarHeight - 6}\"/>");
            }

            svg.Append($"<text x=\"{x0 + layout.PlotWidth + 6}\" y=\"{y + 13}\">{bar.ValueText}</text></g>\n");
        }

        svg.Append($"<line class=\"axis\" x1=\"{x0}\" y1=\"{Top - 2}\" x2=\"{x0}\" y2=\"{height - Bottom}\"/>\n");
        foreach (var mark in marks)
        {
            var x = Length(x0 + BarWidth(mark.Value, scaleMax, layout.PlotWidth));
            svg.Append($"<line class=\"mark {mark.Class}\" x1=\"{x}\" y1=\"{Top - 2}\" x2=\"{x}\" y2=\"{height - Bottom}\"/>");
            svg.Append($"<text class=\"{mark.Class}\" x=\"{x}\" y=\"{Top - 5}\" text-anchor=\"{mark.Anchor}\">{mark.Label}</text>\n");
        }

        svg.Append($"</svg>\n");
        return svg.ToMarkup();
    }

    /// <summary>A length in the markup: two decimals at most, invariant culture.</summary>
    private static string Length(double pixels) => pixels.ToString("0.##", CultureInfo.InvariantCulture);
}
