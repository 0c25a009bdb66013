using System.Diagnostics;
using System.Net.Sockets;
using Grpc.Core;
using Monitor.Agent.Jobs;
using Monitor.Agent.Jobs.Kubernetes;
using Monitor.Agent.Jobs.Kubernetes.PodResourcesV1;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Jobs.Kubernetes;

/// <summary>
/// <see cref="KubeletPodResourcesSource"/> against stand-in kubelets on a unix socket in a temp folder: a real gRPC
/// server (<see cref="GrpcStandInKubelet"/>, Grpc.AspNetCore with the generated server code) and a raw HTTP/2 one
/// (<see cref="StandInKubelet"/>) for what a real server never sends. The pods the source maps, and each failure a node
/// can show (no socket, nothing listening, a slow or hung kubelet, a reset stream, a gRPC error, garbage, a short
/// frame) ending as one clear problem, after which the same source works again.
/// </summary>
public sealed class KubeletPodResourcesSourceTests : IDisposable
{
    private const string GpuA = "GPU-1f6a2c3d-4b5e-6f70-8192-a3b4c5d6e7f8";
    private const string GpuB = "GPU-2e7b3d4c-5a6f-7081-92a3-b4c5d6e7f809";
    private const string GpuShared = "GPU-3d8c4e5f-6b70-8192-a3b4-c5d6e7f8091a";
    private const string Mig = "MIG-4c9d5f60-7a81-92a3-b4c5-d6e7f8091a2b";

    /// <summary>The deadline tests' timeout.</summary>
    private static readonly TimeSpan HangTimeout = TimeSpan.FromMilliseconds(500);

    /// <summary>Everywhere else: a loaded test machine must not turn a slow answer into a timeout.</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    private readonly TempTree _tree = new();

    private string SocketPath => _tree.Path("kubelet.sock");

    public void Dispose() => _tree.Dispose();

    [Fact]
    public async Task Refresh_Normal_ReturnsThePodsHoldingGpusWithTheirGpus()
    {
        await using var kubelet = await StartGrpcAsync();
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.Null(result.Problem);
        Assert.Equal(
            [
                ("ml/train-0", "kubernetes", "ml", "train-0", "trainer"),
                ("ml/infer-1", "kubernetes", "ml", "infer-1", "server"),
                ("shared/notebook", "kubernetes", "shared", "notebook", "jupyter"),
                ("team-b/viz", "kubernetes", "team-b", "viz", "render,encode"),
            ],
            result.Jobs.Select(j => (j.Identity.JobId, j.Identity.Scheduler, j.Identity.Namespace!, j.Identity.Pod!,
                string.Join(',', j.Identity.Containers))));
        Assert.All(result.Jobs, j => Assert.Null(j.Identity.PodUid));
        Assert.Equal([new GpuRef(GpuA, null), new GpuRef(GpuB, null)], result.Jobs[0].Gpus);
        Assert.Equal([new GpuRef(Mig, null)], result.Jobs[1].Gpus);
        Assert.Equal([new GpuRef(GpuShared, null, null, "1")], result.Jobs[2].Gpus);
        Assert.Equal([new GpuRef(GpuShared, null, null, "2"), new GpuRef(GpuShared, null, null, "3")], result.Jobs[3].Gpus);
    }

