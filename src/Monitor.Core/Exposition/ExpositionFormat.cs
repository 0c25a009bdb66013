namespace Monitor.Core.Exposition;

/// <summary>The wire formats a scrape can ask for.</summary>
public enum ExpositionFormat
{
    /// <summary>Prometheus text format 0.0.4.</summary>
    Text004,

    /// <summary>OpenMetrics 1.0.0 text.</summary>
    OpenMetrics100,
}

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
    /// Chooses the format from an Accept header the way client_golang does: OpenMetrics only when the header
    /// names <c>application/openmetrics-text</c> with a version we speak (1.0.0, or no version), and it is not
    /// ranked below the text format by q-values. Anything else, including a missing header, gets text 0.0.4.
    /// </summary>
    public static ExpositionFormat Negotiate(string? accept)
    {
        if (string.IsNullOrEmpty(accept))
        {
            return ExpositionFormat.Text004;
        }

        double omQ = -1, textQ = -1;
        foreach (var range in accept.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = range.Split(';', StringSplitOptions.TrimEntries);
            var mediaType = parts[0];
            double q = 1;
            string? version = null;
            for (var i = 1; i < parts.Length; i++)
            {
                var eq = parts[i].IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    continue;
                }

                var key = parts[i][..eq].Trim();
                var value = parts[i][(eq + 1)..].Trim().Trim('"');
                if (key.Equals("q", StringComparison.OrdinalIgnoreCase) &&
                    double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
                {
                    q = parsed;
                }
                else if (key.Equals("version", StringComparison.OrdinalIgnoreCase))
                {
                    version = value;
                }
            }

            if (mediaType.Equals("application/openmetrics-text", StringComparison.OrdinalIgnoreCase))
            {
                if (version is null || version == "1.0.0")
                {
                    omQ = Math.Max(omQ, q);
                }
            }
            else if (mediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase) || mediaType == "*/*")
            {
                textQ = Math.Max(textQ, q);
            }
        }

        return omQ > 0 && omQ >= textQ ? ExpositionFormat.OpenMetrics100 : ExpositionFormat.Text004;
    }
}
