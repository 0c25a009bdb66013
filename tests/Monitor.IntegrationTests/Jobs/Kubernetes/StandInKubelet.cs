using System.Buffers.Binary;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Jobs.Kubernetes;

namespace Monitor.IntegrationTests.Jobs.Kubernetes;

/// <summary>How the stand-in kubelet answers List.</summary>
internal enum KubeletMode
{
    /// <summary>The pods, framed, with trailers grpc-status: 0.</summary>
    Normal,

    /// <summary>Never answers (until the client gives up).</summary>
    Hang,

    /// <summary>A well-framed message of random bytes.</summary>
    Garbage,

    /// <summary>A frame header announcing 1000 bytes, then 10, then grpc-status: 0.</summary>
    BadFrame,

    /// <summary>No message; trailers grpc-status: 14 with a percent-encoded grpc-message.</summary>
    GrpcError,

    /// <summary>A trailers-only reply: grpc-status: 7 in the response headers, no body.</summary>
    GrpcErrorTrailersOnly,
}

/// <summary>
/// A kubelet pod-resources server for tests: Kestrel on a unix socket speaking HTTP/2 only, answering
/// <c>/v1.PodResourcesLister/List</c> with gRPC's length-prefixed framing and trailers, written by hand as the
/// client is, so it can send what no real gRPC server sends (garbage, a short frame, no answer whatever the deadline).
/// The real gRPC server is <see cref="GrpcStandInKubelet"/>. It listens on nothing but that socket.
/// </summary>
internal sealed class StandInKubelet : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _calls;

    private StandInKubelet(WebApplication app, string socketPath)
    {
        _app = app;
        SocketPath = socketPath;
    }

    /// <summary>The socket it listens on.</summary>
    public string SocketPath { get; }

    /// <summary>How List is answered now.</summary>
    public volatile KubeletMode Mode;

    /// <summary>What List returns in <see cref="KubeletMode.Normal"/>.</summary>
    public ListPodResourcesResponse Pods { get; set; } = new();

    /// <summary>Calls that reached the List handler.</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>The last request as the server saw it: protocol, content-type, te, grpc-timeout and body bytes.</summary>
    public (string Protocol, string? ContentType, string? Te, string? GrpcTimeout, byte[] Body)? LastRequest { get; private set; }

    /// <summary>Starts a server on <paramref name="socketPath"/>.</summary>
    public static async Task<StandInKubelet> StartAsync(string socketPath)
    {
        var app = CreateBuilder(socketPath).Build();
        var kubelet = new StandInKubelet(app, socketPath);
        app.Run(kubelet.HandleAsync);
        await app.StartAsync();
        return kubelet;
    }

    /// <summary>
    /// A host that listens on <paramref name="socketPath"/> (HTTP/2 only) and nothing else, without logging: what
    /// both stand-in kubelets are built on.
    /// </summary>
    internal static WebApplicationBuilder CreateBuilder(string socketPath)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = Path.GetDirectoryName(socketPath),
            EnvironmentName = "Production",
        });
        builder.Logging.ClearProviders();

        // Explicit endpoints replace any ASPNETCORE_URLS / HTTP_PORTS from the environment: only the socket listens.
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.ListenUnixSocket(socketPath, listen => listen.Protocols = HttpProtocols.Http2));
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(2));
        return builder;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (!HttpMethods.IsPost(request.Method)
            || !string.Equals(request.Path.Value, KubeletPodResourcesSource.ListMethod, StringComparison.Ordinal))
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        Interlocked.Increment(ref _calls);
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, context.RequestAborted);
        LastRequest = (request.Protocol, request.ContentType, request.Headers.TE.ToString(),
            request.Headers["grpc-timeout"].ToString(), body.ToArray());

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        switch (Mode)
        {
            case KubeletMode.Hang:
                try
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    // The client reset the stream or the server is stopping.
                }

                return;
            case KubeletMode.GrpcErrorTrailersOnly:
                response.Headers["grpc-status"] = "7";
                response.Headers["grpc-message"] = "pod-resources%20access%20denied";
                return;
            case KubeletMode.GrpcError:
                await response.StartAsync(context.RequestAborted);
                response.AppendTrailer("grpc-status", "14");
                response.AppendTrailer("grpc-message", "kubelet%20is%20restarting");
                return;
            case KubeletMode.Garbage:
                var garbage = new byte[64];
                new Random(11).NextBytes(garbage);
                await WriteFrameAsync(response, garbage, garbage.Length, context.RequestAborted);
                break;
            case KubeletMode.BadFrame:
                await WriteFrameAsync(response, new byte[10], 1000, context.RequestAborted);
                break;
            default:
                var message = Pods.ToByteArray();
                await WriteFrameAsync(response, message, message.Length, context.RequestAborted);
                break;
        }

        response.AppendTrailer("grpc-status", "0");
    }

    private static async Task WriteFrameAsync(HttpResponse response, byte[] message, int announced, CancellationToken cancellationToken)
    {
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)announced);
        message.CopyTo(frame, 5);
        await response.Body.WriteAsync(frame, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }
}