    [Fact]
    public async Task Refresh_SendsItsDeadline()
    {
        await using var kubelet = await StartGrpcAsync();
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        var before = DateTime.UtcNow;
        await source.RefreshAsync(CancellationToken.None);
        var after = DateTime.UtcNow;

        // grpc-timeout travels in whole units, and Kestrel turns it back into a deadline on its own clock.
        Assert.InRange(kubelet.LastDeadline, before + CallTimeout - TimeSpan.FromMilliseconds(100), after + CallTimeout + TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Refresh_SendsAnEmptyRequestFramedAsGrpcOverHttp2()
    {
        await using var kubelet = await StartRawAsync();
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        await source.RefreshAsync(CancellationToken.None);

        var request = Assert.NotNull(kubelet.LastRequest);
        Assert.Equal(("HTTP/2", "application/grpc", "trailers"), (request.Protocol, request.ContentType, request.Te));
        Assert.InRange(ParseGrpcTimeout(request.GrpcTimeout), CallTimeout - TimeSpan.FromSeconds(1), CallTimeout);
        Assert.Equal(new byte[5], request.Body);
    }

    [Fact]
    public async Task Refresh_NoPods_IsHealthyAndEmpty()
    {
        await using var kubelet = await StartGrpcAsync();
        kubelet.Pods = new ListPodResourcesResponse();
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.True(result.Healthy);
        Assert.Empty(result.Jobs);
    }

    [Fact]
    public async Task Refresh_SocketMissing_ReportsItWithoutAnException()
    {
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.Empty(result.Jobs);
        Assert.Equal($"kubelet socket {SocketPath} not found", result.Problem);
    }

    [Fact]
    public async Task Refresh_NothingListening_ReportsConnectionRefused()
    {
        // A bound socket that never listens: the file exists, and connecting is refused. (Disposing it would delete
        // the file, so it stays open for the test.)
        using var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        bound.Bind(new UnixDomainSocketEndPoint(SocketPath));
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.Empty(result.Jobs);
        Assert.Equal($"cannot connect to kubelet socket {SocketPath}: connection refused (nothing is listening)", result.Problem);
    }

    [Fact]
    public async Task Refresh_KubeletSlowerThanTheDeadline_ReportsTheTimeoutAfterIt_ThenRecovers()
    {
        await using var kubelet = await StartGrpcAsync(GrpcKubeletMode.Delay);
        kubelet.Delay = TimeSpan.FromSeconds(10);

        await AssertTimesOutThenRecoversAsync(() => kubelet.Calls, () => kubelet.Mode = GrpcKubeletMode.Normal);
    }

    [Fact]
    public async Task Refresh_KubeletHangsWhateverTheDeadline_ReportsTheTimeoutAfterIt_ThenRecovers()
    {
        // The raw stand-in ignores grpc-timeout altogether: only the client's own deadline ends the call.
        await using var kubelet = await StartRawAsync(KubeletMode.Hang);

        await AssertTimesOutThenRecoversAsync(() => kubelet.Calls, () => kubelet.Mode = KubeletMode.Normal);
    }

    [Fact]
    public async Task Refresh_StreamReset_ReportsTheFailedCall_ThenRecovers()
    {
        await using var kubelet = await StartGrpcAsync(GrpcKubeletMode.Reset);
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        var clock = Stopwatch.StartNew();
        var result = await source.RefreshAsync(CancellationToken.None);
        clock.Stop();

        Assert.Empty(result.Jobs);
        Assert.StartsWith("kubelet List failed: grpc-status ", result.Problem, StringComparison.Ordinal);
        Assert.Contains("reset", result.Problem, StringComparison.OrdinalIgnoreCase);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"a reset stream ends the call at once, not at the deadline ({clock.Elapsed})");
        kubelet.Mode = GrpcKubeletMode.Normal;
        await AssertRecoversAsync(source);
    }

    [Fact]
    public async Task Refresh_GarbageMessage_ReportsItUndecodable_ThenRecovers()
    {
        await using var kubelet = await StartRawAsync(KubeletMode.Garbage);
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.Empty(result.Jobs);
        Assert.StartsWith("kubelet List sent an undecodable ListPodResourcesResponse: ", result.Problem, StringComparison.Ordinal);
        kubelet.Mode = KubeletMode.Normal;
        await AssertRecoversAsync(source);
    }

    [Fact]
    public async Task Refresh_FrameShorterThanAnnounced_ReportsAMalformedReply_ThenRecovers()
    {
        await using var kubelet = await StartRawAsync(KubeletMode.BadFrame);
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.Empty(result.Jobs);
        Assert.Equal(
            "kubelet List failed: grpc-status 13 (INTERNAL): Error starting gRPC call. InvalidDataException: Unexpected end of "
            + "content while reading the message content.",
            result.Problem);
        kubelet.Mode = KubeletMode.Normal;
        await AssertRecoversAsync(source);
    }

    [Fact]
    public async Task Refresh_GrpcError_ReportsStatusAndMessage_ThenRecovers()
    {
        await using var kubelet = await StartGrpcAsync(GrpcKubeletMode.Error);
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.Empty(result.Jobs);
        Assert.Equal("kubelet List failed: grpc-status 14 (UNAVAILABLE): kubelet is restarting", result.Problem);
        kubelet.Mode = GrpcKubeletMode.Normal;
        await AssertRecoversAsync(source);
    }

    [Fact]
    public async Task Refresh_GrpcErrorWithAnEncodedMessage_ReportsItDecoded()
    {
        await using var kubelet = await StartGrpcAsync(GrpcKubeletMode.Error);
        kubelet.Error = new Status(StatusCode.PermissionDenied, "pod-resources access denied: 100% ünïcode");
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);

        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.Empty(result.Jobs);
        Assert.Equal("kubelet List failed: grpc-status 7 (PERMISSION_DENIED): pod-resources access denied: 100% ünïcode", result.Problem);
    }

