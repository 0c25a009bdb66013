using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace Monitor.Agent.Jobs.Kubernetes;

/// <summary>
/// Unary gRPC calls over HTTP/2 cleartext on a unix domain socket, written by hand on <see cref="HttpClient"/>:
/// Grpc.Net.Client is not obtainable for this build, and one unary call needs little of it. The wire format is
/// gRPC's "PROTOCOL-HTTP2" (github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): a POST to
/// <c>/&lt;package&gt;.&lt;Service&gt;/&lt;Method&gt;</c> with <c>content-type: application/grpc</c> and
/// <c>te: trailers</c>, a body of length-prefixed messages (1-byte compressed flag, 4-byte big-endian length, the
/// message), and the outcome in the <c>grpc-status</c> / <c>grpc-message</c> trailers, or in the headers of a
/// trailers-only reply. A call never throws for what the server or the socket does; it returns a
/// <see cref="GrpcCallResult"/>. Only the caller's own cancellation escapes, as <see cref="OperationCanceledException"/>.
/// </summary>
internal sealed class GrpcUnixChannel : IDisposable
{
    /// <summary>
    /// The largest reply message accepted: the kubelet's own pod-resources client allows 16 MiB
    /// (<c>podresources.DefaultPodResourcesMaxSize</c>), gRPC's default of 4 MiB being too small for busy nodes.
    /// </summary>
    public const int DefaultMaxMessageBytes = 16 * 1024 * 1024;

    private const int FrameHeaderBytes = 5;

    private static readonly string[] StatusNames =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    private readonly HttpClient _client;
    private readonly string _socketPath;
    private readonly string _peer;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly int _maxMessageBytes;
    private readonly string _grpcTimeout;

    /// <summary>
    /// A channel to the server listening on <paramref name="socketPath"/>. <paramref name="peer"/> names the server in
    /// problem texts ("kubelet"); <paramref name="timeout"/> bounds each call, connecting included.
    /// </summary>
    public GrpcUnixChannel(
        string socketPath, string peer, TimeSpan timeout, TimeProvider? timeProvider = null,
        int maxMessageBytes = DefaultMaxMessageBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentException.ThrowIfNullOrEmpty(peer);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(maxMessageBytes);
        _socketPath = socketPath;
        _peer = peer;
        _timeout = timeout;
        _time = timeProvider ?? TimeProvider.System;
        _maxMessageBytes = maxMessageBytes;
        TimeoutText = FormatDuration(timeout);
        _grpcTimeout = GrpcTimeoutHeader(timeout);

        // Throws for a path longer than sun_path (108 bytes): a configuration error, reported at startup.
        var endpoint = new UnixDomainSocketEndPoint(socketPath);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = (_, cancellationToken) => ConnectAsync(endpoint, cancellationToken),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,

            // Refreshes every few seconds reuse one HTTP/2 connection; when the server restarts, the pool drops the
            // dead connection and the next call connects again.
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        };

        // The per-call CancellationTokenSource is the timeout: HttpClient's own would not cover reading the body.
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The socket the channel connects to.</summary>
    public string SocketPath => _socketPath;

    /// <summary>The timeout as problem texts print it: "5 s", "500 ms".</summary>
    public string TimeoutText { get; }

