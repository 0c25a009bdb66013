using System.Globalization;
using System.Text;

namespace Monitor.Aggregator.Web;

/// <summary>
/// What every page shares: escaping, the page frame with its one inline style sheet, and the number formats. The
/// pages are plain server-rendered HTML with inline SVG: no script, and nothing is fetched from anywhere, so they work
/// on a cluster with no way out and under a Content-Security-Policy of <c>default-src 'none'</c>.
/// </summary>
internal static class Html
{
    /// <summary>The media type of every page.</summary>
    public const string ContentType = "text/html; charset=utf-8";

    /// <summary>
    /// The Content-Security-Policy every page is sent with: no script, no fetches, inline styles only, and forms that
    /// submit to this server. It is a second line behind the escaping: a string that slipped through still cannot run.
    /// </summary>
    public const string ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    /// <summary>
    /// The style sheet: system fonts, a 1,100 px column that fits a 1366×768 laptop with room to spare, tabular
    /// figures so that columns of numbers line up, and the chart and note colours by severity.
    /// </summary>
    private const string Style =
        """
        *{box-sizing:border-box}
        body{margin:0;background:#f4f6f8;color:#1c2430;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif}
        header.bar{background:#1f2a37;color:#fff}
        header.bar nav{max-width:1100px;margin:0 auto;padding:8px 16px;display:flex;gap:20px;align-items:baseline}
        header.bar a{color:#d6e6ff;text-decoration:none}
        header.bar strong{color:#fff;margin-right:8px}
        main{max-width:1100px;margin:0 auto;padding:8px 16px 32px}
        h1{font-size:22px;margin:14px 0 2px}
        h2{font-size:16px;margin:0 0 8px}
        p.sub{margin:0 0 8px;color:#4b5563}
        section{background:#fff;border:1px solid #d9dee4;border-radius:6px;padding:12px 16px;margin:12px 0}
        a{color:#0b5cad}
        table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
        th,td{padding:3px 8px;border-bottom:1px solid #e6e9ed;text-align:left;white-space:nowrap}
        th{font-size:12px;color:#4b5563;font-weight:600;background:#f8f9fb}
        .n{text-align:right}
        td small{color:#4b5563}
        tfoot td{font-weight:700;border-top:2px solid #c3c9d1;border-bottom:0}
        .scroll{overflow-x:auto}
        dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:6px 16px;margin:0}
        dl.facts dt{font-size:12px;color:#4b5563}
        dl.facts dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
        dl.totals dd{font-size:16px}
        .badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;vertical-align:middle;margin-left:8px}
        .badge.running{background:#dbeafe;color:#1e40af}
        .badge.ended{background:#e5e7eb;color:#374151}
        ul.notes{list-style:none;margin:0;padding:0}
        ul.notes li{border-left:4px solid;padding:5px 10px;margin:6px 0;border-radius:3px}
        .sev{font-weight:700;text-transform:uppercase;font-size:11px;margin-right:6px}
        li.critical{border-color:#c62828;background:#fdecea}
        li.warning{border-color:#d97706;background:#fff4e0}
        li.info{border-color:#1565c0;background:#e8f1fc}
        .charts{display:flex;flex-wrap:wrap;gap:16px}
        figure{margin:0;flex:1 1 480px;min-width:0}
        figcaption{font-weight:600;margin-bottom:4px}
        figcaption small{font-weight:400;color:#4b5563}
        svg{max-width:100%;height:auto;display:block}
        svg text{font-size:11px;fill:#1c2430}
        svg .track{fill:#eef1f4}
        svg .axis{stroke:#9aa3ad;stroke-width:1}
        svg .mark{stroke-width:1.5;stroke-dasharray:4 3}
        svg .mark.critical{stroke:#c62828} svg .mark.warning{stroke:#d97706}
        svg text.critical{fill:#c62828} svg text.warning{fill:#b45309}
        .bar.critical{fill:#e53935} .bar.warning{fill:#f59e0b} .bar.ok{fill:#2e7d32} .bar.none{fill:#9aa3ad}
        .bar.energy{fill:#6d4fc2} .bar.alloc{fill:#a7c4e5} .bar.busy{fill:#1f5fa8}
        .key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:baseline}
        .key.alloc{background:#a7c4e5} .key.busy{background:#1f5fa8}
        form.query{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-end}
        form.query label{display:flex;flex-direction:column;font-size:12px;color:#4b5563;gap:2px}
        form.query select,form.query input,form.query button{font:inherit;padding:3px 6px}
        .problem{border-color:#c62828;background:#fdecea}
        """;

