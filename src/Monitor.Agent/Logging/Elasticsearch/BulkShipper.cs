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
/// Ships the spool to Elasticsearch's <c>_bulk</c> API with <c>create</c> actions. What each answer leads to (the table
/// in docs/agent.md, "Shipping logs"):
/// <list type="bullet">
/// <item>Per item in a 2xx answer: 2xx stored; 409 already stored (done); 429 and 5xx re-sent alone with backoff; any
/// other status (400 mapping error, 403, 404…) dead-lettered with its reason.</item>
/// <item>Per request: 2xx as above; 401/403 pause shipping (retried every <see cref="ElasticsearchOptions.BackoffMax"/>)
/// while spooling goes on; 408, 429, 5xx, 3xx, a refused or reset connection, a timeout or an unusable answer back off
/// with full jitter and move to the next URL; 413 halves the batch until it fits (a single document that is still too
/// large is dead-lettered); any other 4xx is a poison search: the batch is halved, depth first, until the documents
/// Elasticsearch refuses alone are found.</item>
/// </list>
/// A document refused alone is dead-lettered only once the endpoint accepted another request of the same batch: a
/// proxy or a wrong path that refuses every request is an endpoint fault, and must not empty the spool into the
/// dead-letter file. Without that evidence a search stops after <see cref="ProbeLimit"/> refused requests, keeps
/// every document, remembers the ones refused alone (so the next try sends the others first) and tries again after
/// a backoff. The cursor moves only when every document of a batch is done.
/// </summary>
internal sealed class BulkShipper : IDisposable
{
    /// <summary>Refused requests a poison search sends before any request of the batch was accepted; then it backs off.</summary>
    internal const int ProbeLimit = 16;

    private static readonly byte[] ActionSuffix = "\"}}\n"u8.ToArray();
    private readonly ElasticsearchOptions _options;
    private readonly Spool _spool;
    private readonly RecordQueue? _memory;
    private readonly ShipperMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Func<TimeSpan, CancellationToken, Task> _delay;
    private readonly Backoff _backoff;
    private readonly HttpClient _http;
    private readonly byte[] _actionPrefix;
    private readonly MemoryStream _body = new(1 << 20);
    private readonly string _deadLetterPath;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly Dictionary<string, Rejection> _suspects = new(StringComparer.Ordinal);
    private readonly HashSet<string> _deadLettered = new(StringComparer.Ordinal);
    private ILogger _logger = NullLogger.Instance;
    private int _url;
    private bool _failing;
    private bool _unauthorized;
    private bool _refusing;
    private int _internalLogged;

    public BulkShipper(ElasticsearchOptions options, Spool spool, ShipperMetrics metrics, TimeProvider time, Random random,
        Func<TimeSpan, CancellationToken, Task>? delay = null, HttpMessageHandler? handler = null, RecordQueue? memory = null)
    {
        _options = options;
        _spool = spool;
        _memory = memory;
        _metrics = metrics;
        _time = time;
        _delay = delay ?? ((wait, ct) => Task.Delay(wait, time, ct));
        _backoff = new Backoff(options.BackoffMin, options.BackoffMax, random);
        _http = new HttpClient(handler ?? CreateHandler(options), disposeHandler: true) { Timeout = options.RequestTimeout };
        _actionPrefix = Encoding.UTF8.GetBytes($"{{\"create\":{{\"_index\":\"{options.DataStream}\",\"_id\":\"");
        _deadLetterPath = Path.Join(options.SpoolPath, "dead-letter.ndjson");
    }

