using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>
/// Ships the spool to Elasticsearch's <c>_bulk</c> API with <c>create</c> actions. Each item is classified on its own
/// (2xx done, 409 duplicate and done, 429/5xx re-sent alone, other 4xx dead-lettered); the cursor moves only when every
/// item of a batch is done. 413 halves the batch; 401/403 pause shipping while spooling goes on; connection failures,
/// timeouts, 429 and 5xx back off with full jitter and move to the next URL.
/// </summary>
internal sealed class BulkShipper : IDisposable
{
    private static readonly byte[] ActionSuffix = "\"}}\n"u8.ToArray();
    private readonly ElasticsearchOptions _options;
    private readonly Spool _spool;
    private readonly ShipperMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Func<TimeSpan, CancellationToken, Task> _delay;
    private readonly Backoff _backoff;
    private readonly HttpClient _http;
    private readonly byte[] _actionPrefix;
    private readonly MemoryStream _body = new(1 << 20);
    private readonly string _deadLetterPath;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private ILogger _logger = NullLogger.Instance;
    private int _url;
    private bool _failing;
    private bool _unauthorized;

    public BulkShipper(ElasticsearchOptions options, Spool spool, ShipperMetrics metrics, TimeProvider time, Random random,
        Func<TimeSpan, CancellationToken, Task>? delay = null, HttpMessageHandler? handler = null)
    {
        _options = options;
        _spool = spool;
        _metrics = metrics;
        _time = time;
        _delay = delay ?? ((wait, ct) => Task.Delay(wait, time, ct));
        _backoff = new Backoff(options.BackoffMin, options.BackoffMax, random);
        _http = new HttpClient(handler ?? CreateHandler(options), disposeHandler: true) { Timeout = options.RequestTimeout };
        _actionPrefix = Encoding.UTF8.GetBytes($"{{\"create\":{{\"_index\":\"{options.DataStream}\",\"_id\":\"");
        _deadLetterPath = Path.Join(options.SpoolPath, "dead-letter.ndjson");
    }

    /// <summary>The file that holds rejected documents with their reasons.</summary>
    public string DeadLetterPath => _deadLetterPath;

    /// <summary>Sets the logger once the pipeline that contains this sink exists.</summary>
    public void SetLogger(ILogger logger) => _logger = logger;

    /// <summary>Reports that the shutdown drain ran out of time (the event reaches the console only).</summary>
    public void LogLeftOnDisk(TimeSpan timeout) => ShipperLog.LeftOnDisk(_logger, timeout.TotalSeconds, _options.SpoolPath);

