using System.Globalization;

namespace Monitor.Agent.Jobs.Kubernetes;

/// <summary>
/// Pods and the GPUs the kubelet assigned to them, from the kubelet's pod-resources API (v1 <c>List</c>, GA in 1.28)
/// on its unix socket (reference job-accounting.md §6). Each pod with at least one GPU becomes a job
/// "&lt;namespace&gt;/&lt;pod&gt;"; device ids of the NVIDIA device plugin (and GKE's) map to <see cref="GpuRef"/>s
/// (reference gpu-exporters.md §3). A refresh never throws: a missing socket, a refused connect, a hung kubelet, a
/// gRPC error or an undecodable reply each end as a <see cref="JobSourceResult.Problem"/> that names the cause.
/// </summary>
internal sealed class KubeletPodResourcesSource : IJobSource, IDisposable
{
    /// <summary>Where the kubelet serves the pod-resources API.</summary>
    public const string DefaultSocketPath = "/var/lib/kubelet/pod-resources/kubelet.sock";

    /// <summary>The List method's gRPC path.</summary>
    public const string ListMethod = "/v1.PodResourcesLister/List";

    /// <summary>
    /// The resources taken by default: whole and MIG GPUs of the NVIDIA device plugin, and the renamed time-sliced
    /// resource (<c>renameByDefault</c>). A trailing '*' makes a name a prefix.
    /// </summary>
    public static IReadOnlyList<string> DefaultResourceNames { get; } = ["nvidia.com/gpu", "nvidia.com/gpu.shared", "nvidia.com/mig-*"];

    /// <summary>The default bound on one List call, connecting included.</summary>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(5);

    private readonly GrpcUnixChannel _channel;
    private readonly HashSet<string> _exactNames = new(StringComparer.Ordinal);
    private readonly List<string> _prefixes = [];

    /// <summary>
    /// A source reading <paramref name="socketPath"/> (default <see cref="DefaultSocketPath"/>) with each call bounded by
    /// <paramref name="timeout"/> (default 5 s), taking the devices of <paramref name="resourceNames"/> (default
    /// <see cref="DefaultResourceNames"/>; "nvidia.com/mig-*" takes every name with that prefix).
    /// </summary>
    public KubeletPodResourcesSource(
        string socketPath = DefaultSocketPath, TimeSpan? timeout = null, IEnumerable<string>? resourceNames = null,
        TimeProvider? timeProvider = null)
    {
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

        _channel = new GrpcUnixChannel(socketPath, "kubelet", timeout ?? DefaultTimeout, timeProvider);
    }

    /// <inheritdoc />
    public string Name => "kubernetes";

    /// <summary>The socket the source reads.</summary>
    public string SocketPath => _channel.SocketPath;

    /// <inheritdoc />
    public async ValueTask<JobSourceResult> RefreshAsync(CancellationToken cancellationToken)
    {
        // ListPodResourcesRequest has no fields: it encodes to zero bytes.
        var reply = await _channel.CallAsync(ListMethod, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        if (reply.Outcome != GrpcCallOutcome.Ok)
        {
            return JobSourceResult.Failed(reply.Problem!);
        }

        ListPodResourcesResponse response;
        try
        {
            response = ListPodResourcesResponse.Parse(reply.Message!);
        }
        catch (InvalidDataException ex)
        {
            return JobSourceResult.Failed($"kubelet List sent an undecodable ListPodResourcesResponse: {ex.Message}");
        }

        return ToResult(response);
    }

    /// <inheritdoc />
    public void Dispose() => _channel.Dispose();

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