    private enum Answer
    {
        Accepted,
        Failed,
        Unauthorized,
        TooLarge,
        Refused,
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
    /// returns as soon as the spool (and the memory queue, when the spool refused its records) is empty. No exception
    /// leaves the loop: a disk that refuses reads is counted and logged once by the spool's health, anything else once
    /// as an internal error; both back off and go on.
    /// </summary>
    public async Task RunAsync(CancellationToken stop, CancellationToken drainDeadline)
    {
        while (!drainDeadline.IsCancellationRequested)
        {
            try
            {
                if (!await StepAsync(stop, drainDeadline).ConfigureAwait(false))
                {
                    return;
                }

                continue;
            }
            catch (OperationCanceledException) when (drainDeadline.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (Spool.IsDiskError(ex))
            {
                _spool.Health.Failed(SpoolOperation.Read, _spool.DirectoryPath, ex);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _metrics.AddInternalError();
                if (Interlocked.Exchange(ref _internalLogged, 1) == 0)
                {
                    ShipperLog.InternalError(_logger, ex, "shipper", _options.BackoffMin.TotalSeconds);
                }
            }

            try
            {
                await _delay(_backoff.Next(), drainDeadline).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Ships one batch, from the spool or else from memory, or waits for more; false once stopping and empty.</summary>
    private async Task<bool> StepAsync(CancellationToken stop, CancellationToken drainDeadline)
    {
        var batch = _spool.ReadBatch(_options.MaxBatchCount, _options.MaxBatchBytes);
        _spool.Health.Succeeded(SpoolOperation.Read);
        if (batch.Records.Count > 0)
        {
            _metrics.OldestUnshippedUnixMs = batch.Records[0].UnixMs;
            if (await ShipAsync(batch.Records, drainDeadline).ConfigureAwait(false))
            {
                _spool.Commit(batch.End);
            }

            return true;
        }

        if (_memory is { Stranded: true, Count: > 0 })
        {
            // The spool's disk refused these records: ship them straight from memory rather than let them age out there.
            var (bytes, range) = _memory.Copy(_options.MaxBatchCount, _options.MaxBatchBytes);
            var records = ParseLines(bytes);
            if (records.Count > 0)
            {
                _metrics.OldestUnshippedUnixMs = records[0].UnixMs;
                // One attempt: after a failure the next step copies the queue again, since the writer may have
                // dropped these oldest records from it meanwhile (counted as lost: they must not arrive after all).
                if (!await ShipAsync(records, drainDeadline, retryInPlace: false).ConfigureAwait(false))
                {
                    return true;
                }
            }

            _memory.Remove(range);
            _metrics.MemoryQueueBytes = _memory.Bytes;
            return true;
        }

        _metrics.OldestUnshippedUnixMs = 0;
        _spool.RetryCursor();
        if (stop.IsCancellationRequested)
        {
            return false;
        }

        try
        {
            await _wake.WaitAsync(TimeSpan.FromSeconds(1), stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: one more pass drains what the writer flushed last.
        }

        return true;
    }

    /// <summary>
    /// Ships <paramref name="records"/> until each is done: stored, already stored (409) or dead-lettered. False when
    /// the batch cannot be decided yet: every request of it was refused as a whole and none accepted, so the endpoint
    /// rather than the documents is at fault; it has then backed off, and the caller reads the batch again. With
    /// <paramref name="retryInPlace"/> false it also returns false after backing off from an endpoint that cannot be
    /// reached, instead of sending the same copy again: a batch copied from the memory queue may have been dropped
    /// from it meanwhile (the queue keeps the newest), and only what is still queued must be sent.
    /// </summary>
    internal async Task<bool> ShipAsync(IReadOnlyList<SpoolRecord> records, CancellationToken cancellationToken, bool retryInPlace = true)
    {
        var pieces = new Stack<IReadOnlyList<SpoolRecord>>();
        var clean = new List<SpoolRecord>(records.Count);
        var heldBack = new List<SpoolRecord>();
        foreach (var record in records)
        {
            if (!_deadLettered.Contains(record.Id))
            {
                (_suspects.ContainsKey(record.Id) ? heldBack : clean).Add(record);
            }
        }

        // Documents refused alone before go last, so the others can show the endpoint accepts requests; when only
        // they are left, one request with all of them asks whether it does now.
        pieces.Push(clean.Count > 0 ? clean : heldBack);
        var summary = new DeadLetterSummary();
        var accepted = false;
        var refused = 0;
        Rejection? lastRefusal = null;
        var retryItems = new List<SpoolRecord>();
        while (true)
        {
            if (pieces.Count == 0 || pieces.Peek().Count == 0)
            {
                pieces.Clear();
                if (retryItems.Count == 0)
                {
                    break;
                }

                _metrics.AddRetried(retryItems.Count);
                await _delay(_backoff.Next(), cancellationToken).ConfigureAwait(false);
                pieces.Push(retryItems);
                retryItems = [];
            }

            cancellationToken.ThrowIfCancellationRequested();
            var piece = pieces.Pop();
            var outcome = await SendAsync(piece, summary, cancellationToken).ConfigureAwait(false);
            switch (outcome.Answer)
            {
                case Answer.Accepted:
                    accepted = true;
                    _backoff.Reset();
                    retryItems.AddRange(outcome.Retry);
                    break;
                case Answer.TooLarge when piece.Count == 1:
                    DeadLetter(piece[0], new Rejection(413, "request_entity_too_large", "the document alone is larger than http.max_content_length"), summary);
                    break;
                case Answer.TooLarge:
                    PushHalves(pieces, piece);
                    break;
                case Answer.Refused:
                    refused++;
                    lastRefusal = outcome.Rejection;
                    if (!_refusing)
                    {
                        _refusing = true;
                        ShipperLog.PoisonSearch(_logger, Url.ToString(), piece.Count, outcome.Rejection.Status, outcome.Rejection.Reason);
                    }

                    if (piece.Count == 1)
                    {
                        _suspects[piece[0].Id] = outcome.Rejection;
                    }
                    else
                    {
                        PushHalves(pieces, piece);
                    }

                    break;
                case Answer.Unauthorized:
                    pieces.Push(piece);
                    _metrics.AddRetried(piece.Count);
                    await _delay(_options.BackoffMax, cancellationToken).ConfigureAwait(false);
                    if (!retryInPlace)
                    {
                        return false;
                    }

                    break;
                default:
                    pieces.Push(piece);
                    _metrics.AddRetried(piece.Count);
                    var wait = _backoff.Next();
                    if (!_failing)
                    {
                        ShipperLog.Unreachable(_logger, Url.ToString(), outcome.Reason, Math.Round(wait.TotalSeconds, 1));
                        _failing = true;
                    }

                    // Fail over: the next request goes to the next URL.
                    _url = (_url + 1) % _options.Urls.Count;
                    await _delay(wait, cancellationToken).ConfigureAwait(false);
                    if (!retryInPlace)
                    {
                        return false;
                    }

                    break;
            }

            if (!accepted && refused >= ProbeLimit)
            {
                break;
            }
        }

        var suspects = records.Where(r => _suspects.ContainsKey(r.Id)).ToList();
        if (accepted || suspects.Count == 0)
        {
            // Evidence that the endpoint takes requests: what it refused alone is poison.
            foreach (var record in suspects)
            {
                DeadLetter(record, _suspects[record.Id], summary);
            }

            summary.Log(_logger, _deadLetterPath);
            _suspects.Clear();
            _deadLettered.Clear();
            if (refused == 0)
            {
                _refusing = false;
            }

            return true;
        }

        // Every request of the batch was refused and none accepted: keep every document and try again later.
        summary.Log(_logger, _deadLetterPath);
        _metrics.Up = false;
        var backoff = _backoff.Next();
        if (!_failing)
        {
            ShipperLog.Unreachable(_logger, Url.ToString(),
                $"every request of a batch was refused with HTTP {lastRefusal!.Status} ({lastRefusal.Reason}), so the endpoint rather than the documents is at fault; nothing is dead-lettered until it accepts a request",
                Math.Round(backoff.TotalSeconds, 1));
            _failing = true;
        }

        await _delay(backoff, cancellationToken).ConfigureAwait(false);
        return false;
    }

    private Uri Url => _options.Urls[_url];

    private static void PushHalves(Stack<IReadOnlyList<SpoolRecord>> pieces, IReadOnlyList<SpoolRecord> piece)
    {
        // Depth first, the first half on top: a search reaches single documents after log2(n) requests, and a good
        // document early in the batch gives the evidence that lets the refused ones be dead-lettered.
        var half = piece.Count / 2;
        pieces.Push(piece.Skip(half).ToList());
        pieces.Push(piece.Take(half).ToList());
    }

    private static List<SpoolRecord> ParseLines(byte[] bytes)
    {
        var records = new List<SpoolRecord>();
        var memory = bytes.AsMemory();
        var start = 0;
        while (start < bytes.Length)
        {
            var newline = bytes.AsSpan(start).IndexOf((byte)'\n');
            if (newline < 0)
            {
                break;
            }

            if (Spool.TryParse(memory.Slice(start, newline), out var record))
            {
                records.Add(record);
            }

            start += newline + 1;
        }

        return records;
    }

    private async Task<SendOutcome> SendAsync(IReadOnlyList<SpoolRecord> records, DeadLetterSummary summary, CancellationToken cancellationToken)
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
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return Failed(ex is TaskCanceledException ? $"no answer within {_options.RequestTimeout.TotalSeconds} s" : ex.Message);
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

            return new SendOutcome(Answer.Unauthorized, [], default!, $"HTTP {code}");
        }

        _unauthorized = false;
        switch (code)
        {
            case >= 200 and <= 299:
                if (!Classify(records, response, summary, out var retry))
                {
                    return Failed("the _bulk response does not list one result per document");
                }

                _metrics.Up = true;
                if (_failing)
                {
                    ShipperLog.Recovered(_logger, url.ToString());
                    _failing = false;
                }

                return new SendOutcome(Answer.Accepted, retry, default!, string.Empty);
            case 413:
                _metrics.AddRequestFailed();
                return new SendOutcome(Answer.TooLarge, [], default!, "HTTP 413");
            case 408 or 429 or >= 500:
                return Failed($"HTTP {code}");
            case >= 400 and <= 499:
                _metrics.AddRequestFailed();
                var (type, reason) = DescribeError(response);
                return new SendOutcome(Answer.Refused, [], new Rejection(code, type, reason), $"HTTP {code}");
            default:
                // 1xx, 3xx: redirects are not followed (a POST would turn into a GET); the URL needs fixing.
                return Failed($"HTTP {code}");
        }
    }

    private SendOutcome Failed(string reason)
    {
        _metrics.AddRequestFailed();
        _metrics.Up = false;
        return new SendOutcome(Answer.Failed, [], default!, reason);
    }

    /// <summary>The <c>error.type</c> and <c>error.reason</c> of an error answer, whatever shape (or none) it has.</summary>
    internal static (string Type, string Reason) DescribeError(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String)
                {
                    return ("unknown", error.GetString() ?? string.Empty);
                }

                if (error.ValueKind == JsonValueKind.Object)
                {
                    return (StringOf(error, "type") ?? "unknown", StringOf(error, "reason") ?? string.Empty);
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page): the text below says what it is.
        }

        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 200));
        return ("unknown", string.Concat(text.Select(c => char.IsControl(c) ? ' ' : c)).Trim());
    }