    /// <summary>
    /// Calls <paramref name="method"/> (<c>/v1.PodResourcesLister/List</c>) with the encoded
    /// <paramref name="request"/> message and returns the reply message or what went wrong.
    /// </summary>
    public async Task<GrpcCallResult> CallAsync(string method, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        cancellationToken.ThrowIfCancellationRequested();

        // A missing socket is the common case off Kubernetes, or while the kubelet restarts: say so plainly, without
        // going through HttpClient. File.Exists is also false when a folder on the way is not searchable, as
        // /var/lib/kubelet is not for an unprivileged agent; a bare connect tells that apart (EACCES, not ENOENT).
        if (!File.Exists(_socketPath) && NotFoundOrDenied() is { } unavailable)
        {
            return unavailable;
        }

        using var timeout = new CancellationTokenSource(_timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await CallCoreAsync(method, request, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return GrpcCallResult.Failure(
                GrpcCallOutcome.Timeout, $"{_peer} socket {_socketPath}: no answer within {TimeoutText}");
        }
        catch (HttpRequestException ex)
        {
            return FromRequestException(method, ex);
        }
        catch (IOException ex)
        {
            // Reading the body: the stream was reset or the connection closed mid-reply.
            return GrpcCallResult.Failure(GrpcCallOutcome.HttpFailed, $"{_peer} {MethodName(method)} failed: {Describe(ex)}");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _client.Dispose();

    /// <summary>"5 s" for whole seconds, otherwise "500 ms": how a timeout reads in a problem text.</summary>
    internal static string FormatDuration(TimeSpan duration) =>
        duration.Ticks % TimeSpan.TicksPerSecond == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{(long)duration.TotalSeconds} s")
            : string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMilliseconds:0.###} ms");

    /// <summary>The <c>grpc-timeout</c> header: at most 8 digits and a unit, milliseconds rounded up.</summary>
    internal static string GrpcTimeoutHeader(TimeSpan timeout)
    {
        var milliseconds = (long)Math.Ceiling(timeout.TotalMilliseconds);
        return milliseconds <= 99_999_999
            ? string.Create(CultureInfo.InvariantCulture, $"{milliseconds}m")
            : string.Create(CultureInfo.InvariantCulture, $"{Math.Min((long)Math.Ceiling(timeout.TotalSeconds), 99_999_999)}S");
    }

    /// <summary>
    /// Why a socket <see cref="File.Exists"/> does not see is unusable: not there, or not reachable for this user.
    /// Null when it can be connected after all (created in between).
    /// </summary>
    private GrpcCallResult? NotFoundOrDenied()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // A unix-socket connect completes or fails at once; it never waits on the network.
            socket.Connect(new UnixDomainSocketEndPoint(_socketPath));
            return null;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AccessDenied)
        {
            return GrpcCallResult.Failure(
                GrpcCallOutcome.ConnectFailed, $"cannot connect to {_peer} socket {_socketPath}: permission denied");
        }
        catch (SocketException)
        {
            return SocketMissing();
        }
    }

    private static async ValueTask<Stream> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task<GrpcCallResult> CallCoreAsync(string method, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        var frame = new byte[FrameHeaderBytes + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.Span.CopyTo(frame.AsSpan(FrameHeaderBytes));

        // The authority is not checked by the kubelet (nor by any gRPC server on a unix socket); "localhost" is what
        // grpc-go sends for unix: targets.
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://localhost" + method)
        {
            // HTTP/2 with prior knowledge: cleartext, no upgrade dance, as gRPC requires.
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        request.Headers.TryAddWithoutValidation("grpc-timeout", _grpcTimeout);

        using var response = await _client
            .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken)
            .ConfigureAwait(false);
        var name = MethodName(method);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return GrpcCallResult.Failure(
                GrpcCallOutcome.HttpFailed,
                string.Create(CultureInfo.InvariantCulture, $"{_peer} {name} failed: HTTP {(int)response.StatusCode}"));
        }

        // A trailers-only reply (an error without a message) carries grpc-status in its headers.
        var headerStatus = ReadStatus(response.Headers);
        if (headerStatus.Code is not (null or 0) || headerStatus.Problem is not null)
        {
            return StatusFailure(name, headerStatus);
        }

        var contentType = response.Content.Headers.ContentType?.MediaType;
        if (contentType is null || !contentType.StartsWith("application/grpc", StringComparison.Ordinal))
        {
            return Malformed(name, $"content-type {contentType ?? "(none)"} is not application/grpc");
        }

        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            var (reply, frameProblem) = await ReadMessageAsync(body, cancellationToken).ConfigureAwait(false);

            // The trailers are there once the body has been read to its end; a non-OK status explains a short or
            // missing message better than the framing does.
            var status = ReadStatus(response.TrailingHeaders);
            if (status.Code is null && status.Problem is null)
            {
                status = headerStatus;
            }

            if (status.Code is not (null or 0) || status.Problem is not null)
            {
                return StatusFailure(name, status);
            }

            if (frameProblem is not null)
            {
                return Malformed(name, frameProblem);
            }

            return status.Code is null ? Malformed(name, "the reply has no grpc-status") : GrpcCallResult.Success(reply!);
        }
    }

