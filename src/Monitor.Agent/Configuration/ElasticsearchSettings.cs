using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Logging.Elasticsearch;

namespace Monitor.Agent.Configuration;

/// <summary>Reads and checks the <c>--log.elasticsearch.*</c> settings; every problem names its flag and key.</summary>
internal static class ElasticsearchSettings
{
    /// <summary>The sink's options, or null when no URL is configured.</summary>
    public static ElasticsearchOptions? Load(IConfiguration configuration, Func<string, string?> environment)
    {
        var urlText = configuration[AgentFlags.Keys.EsUrl];
        if (string.IsNullOrWhiteSpace(urlText))
        {
            return null;
        }

        var urls = new List<Uri>();
        foreach (var part in urlText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || !string.IsNullOrEmpty(uri.UserInfo) || !string.IsNullOrEmpty(uri.Query))
            {
                throw Bad("log.elasticsearch.url", AgentFlags.Keys.EsUrl, part, "http:// or https:// URLs without credentials or query (credentials go in --log.elasticsearch.api-key-file or --log.elasticsearch.username)");
            }

            urls.Add(uri.AbsolutePath.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/"));
        }

        var dataStream = configuration[AgentFlags.Keys.EsDataStream]!;
        if (!IsDataStreamName(dataStream))
        {
            throw Bad("log.elasticsearch.data-stream", AgentFlags.Keys.EsDataStream, dataStream,
                "logs-<dataset>-<namespace>, lowercase, dataset and namespace without '-', none of \\ / * ? \" < > | , # or space");
        }

        string? authorization = null;
        var apiKey = environment("MONITOR_LOG_ELASTICSEARCH_API_KEY") ?? ReadSecret(configuration, AgentFlags.Keys.EsApiKeyFile, "log.elasticsearch.api-key-file");
        var username = configuration[AgentFlags.Keys.EsUsername];
        if (!string.IsNullOrEmpty(apiKey))
        {
            authorization = "ApiKey " + apiKey;
        }
        else if (!string.IsNullOrEmpty(username))
        {
            var password = environment("MONITOR_LOG_ELASTICSEARCH_PASSWORD") ?? ReadSecret(configuration, AgentFlags.Keys.EsPasswordFile, "log.elasticsearch.password-file")
                ?? throw Bad("log.elasticsearch.password-file", AgentFlags.Keys.EsPasswordFile, string.Empty, "a file with the password of --log.elasticsearch.username (or MONITOR_LOG_ELASTICSEARCH_PASSWORD)");
            authorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(username + ":" + password));
        }

        var caFile = configuration[AgentFlags.Keys.EsCaFile];
        if (!string.IsNullOrEmpty(caFile))
        {
            try
            {
                using var ca = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(caFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw Bad("log.elasticsearch.ca-file", AgentFlags.Keys.EsCaFile, caFile, "a readable PEM or DER certificate file (" + ex.Message + ")");
            }
        }

        var fingerprint = configuration[AgentFlags.Keys.EsFingerprint];
        if (!string.IsNullOrEmpty(fingerprint))
        {
            var hex = fingerprint.Replace(":", string.Empty, StringComparison.Ordinal);
            if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
            {
                throw Bad("log.elasticsearch.fingerprint", AgentFlags.Keys.EsFingerprint, fingerprint, "a SHA-256 fingerprint: 64 hex digits, colons allowed");
            }
        }

        var maxBytesText = configuration[AgentFlags.Keys.EsSpoolMaxBytes]!;
        if (!TryParseSize(maxBytesText, out var maxBytes) || maxBytes < 1 << 20)
        {
            throw Bad("log.elasticsearch.spool-max-bytes", AgentFlags.Keys.EsSpoolMaxBytes, maxBytesText, "a size of at least 1MiB: bytes, or a number with KiB, MiB, GiB (or KB, MB, GB)");
        }

        var memoryText = configuration[AgentFlags.Keys.EsMemoryQueueMaxBytes]!;
        if (!TryParseSize(memoryText, out var memoryBytes) || memoryBytes is < 1 << 20 or > 1 << 30)
        {
            throw Bad("log.elasticsearch.memory-queue-max-bytes", AgentFlags.Keys.EsMemoryQueueMaxBytes, memoryText, "a size from 1MiB to 1GiB: bytes, or a number with KiB, MiB, GiB (or KB, MB, GB)");
        }

        var spoolPath = configuration[AgentFlags.Keys.EsSpoolPath]!;
        if (string.IsNullOrWhiteSpace(spoolPath))
        {
            throw Bad("log.elasticsearch.spool-path", AgentFlags.Keys.EsSpoolPath, spoolPath, "a directory path");
        }

        return new ElasticsearchOptions
        {
            Urls = urls,
            DataStream = dataStream,
            Authorization = authorization,
            CaFile = string.IsNullOrEmpty(caFile) ? null : caFile,
            Fingerprint = string.IsNullOrEmpty(fingerprint) ? null : fingerprint,
            SpoolPath = spoolPath,
            SpoolMaxBytes = maxBytes,
            SpoolMaxAge = Duration(configuration, AgentFlags.Keys.EsSpoolMaxAge),
            ShutdownTimeout = Duration(configuration, AgentFlags.Keys.EsShutdownTimeout),
            MemoryQueueMaxBytes = (int)memoryBytes,
        };
    }

    /// <summary>Parses <c>1048576</c>, <c>256MiB</c>, <c>1GB</c> (binary multiples either way, as for disk quotas).</summary>
    public static bool TryParseSize(string text, out long bytes)
    {
        bytes = 0;
        var span = text.AsSpan().Trim();
        var digits = 0;
        while (digits < span.Length && char.IsAsciiDigit(span[digits]))
        {
            digits++;
        }

        if (digits == 0 || !long.TryParse(span[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        long multiplier = span[digits..].Trim().ToString().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => 0,
        };
        if (multiplier == 0 || value > long.MaxValue / multiplier)
        {
            return false;
        }

        bytes = value * multiplier;
        return true;
    }

    private static bool IsDataStreamName(string name)
    {
        var parts = name.Split('-');
        return parts.Length == 3 && parts.All(p => p.Length is > 0 and <= 100)
            && name.All(c => !char.IsUpper(c) && !char.IsWhiteSpace(c) && "\\/*?\"<>|,#:".IndexOf(c, StringComparison.Ordinal) < 0);
    }

    private static string? ReadSecret(IConfiguration configuration, string key, string flag)
    {
        var path = configuration[key];
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        try
        {
            // The value is never part of a message: only the path and the reason.
            var secret = File.ReadAllText(path).Trim();
            return secret.Length > 0 ? secret : throw Bad(flag, key, path, "a file that is not empty");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Bad(flag, key, path, "a readable file (" + ex.Message + ")");
        }
    }

    private static TimeSpan Duration(IConfiguration configuration, string key) => DurationParser.Parse(configuration[key]!).Value;

    private static OptionsException Bad(string flag, string key, string value, string allowed) =>
        new($"invalid value '{value}' for --{flag} ({key}): allowed values: {allowed}");
}