    /// <summary>Tells the loop that new records were flushed to the spool.</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another thread woke it first.
            }
        }
    }

    /// <summary>
    /// Ships until <paramref name="stop"/>; then, until <paramref name="drainDeadline"/> fires, ships what is left and
    /// returns as soon as the spool is empty.
    /// </summary>
    public async Task RunAsync(CancellationToken stop, CancellationToken drainDeadline)
    {
        while (!drainDeadline.IsCancellationRequested)
        {
            try
            {
                var batch = _spool.ReadBatch(_options.MaxBatchCount, _options.MaxBatchBytes);
                if (batch.Records.Count == 0)
                {
                    _metrics.OldestUnshippedUnixMs = 0;
                    if (stop.IsCancellationRequested)
                    {
                        return;
                    }

                    try
                    {
                        await _wake.WaitAsync(TimeSpan.FromSeconds(1), stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // Stopping: one more pass drains what the writer flushed last.
                    }

                    continue;
                }

                _metrics.OldestUnshippedUnixMs = batch.Records[0].UnixMs;
                if (await ShipAsync(batch.Records, drainDeadline).ConfigureAwait(false))
                {
                    _spool.Commit(batch.End);
                }
            }
            catch (OperationCanceledException) when (drainDeadline.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                ShipperLog.SpoolFailed(_logger, ex.Message);
                await _delay(_backoff.Next(), drainDeadline).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Ships <paramref name="records"/> until every one is done; false when cancelled first.</summary>
    internal async Task<bool> ShipAsync(IReadOnlyList<SpoolRecord> records, CancellationToken cancellationToken)
    {
        var pending = records;
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var outcome = await SendAsync(pending, cancellationToken).ConfigureAwait(false);
            if (outcome.Retry.Count == 0)
            {
                _backoff.Reset();
                return true;
            }

            _metrics.AddRetried(outcome.Retry.Count);
            pending = outcome.Retry;
            var wait = outcome.Unauthorized ? _options.BackoffMax : _backoff.Next();
            if (outcome.RequestFailed && !outcome.Unauthorized)
            {
                if (!_failing)
                {
                    ShipperLog.Unreachable(_logger, Url.ToString(), outcome.Reason, wait.TotalSeconds);
                    _failing = true;
                }

                // Fail over: the next request goes to the next URL.
                _url = (_url + 1) % _options.Urls.Count;
            }

            await _delay(wait, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    private Uri Url => _options.Urls[_url];

    private async Task<SendOutcome> SendAsync(IReadOnlyList<SpoolRecord> records, CancellationToken cancellationToken)
    {
        var url = Url;
        HttpStatusCode status;
        byte[] response;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url, "_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason"));
            WriteBody(records);
            var content = new ByteArrayContent(_body.GetBuffer(), 0, (int)_body.Length);
            content.Headers.TryAddWithoutValidation("Content-Type", "application/x-ndjson");
            request.Content = content;
            if (_options.Authorization is { } authorization)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            using var answer = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            status = answer.StatusCode;
            response = await answer.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return Failed(records, ex is TaskCanceledException ? $"no answer within {_options.RequestTimeout.TotalSeconds} s" : ex.Message);
        }

        var code = (int)status;
        if (code is 401 or 403)
        {
            _metrics.AddRequestFailed();
            _metrics.Up = false;
            if (!_unauthorized)
            {
                ShipperLog.Unauthorized(_logger, url.ToString(), code);
                _unauthorized = true;
            }

            return new SendOutcome(records, true, true, $"HTTP {code}");
        }

        _unauthorized = false;
        if (code == 413)
        {
            if (records.Count == 1)
            {
                DeadLetter(records[0], 413, "request_entity_too_large", "the document alone is larger than http.max_content_length");
                return SendOutcome.Done;
            }

            // Too large for the server: send each half on its own.
            var half = records.Count / 2;
            var first = await SendAsync(records.Take(half).ToList(), cancellationToken).ConfigureAwait(false);
            var second = await SendAsync(records.Skip(half).ToList(), cancellationToken).ConfigureAwait(false);
            return new SendOutcome([.. first.Retry, .. second.Retry], first.RequestFailed || second.RequestFailed, first.Unauthorized || second.Unauthorized, first.Reason.Length > 0 ? first.Reason : second.Reason);
        }

        if (code is < 200 or > 299)
        {
            return Failed(records, $"HTTP {code}");
        }

        if (!Classify(records, response, out var retry))
        {
            return Failed(records, "the _bulk response does not list one result per document");
        }

        _metrics.Up = true;
        if (_failing)
        {
            ShipperLog.Recovered(_logger, url.ToString());
            _failing = false;
        }

        return new SendOutcome(retry, false, false, retry.Count > 0 ? "some items were rejected for now (429/5xx)" : string.Empty);
    }

    private SendOutcome Failed(IReadOnlyList<SpoolRecord> records, string reason)
    {
        _metrics.AddRequestFailed();
        _metrics.Up = false;
        return new SendOutcome(records, true, false, reason);
    }

    private void WriteBody(IReadOnlyList<SpoolRecord> records)
    {
        _body.SetLength(0);
        Span<byte> id = stackalloc byte[64];
        foreach (var record in records)
        {
            _body.Write(_actionPrefix);
            var n = Encoding.UTF8.GetBytes(record.Id, id);
            _body.Write(id[..n]);
            _body.Write(ActionSuffix);
            _body.Write(record.Document.Span);
            _body.WriteByte((byte)'\n');
        }
    }

    private bool Classify(IReadOnlyList<SpoolRecord> records, byte[] response, out List<SpoolRecord> retry)
    {
        retry = [];
        using var document = JsonDocument.Parse(response);
        var root = document.RootElement;
        if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.False)
        {
            // Fast path: nothing failed (filter_path may then leave out failing details, but the statuses are there).
            _metrics.AddShipped(records.Count);
            return true;
        }

        if (!root.TryGetProperty("items", out var items) || items.ValueKind != JsonValueKind.Array || items.GetArrayLength() != records.Count)
        {
            return false;
        }

        long shipped = 0;
        var i = 0;
        foreach (var item in items.EnumerateArray())
        {
            var record = records[i++];
            var result = item.EnumerateObject().FirstOrDefault().Value;
            var status = result.ValueKind == JsonValueKind.Object && result.TryGetProperty("status", out var s) && s.TryGetInt32(out var v) ? v : 500;
            switch (status)
            {
                case >= 200 and <= 299:
                    shipped++;
                    break;
                case 409:
                    _metrics.AddDuplicates(1);
                    break;
                case 429 or >= 500:
                    retry.Add(record);
                    break;
                default:
                    var type = "unknown";
                    var reason = string.Empty;
                    if (result.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
                    {
                        type = error.TryGetProperty("type", out var t) ? t.GetString() ?? type : type;
                        reason = error.TryGetProperty("reason", out var r) ? r.GetString() ?? reason : reason;
                    }

                    DeadLetter(record, status, type, reason);
                    break;
            }
        }

        _metrics.AddShipped(shipped);
        return true;
    }

    private void DeadLetter(SpoolRecord record, int status, string type, string reason)
    {
        _metrics.AddDeadLettered(1);
        ShipperLog.DeadLettered(_logger, record.Id, status, type, reason, _deadLetterPath);
        try
        {
            var info = new FileInfo(_deadLetterPath);
            if (info.Exists && info.Length > 64L << 20)
            {
                File.Move(_deadLetterPath, _deadLetterPath + ".1", overwrite: true);
            }

            using var file = new FileStream(_deadLetterPath, FileMode.Append, FileAccess.Write, FileShare.Read);
            using (var json = new Utf8JsonWriter(file, EcsJsonFormatter.JsonOptions))
            {
                json.WriteStartObject();
                json.WriteString("@timestamp", _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
                json.WriteString("_id", record.Id);
                json.WriteString("_index", _options.DataStream);
                json.WriteNumber("status", status);
                json.WriteString("error.type", type);
                json.WriteString("error.reason", reason);
                json.WritePropertyName("document");
                json.WriteRawValue(record.Document.Span, skipInputValidation: true);
                json.WriteEndObject();
            }

            file.WriteByte((byte)'\n');
        }
        catch (IOException)
        {
            // The counter and the log event above still report it.
        }
    }

    private static SocketsHttpHandler CreateHandler(ElasticsearchOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
        };
        if (options.CaFile is not null || options.Fingerprint is not null)
        {
            var ca = options.CaFile is null ? null : X509CertificateLoader.LoadCertificateFromFile(options.CaFile);
            var pin = options.Fingerprint is null ? null : Convert.FromHexString(options.Fingerprint.Replace(":", string.Empty, StringComparison.Ordinal));
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Validate(certificate, chain, errors, ca, pin),
            };
        }

        return handler;
    }

    /// <summary>
    /// With a pinned fingerprint the server's certificate (or one in its chain, as Elastic's clients accept a CA
    /// fingerprint) must match it; with a CA file the chain must end at that CA; the host name must match either way.
    /// </summary>
    internal static bool Validate(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, X509Certificate2? ca, byte[]? pin)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        if (pin is not null)
        {
            var matches = SHA256.HashData(certificate.GetRawCertData()).AsSpan().SequenceEqual(pin)
                || (chain?.ChainElements.Any(e => SHA256.HashData(e.Certificate.RawData).AsSpan().SequenceEqual(pin)) ?? false);
            if (!matches)
            {
                return false;
            }

            if (ca is null)
            {
                return true;
            }
        }

        if (ca is null)
        {
            return errors == SslPolicyErrors.None;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(ca);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using var leaf = new X509Certificate2(certificate);
        return custom.Build(leaf);
    }

    public void Dispose()
    {
        _http.Dispose();
        _body.Dispose();
        _wake.Dispose();
    }

    private readonly record struct SendOutcome(IReadOnlyList<SpoolRecord> Retry, bool RequestFailed, bool Unauthorized, string Reason)
    {
        public static SendOutcome Done => new([], false, false, string.Empty);
    }
}