    /// <summary>Reads the one message a unary reply carries, and checks nothing follows it.</summary>
    private async Task<(byte[]? Message, string? Problem)> ReadMessageAsync(Stream body, CancellationToken cancellationToken)
    {
        var header = new byte[FrameHeaderBytes];
        var read = await body.ReadAtLeastAsync(header, FrameHeaderBytes, throwOnEndOfStream: false, cancellationToken)
            .ConfigureAwait(false);
        if (read == 0)
        {
            return (null, "the reply carries no message");
        }

        if (read < FrameHeaderBytes)
        {
            return (null, string.Create(CultureInfo.InvariantCulture, $"the reply ends inside a frame header ({read} of 5 bytes)"));
        }

        var flag = header[0];
        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1));
        if (flag == 1)
        {
            return (null, "the message is compressed, though the call accepts no compression");
        }

        if (flag != 0)
        {
            return (null, string.Create(CultureInfo.InvariantCulture, $"frame flag 0x{flag:x2} is neither 0 nor 1"));
        }

        if (length > (uint)_maxMessageBytes)
        {
            return (null, string.Create(
                CultureInfo.InvariantCulture, $"a {length}-byte message exceeds the {_maxMessageBytes}-byte limit"));
        }

        var message = length == 0 ? [] : new byte[length];
        if (length > 0)
        {
            var got = await body.ReadAtLeastAsync(message, message.Length, throwOnEndOfStream: false, cancellationToken)
                .ConfigureAwait(false);
            if (got < message.Length)
            {
                return (null, string.Create(
                    CultureInfo.InvariantCulture, $"the reply ends after {got} of the {length} message bytes"));
            }
        }

        if (await body.ReadAsync(header.AsMemory(0, 1), cancellationToken).ConfigureAwait(false) > 0)
        {
            return (null, "the reply carries more than one message");
        }

        return (message, null);
    }

    /// <summary>grpc-status and grpc-message from <paramref name="headers"/>; Code null when there is no grpc-status.</summary>
    private static (int? Code, string? Message, string? Problem) ReadStatus(HttpHeaders headers)
    {
        if (!headers.TryGetValues("grpc-status", out var values))
        {
            return (null, null, null);
        }

        var value = values.FirstOrDefault() ?? "";
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            return (null, null, $"grpc-status \"{value}\" is not a number");
        }

        // grpc-message is percent-encoded (PROTOCOL-HTTP2.md, "Status-Message").
        var message = headers.TryGetValues("grpc-message", out var messages) ? messages.FirstOrDefault() : null;
        return (code, string.IsNullOrEmpty(message) ? null : Uri.UnescapeDataString(message), null);
    }

    private GrpcCallResult StatusFailure(string name, (int? Code, string? Message, string? Problem) status)
    {
        if (status.Problem is not null)
        {
            return Malformed(name, status.Problem);
        }

        var code = status.Code!.Value;
        var codeName = code >= 0 && code < StatusNames.Length ? StatusNames[code] : "unknown code";
        var text = string.Create(CultureInfo.InvariantCulture, $"{_peer} {name} failed: grpc-status {code} ({codeName})");
        return GrpcCallResult.Failure(GrpcCallOutcome.GrpcStatus, status.Message is null ? text : text + ": " + status.Message);
    }

    private GrpcCallResult Malformed(string name, string detail) =>
        GrpcCallResult.Failure(GrpcCallOutcome.MalformedReply, $"{_peer} {name} sent a malformed gRPC reply: {detail}");

    private GrpcCallResult SocketMissing() =>
        GrpcCallResult.Failure(GrpcCallOutcome.SocketMissing, $"{_peer} socket {_socketPath} not found");

    private GrpcCallResult FromRequestException(string method, HttpRequestException ex)
    {
        for (Exception? inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                // The socket went away between the check and the connect (the kubelet restarting).
                if (!File.Exists(_socketPath))
                {
                    return SocketMissing();
                }

                var reason = socket.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => "connection refused (nothing is listening)",
                    SocketError.AccessDenied => "permission denied",
                    _ => socket.Message,
                };
                return GrpcCallResult.Failure(
                    GrpcCallOutcome.ConnectFailed, $"cannot connect to {_peer} socket {_socketPath}: {reason}");
            }
        }

        return ex.HttpRequestError == HttpRequestError.ConnectionError
            ? GrpcCallResult.Failure(GrpcCallOutcome.ConnectFailed, $"cannot connect to {_peer} socket {_socketPath}: {Describe(ex)}")
            : GrpcCallResult.Failure(GrpcCallOutcome.HttpFailed, $"{_peer} {MethodName(method)} failed: {Describe(ex)}");
    }

    /// <summary>The exception's message, with its cause's when that adds something.</summary>
    private static string Describe(Exception ex) =>
        ex.InnerException is { } inner && !string.Equals(inner.Message, ex.Message, StringComparison.Ordinal)
            ? ex.Message + " (" + inner.Message + ")"
            : ex.Message;

    /// <summary>"List" for "/v1.PodResourcesLister/List".</summary>
    private static string MethodName(string method) => method[(method.LastIndexOf('/') + 1)..];
}
