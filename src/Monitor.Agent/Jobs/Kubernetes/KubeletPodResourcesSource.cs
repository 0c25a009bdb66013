using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Monitor.Agent.Jobs.Kubernetes.PodResourcesV1;

namespace Monitor.Agent.Jobs.Kubernetes;

/// <summary>
/// Pods and the GPUs the kubelet assigned to them, from the kubelet's pod-resources API (v1 <c>List</c>, GA in 1.28)
/// on its unix socket (reference job-accounting.md §6), called with Grpc.Net.Client and the client Grpc.Tools generates
/// from <c>Protos/podresources_v1.proto</c>. Each pod with at least one GPU becomes a job
/// "&lt;namespace&gt;/&lt;pod&gt;"; device ids of the NVIDIA device plugin (and GKE's) map to <see cref="GpuRef"/>s
/// (reference gpu-exporters.md §3). A refresh never throws: a missing socket, a refused connect, a hung kubelet, a
/// gRPC error, a reset stream or an undecodable reply each end as a <see cref="JobSourceResult.Problem"/> that names
/// the cause. Only the caller's own cancellation escapes, as <see cref="OperationCanceledException"/>.
/// </summary>
internal sealed class KubeletPodResourcesSource : IJobSource, IDisposable
{
    /// <summary>Where the kubelet serves the pod-resources API.</summary>
    public const string DefaultSocketPath = "/var/lib/kubelet/pod-resources/kubelet.sock";

    /// <summary>The List method's gRPC path.</summary>
    public const string ListMethod = "/v1.PodResourcesLister/List";

    /// <summary>
    /// The largest reply accepted: the kubelet's own pod-resources client allows 16 MiB
    /// (<c>podresources.DefaultPodResourcesMaxSize</c>), gRPC's default of 4 MiB being too small for busy nodes.
    /// </summary>
    public const int MaxReplyBytes = 16 * 1024 * 1024;

    /// <summary>
    /// The resources taken by default: whole and MIG GPUs of the NVIDIA device plugin, and the renamed time-sliced
    /// resource (<c>renameByDefault</c>). A trailing '*' makes a name a prefix.
    /// </summary>
    public static IReadOnlyList<string> DefaultResourceNames { get; } = ["nvidia.com/gpu", "nvidia.com/gpu.shared", "nvidia.com/mig-*"];

    /// <summary>The default bound on one List call, connecting included.</summary>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(5);

    private static readonly string[] StatusNames =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    private static readonly ListPodResourcesRequest ListRequest = new();

    private readonly GrpcChannel _channel;
    private readonly PodResourcesLister.PodResourcesListerClient _client;
    private readonly TimeSpan _timeout;
    private readonly string _timeoutText;
    private readonly HashSet<string> _exactNames = new(StringComparer.Ordinal);
    private readonly List<string> _prefixes = [];

    /// <summary>
    /// A source reading <paramref name="socketPath"/> (default <see cref="DefaultSocketPath"/>) with each call bounded by
    /// <paramref name="timeout"/> (default 5 s, sent as the call's gRPC deadline), taking the devices of
    /// <paramref name="resourceNames"/> (default <see cref="DefaultResourceNames"/>; "nvidia.com/mig-*" takes every name
    /// with that prefix).
    /// </summary>
    public KubeletPodResourcesSource(
        string socketPath = DefaultSocketPath, TimeSpan? timeout = null, IEnumerable<string>? resourceNames = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        _timeout = timeout ?? DefaultTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_timeout, TimeSpan.Zero, nameof(timeout));
        foreach (var name in resourceNames ?? DefaultResourceNames)
        {
            ArgumentException.ThrowIfNullOrEmpty(name, nameof(resourceNames));
            if (name.EndsWith('*'))
            {
                _prefixes.Add(name[..^1]);
            }
            else
            {
                _exactNames.Add(name);
            }
        }

        SocketPath = socketPath;
        _timeoutText = FormatDuration(_timeout);

        // Throws for a path longer than sun_path (108 bytes): a configuration error, reported at startup.
        var endpoint = new UnixDomainSocketEndPoint(socketPath);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = (_, cancellationToken) => ConnectAsync(endpoint, cancellationToken),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,