    [Fact]
    public async Task Refresh_CallerCancels_ThrowsOperationCanceled()
    {
        await using var kubelet = await StartRawAsync(KubeletMode.Hang);
        using var source = new KubeletPodResourcesSource(SocketPath, TimeSpan.FromSeconds(30));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await source.RefreshAsync(cancel.Token));
    }

    [Fact]
    public async Task Refresh_KubeletRestarts_ReportsItGoneThenReadsTheNewOne()
    {
        using var source = new KubeletPodResourcesSource(SocketPath, CallTimeout);
        await using (var first = await StartGrpcAsync())
        {
            Assert.Equal(4, (await source.RefreshAsync(CancellationToken.None)).Jobs.Count);
        }

        var gone = await source.RefreshAsync(CancellationToken.None);
        Assert.Contains(
            gone.Problem,
            new[]
            {
                $"kubelet socket {SocketPath} not found",
                $"cannot connect to kubelet socket {SocketPath}: connection refused (nothing is listening)",
            });

        File.Delete(SocketPath);
        await using var second = await StartGrpcAsync();
        var back = await source.RefreshAsync(CancellationToken.None);

        Assert.Null(back.Problem);
        Assert.Equal(4, back.Jobs.Count);
    }

    /// <summary>A grpc-timeout header ("5S", "4999m"): up to 8 digits and a unit (PROTOCOL-HTTP2.md, "Timeout").</summary>
    private static TimeSpan ParseGrpcTimeout(string? header)
    {
        Assert.Matches("^[0-9]{1,8}[HMSmun]$", header);
        var value = long.Parse(header![..^1], System.Globalization.CultureInfo.InvariantCulture);
        return header[^1] switch
        {
            'H' => TimeSpan.FromHours(value),
            'M' => TimeSpan.FromMinutes(value),
            'S' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMilliseconds(value),
            'u' => TimeSpan.FromMicroseconds(value),
            _ => TimeSpan.FromTicks(value / 100),
        };
    }

    /// <summary>
    /// One call to a kubelet that does not answer in time: a failure naming the 500 ms deadline, after it and well
    /// before the kubelet would have answered; then, the kubelet answering again (<paramref name="answerAgain"/>), the
    /// same source reads it.
    /// </summary>
    private async Task AssertTimesOutThenRecoversAsync(Func<int> calls, Action answerAgain)
    {
        using var source = new KubeletPodResourcesSource(SocketPath, HangTimeout);
        var callsBefore = calls();

        var clock = Stopwatch.StartNew();
        var result = await source.RefreshAsync(CancellationToken.None);
        clock.Stop();

        Assert.Empty(result.Jobs);
        Assert.Equal($"kubelet socket {SocketPath}: no answer within 500 ms", result.Problem);
        Assert.Equal(callsBefore + 1, calls());
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(450), TimeSpan.FromSeconds(3));
        answerAgain();
        await AssertRecoversAsync(source);
    }

    private static async Task AssertRecoversAsync(KubeletPodResourcesSource source)
    {
        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.Null(result.Problem);
        Assert.Equal(["ml/train-0", "ml/infer-1", "shared/notebook", "team-b/viz"], result.Jobs.Select(j => j.Identity.JobId));
    }

    private async Task<GrpcStandInKubelet> StartGrpcAsync(GrpcKubeletMode mode = GrpcKubeletMode.Normal)
    {
        var kubelet = await GrpcStandInKubelet.StartAsync(SocketPath);
        kubelet.Pods = NodePods();
        await WarmUpAsync();
        kubelet.Mode = mode;
        return kubelet;
    }

    private async Task<StandInKubelet> StartRawAsync(KubeletMode mode = KubeletMode.Normal)
    {
        var kubelet = await StandInKubelet.StartAsync(SocketPath);
        kubelet.Pods = NodePods();
        await WarmUpAsync();
        kubelet.Mode = mode;
        return kubelet;
    }

    /// <summary>
    /// One answered call first, so the deadline tests' 500 ms measure the hang, not the JIT compiling Kestrel's and
    /// the gRPC client's HTTP/2 paths (which alone can take longer on a loaded machine).
    /// </summary>
    private async Task WarmUpAsync()
    {
        using var warmUp = new KubeletPodResourcesSource(SocketPath, TimeSpan.FromSeconds(30));
        Assert.Null((await warmUp.RefreshAsync(CancellationToken.None)).Problem);
    }

    /// <summary>
    /// A node as the NVIDIA device plugin reports it: two whole GPUs, a MIG slice, time-sliced replicas of a third GPU
    /// (under nvidia.com/gpu and the renamed nvidia.com/gpu.shared), a CPU-only pod and a pod with a non-GPU device.
    /// </summary>
    private static ListPodResourcesResponse NodePods()
    {
        var response = new ListPodResourcesResponse();
        response.PodResources.AddRange(
        [
            Pod("ml", "train-0",
                Container("trainer", [2, 3], ("nvidia.com/gpu", [GpuA, GpuB])),
                Container("log-shipper", [])),
            Pod("ml", "infer-1", Container("server", [], ("nvidia.com/mig-1g.10gb", [Mig]))),
            Pod("default", "cpu-only", Container("app", [4, 5])),
            Pod("shared", "notebook", Container("jupyter", [], ("nvidia.com/gpu", [GpuShared + "::1"]))),
            Pod("net", "router", Container("dpdk", [6], ("intel.com/sriov_netdevice", ["0000:3b:02.1"]))),
            Pod("team-b", "viz",
                Container("render", [], ("nvidia.com/gpu.shared", [GpuShared + "::2"])),
                Container("encode", [], ("nvidia.com/gpu.shared", [GpuShared + "::3"]))),
        ]);
        return response;
    }

    private static PodResources Pod(string ns, string name, params ContainerResources[] containers)
    {
        var pod = new PodResources { Namespace = ns, Name = name };
        pod.Containers.AddRange(containers);
        return pod;
    }

    private static ContainerResources Container(string name, long[] cpus, params (string Resource, string[] Ids)[] devices)
    {
        var container = new ContainerResources { Name = name };
        container.CpuIds.AddRange(cpus);
        foreach (var (resource, ids) in devices)
        {
            var d = new ContainerDevices { ResourceName = resource };
            d.DeviceIds.AddRange(ids);
            d.Topology = new TopologyInfo { Nodes = { new NUMANode { ID = 0 } } };
            container.Devices.Add(d);
        }

        return container;
    }
}