    private void WriteBody(IReadOnlyList<SpoolRecord> records)
    {
        _body.SetLength(0);
        Span<byte> id = stackalloc byte[Spool.MaxIdLength * 3];
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

    /// <summary>
    /// Applies a 2xx <c>_bulk</c> answer item by item. False (and nothing applied) when the answer cannot be used: not
    /// JSON, no <c>items</c>, or not one item per document.
    /// </summary>
    private bool Classify(IReadOnlyList<SpoolRecord> records, byte[] response, DeadLetterSummary summary, out List<SpoolRecord> retry)
    {
        retry = [];
        Rejection[] results;
        try
        {
            using var document = JsonDocument.Parse(response);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

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

            results = new Rejection[records.Count];
            var i = 0;
            foreach (var item in items.EnumerateArray())
            {
                var result = item.ValueKind == JsonValueKind.Object ? item.EnumerateObject().FirstOrDefault().Value : default;
                var status = result.ValueKind == JsonValueKind.Object && result.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var v) ? v : 500;
                string? type = null;
                string? reason = null;
                if (result.ValueKind == JsonValueKind.Object && result.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
                {
                    type = StringOf(error, "type");
                    reason = StringOf(error, "reason");
                }

                results[i++] = new Rejection(status, type ?? "unknown", reason ?? string.Empty);
            }
        }
        catch (JsonException)
        {
            return false;
        }

        long shipped = 0;
        for (var i = 0; i < results.Length; i++)
        {
            switch (results[i].Status)
            {
                case >= 200 and <= 299:
                    shipped++;
                    break;
                case 409:
                    _metrics.AddDuplicates(1);
                    break;
                case 429 or >= 500 or < 200:
                    retry.Add(records[i]);
                    break;
                default:
                    DeadLetter(records[i], results[i], summary);
                    break;
            }
        }

        _metrics.AddShipped(shipped);
        return true;
    }

    private static string? StringOf(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>Writes one rejected document with its reason to the dead-letter file (one write, so a full disk never leaves half a line).</summary>
    private void DeadLetter(SpoolRecord record, Rejection rejection, DeadLetterSummary summary)
    {
        _metrics.AddDeadLettered(1);
        _deadLettered.Add(record.Id);
        summary.Add(record.Id, rejection);
        try
        {
            var info = new FileInfo(_deadLetterPath);
            if (info.Exists && info.Length > 64L << 20)
            {
                File.Move(_deadLetterPath, _deadLetterPath + ".1", overwrite: true);
            }

            using var line = new MemoryStream();
            using (var json = new Utf8JsonWriter(line, EcsJsonFormatter.JsonOptions))
            {
                json.WriteStartObject();
                json.WriteString("@timestamp", _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
                json.WriteString("_id", record.Id);
                json.WriteString("_index", _options.DataStream);
                json.WriteNumber("status", rejection.Status);
                json.WriteString("error.type", rejection.Type);
                json.WriteString("error.reason", rejection.Reason);
                json.WritePropertyName("document");
                json.WriteRawValue(record.Document.Span, skipInputValidation: true);
                json.WriteEndObject();
            }

            line.WriteByte((byte)'\n');
            using var file = new FileStream(_deadLetterPath, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
            file.Write(line.GetBuffer(), 0, (int)line.Length);
            _spool.Health.Succeeded(SpoolOperation.DeadLetter);
        }
        catch (Exception ex) when (Spool.IsDiskError(ex))
        {
            // The counter and the summary still report the rejection.
            _spool.Health.Failed(SpoolOperation.DeadLetter, _deadLetterPath, ex);
        }
    }

    private static SocketsHttpHandler CreateHandler(ElasticsearchOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
            // A redirected POST turns into a GET: a redirect means the URL needs fixing, and is reported as such.
            AllowAutoRedirect = false,
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

    /// <summary>Why Elasticsearch refused a document or a request.</summary>
    private sealed record Rejection(int Status, string Type, string Reason);

    private readonly record struct SendOutcome(Answer Answer, IReadOnlyList<SpoolRecord> Retry, Rejection Rejection, string Reason);

    /// <summary>One log line per batch for its dead letters, however many (event 1304).</summary>
    private sealed class DeadLetterSummary
    {
        private int _count;
        private string _lastId = string.Empty;
        private Rejection? _last;

        public void Add(string id, Rejection rejection)
        {
            _count++;
            _lastId = id;
            _last = rejection;
        }

        public void Log(ILogger logger, string path)
        {
            if (_count > 0)
            {
                ShipperLog.DeadLettered(logger, _count, _lastId, _last!.Status, _last.Type, _last.Reason, path);
                _count = 0;
            }
        }
    }
}