            // Refreshes every few seconds reuse one HTTP/2 connection; when the kubelet restarts, the pool drops the
            // dead connection and the next call connects again.
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        };

        // The authority is not checked by the kubelet (nor by any gRPC server on a unix socket); "localhost" is what
        // grpc-go sends for unix: targets. http: is HTTP/2 with prior knowledge, as gRPC requires.
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = MaxReplyBytes,
        });
        _client = new PodResourcesLister.PodResourcesListerClient(_channel);
    }

    /// <inheritdoc />
    public string Name => "kubernetes";

    /// <summary>The socket the source reads.</summary>
    public string SocketPath { get; }

    /// <inheritdoc />
    public async ValueTask<JobSourceResult> RefreshAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();

        // A missing socket is the common case off Kubernetes, or while the kubelet restarts: say so plainly, without
        // going through the channel. File.Exists is also false when a folder on the way is not searchable, as
        // /var/lib/kubelet is not for an unprivileged agent; a bare connect tells that apart (EACCES, not ENOENT).
        if (!File.Exists(SocketPath) && NotFoundOrDenied() is { } unavailable)
        {
            return JobSourceResult.Failed(unavailable);
        }

        ListPodResourcesResponse response;
        try
        {
            // Grpc.Net.Client measures a deadline against the system clock (and sends what is left as grpc-timeout),
            // so the deadline comes from that clock, not from an injected TimeProvider.
            var deadline = TimeProvider.System.GetUtcNow().UtcDateTime + _timeout;
            response = await _client.ListAsync(ListRequest, deadline: deadline, cancellationToken: cancellationToken)
                .ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            // The caller's cancellation ends the call as CANCELLED; it escapes as OperationCanceledException.
            cancellationToken.ThrowIfCancellationRequested();
            return JobSourceResult.Failed(Describe(ex));
        }

        return ToResult(response);
    }

    /// <inheritdoc />
    public void Dispose() => _channel.Dispose();

    /// <summary>"5 s" for whole seconds, otherwise "500 ms": how a timeout reads in a problem text.</summary>
    internal static string FormatDuration(TimeSpan duration) =>
        duration.Ticks % TimeSpan.TicksPerSecond == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{(long)duration.TotalSeconds} s")
            : string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMilliseconds:0.###} ms");

    /// <summary>What a failed call's <see cref="RpcException"/> means for an operator.</summary>
    private string Describe(RpcException ex)
    {
        var status = ex.Status;
        if (status.StatusCode == StatusCode.DeadlineExceeded)
        {
            // The call's deadline passed, connecting included (or the kubelet saw it pass first and said so).
            return $"kubelet socket {SocketPath}: no answer within {_timeoutText}";
        }

        for (var inner = status.DebugException; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case SocketException socket:
                    // The socket went away between the check and the connect (the kubelet restarting).
                    if (!File.Exists(SocketPath))
                    {
                        return SocketMissing();
                    }

                    var reason = socket.SocketErrorCode switch
                    {
                        SocketError.ConnectionRefused => "connection refused (nothing is listening)",
                        SocketError.AccessDenied => "permission denied",
                        _ => socket.Message,
                    };
                    return $"cannot connect to kubelet socket {SocketPath}: {reason}";
                case InvalidProtocolBufferException:
                    return $"kubelet List sent an undecodable ListPodResourcesResponse: {inner.Message}";
            }
        }

        var code = (int)status.StatusCode;
        var text = string.Create(
            CultureInfo.InvariantCulture,
            $"kubelet List failed: grpc-status {code} ({(code >= 0 && code < StatusNames.Length ? StatusNames[code] : "unknown code")})");
        if (!string.IsNullOrEmpty(status.Detail))
        {
            text += ": " + status.Detail;
        }

        // Grpc.Net.Client's own failures (a reset stream, a bad frame) carry the cause in the debug exception.
        return status.DebugException is { } debug && !text.Contains(debug.Message, StringComparison.Ordinal)
            ? text + " (" + debug.Message + ")"
            : text;
    }

    /// <summary>
    /// Why a socket <see cref="File.Exists"/> does not see is unusable: not there, or not reachable for this user.
    /// Null when it can be connected after all (created in between).
    /// </summary>
    private string? NotFoundOrDenied()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // A unix-socket connect completes or fails at once; it never waits on the network.
            socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
            return null;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AccessDenied)
        {
            return $"cannot connect to kubelet socket {SocketPath}: permission denied";
        }
        catch (SocketException)
        {
            return SocketMissing();
        }
    }

    private string SocketMissing() => $"kubelet socket {SocketPath} not found";

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

    /// <summary>
    /// The jobs in <paramref name="response"/>: one per pod holding at least one taken device, in the kubelet's order,
    /// its GPUs without duplicates (an init container's devices are reused by the app containers). Device ids of a
    /// form the agent does not know are left out and named in the result's problem, beside the jobs that did map.
    /// </summary>
    internal JobSourceResult ToResult(ListPodResourcesResponse response)
    {
        var jobs = new List<JobAssignment>();
        List<string>? unknown = null;
        foreach (var pod in response.PodResources)
        {
            List<GpuRef>? gpus = null;
            List<string>? containers = null;
            foreach (var container in pod.Containers)
            {
                var holds = false;
                foreach (var devices in container.Devices)
                {
                    if (!Takes(devices.ResourceName))
                    {
                        continue;
                    }

                    foreach (var id in devices.DeviceIds)
                    {
                        if (!TryParseDeviceId(id, out var gpu))
                        {
                            (unknown ??= []).Add($"\"{id}\" ({devices.ResourceName}, pod {pod.Namespace}/{pod.Name})");
                            continue;
                        }

                        holds = true;
                        gpus ??= [];
                        if (!gpus.Contains(gpu))
                        {
                            gpus.Add(gpu);
                        }
                    }
                }

                if (holds && !(containers ??= []).Contains(container.Name, StringComparer.Ordinal))
                {
                    containers.Add(container.Name);
                }
            }

            if (gpus is null)
            {
                continue;
            }

            var identity = new JobIdentity
            {
                JobId = pod.Namespace + "/" + pod.Name,
                Scheduler = "kubernetes",
                Namespace = pod.Namespace,
                Pod = pod.Name,
                Containers = containers!,
            };
            jobs.Add(new JobAssignment(identity, gpus));
        }

        var problem = unknown is null
            ? null
            : string.Create(
                CultureInfo.InvariantCulture,
                $"kubelet reported {unknown.Count} device id(s) the agent cannot map to a GPU: {string.Join(", ", unknown)}");
        return new JobSourceResult(jobs, problem);
    }

    /// <summary>Whether devices of <paramref name="resourceName"/> are GPUs this source maps.</summary>
    internal bool Takes(string resourceName)
    {
        if (_exactNames.Contains(resourceName))
        {
            return true;
        }

        foreach (var prefix in _prefixes)
        {
            if (resourceName.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Maps a device plugin's device id to a GPU (reference gpu-exporters.md §3):
    /// <list type="bullet">
    /// <item>"GPU-&lt;uuid&gt;", "MIG-&lt;uuid&gt;" (<c>--device-id-strategy=uuid</c>, the default): the UUID;</item>
    /// <item>"GPU-&lt;uuid&gt;::&lt;n&gt;" (time-slicing replica n): the UUID, share "n";</item>
    /// <item>"nvidia&lt;N&gt;" (device-name, as dcgm-exporter's <c>--kubernetes-gpu-id-type=device-name</c>) and "&lt;N&gt;"
    /// (<c>--device-id-strategy=index</c>): index N;</item>
    /// <item>GKE's "nvidia0/gi1/vgpu2": index 0, GPU instance 1, share "2" ("nvidia0/vgpu2" without MIG).</item>
    /// </list>
    /// Anything else (including the index strategy's "0:1" MIG form, whose second number is not a GPU instance id)
    /// returns false.
    /// </summary>
    public static bool TryParseDeviceId(string id, out GpuRef gpu)
    {
        gpu = default;
        if (string.IsNullOrEmpty(id))
        {
            return false;
        }

        var span = id.AsSpan();
        string? share = null;
        var replica = span.IndexOf("::", StringComparison.Ordinal);
        if (replica >= 0)
        {
            var n = span[(replica + 2)..];
            if (n.IsEmpty || n.ContainsAnyExceptInRange('0', '9'))
            {
                return false;
            }

            share = n.ToString();
            span = span[..replica];
        }

        if ((span.StartsWith("GPU-", StringComparison.Ordinal) || span.StartsWith("MIG-", StringComparison.Ordinal))
            && span.Length > 4 && !span.Contains('/'))
        {
            gpu = new GpuRef(replica >= 0 ? span.ToString() : id, null, null, share);
            return true;
        }

        if (TryParseIndex(span, out var bare))
        {
            gpu = new GpuRef(null, bare, null, share);
            return true;
        }

        if (!span.StartsWith("nvidia", StringComparison.Ordinal))
        {
            return false;
        }

        span = span[6..];
        var slash = span.IndexOf('/');
        if (!TryParseIndex(slash < 0 ? span : span[..slash], out var index))
        {
            return false;
        }

        uint? instance = null;
        while (slash >= 0)
        {
            span = span[(slash + 1)..];
            slash = span.IndexOf('/');
            var part = slash < 0 ? span : span[..slash];
            if (instance is null && share is null && part.StartsWith("gi", StringComparison.Ordinal)
                && uint.TryParse(part[2..], NumberStyles.None, CultureInfo.InvariantCulture, out var gi))
            {
                instance = gi;
            }
            else if (share is null && part.StartsWith("vgpu", StringComparison.Ordinal) && part.Length > 4
                && !part[4..].ContainsAnyExceptInRange('0', '9'))
            {
                share = part[4..].ToString();
            }
            else
            {
                return false;
            }
        }

        gpu = new GpuRef(null, index, instance, share);
        return true;
    }

    private static bool TryParseIndex(ReadOnlySpan<char> text, out int index) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out index);
}
