using System.Globalization;

namespace Monitor.Core.Exposition;

/// <summary>Content types and Accept-header negotiation.</summary>
public static class ExpositionFormats
{
    /// <summary>Content type of the Prometheus text format 0.0.4.</summary>
    public const string TextContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Content type of OpenMetrics 1.0.0.</summary>
    public const string OpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// <summary>The content type for <paramref name="format"/>.</summary>
    public static string ContentType(ExpositionFormat format) =>
        format == ExpositionFormat.OpenMetrics100 ? OpenMetricsContentType : TextContentType;

    /// <summary>
    /// Chooses the format from an Accept header the way client_golang's <c>expfmt.NegotiateIncludingOpenMetrics</c>
    /// does: media ranges are taken in order of falling q-value (ties keep header order), and the first one we can
    /// serve wins: <c>text/plain</c> with version 0.0.4 or none, or <c>application/openmetrics-text</c> with version
    /// 1.0.0 or none. Ranges with q=0 are "not acceptable" and skipped. Anything else, a missing header included,
    /// gets text 0.0.4.
    /// </summary>
    /// <remarks>
    /// Prometheus 2.42 sends <c>application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,
    /// text/plain;version=0.0.4;q=0.5,*/*;q=0.1</c>, which gets OpenMetrics. We do not speak OpenMetrics 0.0.1 (client_golang
    /// does), so a scraper that only asks for it gets text, which every Prometheus version reads. Parsing works on spans
    /// and allocates nothing, since it runs on every scrape.
    /// </remarks>
    public static ExpositionFormat Negotiate(string? accept)
    {
        if (string.IsNullOrEmpty(accept))
        {
            return ExpositionFormat.Text004;
        }

        var best = ExpositionFormat.Text004;
        var bestQ = 0.0;
        var header = accept.AsSpan();
        foreach (var rangeBounds in header.Split(','))
        {
            var range = header[rangeBounds];
            ExpositionFormat? candidate = null;
            var q = 1.0;
            var versionOk = true;
            var first = true;
            foreach (var partBounds in range.Split(';'))
            {
                var part = range[partBounds].Trim();
                if (first)
                {
                    first = false;
                    if (part.Equals("text/plain", StringComparison.OrdinalIgnoreCase))
                    {
                        candidate = ExpositionFormat.Text004;
                    }
                    else if (part.Equals("application/openmetrics-text", StringComparison.OrdinalIgnoreCase))
                    {
                        candidate = ExpositionFormat.OpenMetrics100;
                    }
                    else
                    {
                        break;
                    }

                    continue;
                }

                var eq = part.IndexOf('=');
                if (eq <= 0)
                {
                    continue;
                }

                var key = part[..eq].Trim();
                var value = part[(eq + 1)..].Trim().Trim('"');
                if (key.Equals("q", StringComparison.OrdinalIgnoreCase))
                {
                    // An unreadable q counts as 0, as in goautoneg.
                    q = double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
                }
                else if (key.Equals("version", StringComparison.OrdinalIgnoreCase))
                {
                    var wanted = candidate == ExpositionFormat.OpenMetrics100 ? "1.0.0" : "0.0.4";
                    versionOk = value.Equals(wanted, StringComparison.Ordinal);
                }
            }

            // Strictly greater: among equal q-values the earliest acceptable range wins, as after a stable sort.
            if (candidate is { } format && versionOk && q > bestQ)
            {
                best = format;
                bestQ = q;
            }
        }

        return best;
    }
}