    /// <summary>
    /// A whole page: the navigation bar, the heading (<paramref name="heading"/>, or <paramref name="title"/> when it is
    /// null) and <paramref name="body"/>.
    /// </summary>
    public static string Page(string title, Markup body, Markup? heading = null)
    {
        var page = new HtmlBuilder();
        page.Append($"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        page.Append($"<title>{title} · Monitor</title>\n<style>\n{new Markup(Style)}\n</style>\n</head>\n<body>\n");
        page.Append($"<header class=\"bar\"><nav><strong>Monitor</strong><a href=\"/\">Home</a><a href=\"/usage\">Usage</a><a href=\"/metrics\">Metrics</a></nav></header>\n");
        page.Append($"<main>\n<h1>{heading ?? new Markup(Encode(title))}</h1>\n{body}</main>\n</body>\n</html>\n");
        return page.ToString();
    }

    /// <summary>A page that says what went wrong (an unknown job, a bad query), with what to do next.</summary>
    public static string Problem(string title, string reason, Markup next)
    {
        var body = new HtmlBuilder();
        body.Append($"<section class=\"problem\"><p>{reason}</p></section>\n{next}");
        return Page(title, body.ToMarkup());
    }

    /// <summary>Appends <paramref name="value"/> to <paramref name="text"/> HTML-encoded (safe in text and in double-quoted attributes).</summary>
    public static void Encode(StringBuilder text, string? value)
    {
        foreach (var c in value.AsSpan())
        {
            switch (c)
            {
                case '&': text.Append("&amp;"); break;
                case '<': text.Append("&lt;"); break;
                case '>': text.Append("&gt;"); break;
                case '"': text.Append("&quot;"); break;
                case '\'': text.Append("&#39;"); break;
                default: text.Append(c); break;
            }
        }
    }

    /// <summary><paramref name="value"/> HTML-encoded.</summary>
    public static string Encode(string? value)
    {
        var text = new StringBuilder(value?.Length ?? 0);
        Encode(text, value);
        return text.ToString();
    }

    /// <summary>A number in <paramref name="format"/>, invariant culture.</summary>
    public static string Number(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>A ratio as a percentage with one decimal (<c>9.0 %</c>); a dash when there is none.</summary>
    public static string Percent(double? ratio) => ratio is { } r ? Number(r * 100, "0.0") + " %" : "–";

    /// <summary>A time in UTC, to the second (the pages say UTC in their labels, once).</summary>
    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>A day as <c>yyyy-MM-dd</c>.</summary>
    public static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>Seconds as hours, minutes and seconds (<c>27:04:09</c>), rounded to the second.</summary>
    public static string Duration(double seconds)
    {
        var whole = (long)Math.Round(seconds, MidpointRounding.AwayFromZero);
        return string.Create(CultureInfo.InvariantCulture, $"{whole / 3600}:{whole / 60 % 60:00}:{whole % 60:00}");
    }

    /// <summary>Bytes as decimal gigabytes (<c>20.0 GB</c>), as the efficiency notes write them.</summary>
    public static string Gigabytes(double bytes) => Number(bytes / 1e9, "0.0") + " GB";

    /// <summary>A path segment or query value escaped for a URL (then HTML-encoded where it is written).</summary>
    public static string UrlPart(string value) => Uri.EscapeDataString(value);
}
