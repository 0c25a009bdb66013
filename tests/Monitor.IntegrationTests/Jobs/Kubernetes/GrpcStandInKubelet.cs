using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Monitor.IntegrationTests.Jobs.Kubernetes.PodResourcesV1;

namespace Monitor.IntegrationTests.Jobs.Kubernetes;

/// <summary>How the gRPC stand-in kubelet answers List.</summary>
internal enum GrpcKubeletMode
{
    /// <summary>Returns <see cref="GrpcStandInKubelet.Pods"/>.</summary>
    Normal,

    /// <summary>Waits <see cref="GrpcStandInKubelet.Delay"/>, ignoring the call's deadline, then returns the pods.</summary>
    Delay,

    /// <summary>Aborts the HTTP/2 stream (RST_STREAM) without an answer.</summary>
    Reset,

    /// <summary>Throws an <see cref="RpcException"/> with <see cref="GrpcStandInKubelet.Error"/>.</summary>
    Error,
}

/// <summary>
/// A kubelet pod-resources server for tests built from the real parts: Grpc.AspNetCore serving the server code
/// Grpc.Tools generates from Protos/podresources_v1.proto, on Kestrel listening on a unix socket (HTTP/2 only) and on
/// nothing else; the agent's hand-written client talks to it as to a kubelet. Started and stopped by the test.
/// </summary>
internal sealed class GrpcStandInKubelet : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly State _state;

    private GrpcStandInKubelet(WebApplication app, State state, string socketPath)
    {
        _app = app;
        _state = state;
        SocketPath = socketPath;
    }

    /// <summary>The socket it listens on.</summary>
    public string SocketPath { get; }

    /// <summary>How List is answered now.</summary>
    public GrpcKubeletMode Mode
    {
        get => _state.Mode;
        set => _state.Mode = value;
    }

    /// <summary>What List returns.</summary>
    public ListPodResourcesResponse Pods
    {
        get => _state.Pods;
        set => _state.Pods = value;
    }

    /// <summary>
    /// Sets <see cref="Pods"/> from a reply encoded by the agent's own hand-written messages, decoded by the generated
    /// parser: the two agree on the wire, or this throws.
    /// </summary>
    public void SetPods(byte[] encoded) => Pods = ListPodResourcesResponse.Parser.ParseFrom(encoded);

    /// <summary>How long List waits in <see cref="GrpcKubeletMode.Delay"/>.</summary>
    public TimeSpan Delay
    {
        get => _state.Delay;
        set => _state.Delay = value;
    }

    /// <summary>The status List fails with in <see cref="GrpcKubeletMode.Error"/>.</summary>
    public Status Error
    {
        get => _state.Error;
        set => _state.Error = value;
    }

    /// <summary>Calls that reached the List handler.</summary>
    public int Calls => Volatile.Read(ref _state.Calls);

    /// <summary>The deadline the last call carried (UTC; <see cref="DateTime.MaxValue"/> for none).</summary>
    public DateTime LastDeadline => _state.LastDeadline;

    /// <summary>Starts a server on <paramref name="socketPath"/>.</summary>
    public static async Task<GrpcStandInKubelet> StartAsync(string socketPath)
    {
        var builder = StandInKubelet.CreateBuilder(socketPath);
        var state = new State();
        builder.Services.AddSingleton(state);
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<Lister>();
        await app.StartAsync();
        return new GrpcStandInKubelet(app, state, socketPath);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>What the test sets and the service reads, shared through the server's services.</summary>
    private sealed class State
    {
        public volatile GrpcKubeletMode Mode;
        public int Calls;

        public ListPodResourcesResponse Pods { get; set; } = new();

        public TimeSpan Delay { get; set; }

        public Status Error { get; set; } = new(StatusCode.Unavailable, "kubelet is restarting");

        public DateTime LastDeadline { get; set; }
    }

    /// <summary>The PodResourcesLister service, on the generated base class.</summary>
    private sealed class Lister(State state) : PodResourcesLister.PodResourcesListerBase
    {
        public override async Task<ListPodResourcesResponse> List(ListPodResourcesRequest request, ServerCallContext context)
        {
            Interlocked.Increment(ref state.Calls);
            state.LastDeadline = context.Deadline;
            switch (state.Mode)
            {
                case GrpcKubeletMode.Delay:
                    // Not context.CancellationToken: a kubelet that ignores the deadline, so the client's own must end the call.
                    await Task.Delay(state.Delay);
                    break;
                case GrpcKubeletMode.Reset:
                    context.GetHttpContext().Abort();
                    break;
                case GrpcKubeletMode.Error:
                    throw new RpcException(state.Error);
            }

            return state.Pods;
        }
    }
}
