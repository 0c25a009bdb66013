using Monitor.Agent.Jobs;
using Monitor.Agent.Jobs.Kubernetes;

namespace Monitor.Agent.Tests.Jobs.Kubernetes;

/// <summary>
/// Device ids to GPUs (reference gpu-exporters.md §3: the NVIDIA device plugin's uuid, index and time-slicing forms,
/// dcgm-exporter's device-name form, GKE's nvidia0/gi1/vgpu0) and List replies to jobs, without a socket.
/// </summary>
public sealed class KubeletPodResourcesSourceTests
{
    private const string Gpu0 = "GPU-8a3c4f2e-1b7d-4e5a-9c6f-0d2e4b6a8c1e";
    private const string Mig0 = "MIG-5d0f7a1b-2c3e-5f4a-8b9c-1e2d3f4a5b6c";

    public static TheoryData<string, string?, int?, uint?, string?> DeviceIds => new()
    {
        { Gpu0, Gpu0, null, null, null },
        { Mig0, Mig0, null, null, null },
        { Gpu0 + "::1", Gpu0, null, null, "1" },
        { Gpu0 + "::17", Gpu0, null, null, "17" },
        { Mig0 + "::0", Mig0, null, null, "0" },
        { "nvidia0", null, 0, null, null },
        { "nvidia7", null, 7, null, null },
        { "nvidia3::2", null, 3, null, "2" },
        { "nvidia0/gi1/vgpu0", null, 0, 1u, "0" },
        { "nvidia2/gi13", null, 2, 13u, null },
        { "nvidia1/vgpu4", null, 1, null, "4" },
        { "0", null, 0, null, null },
        { "12", null, 12, null, null },
    };

    [Theory]
    [MemberData(nameof(DeviceIds))]
    public void TryParseDeviceId_KnownForms_MapToTheGpu(string id, string? uuid, int? index, uint? instance, string? share)
    {
        Assert.True(KubeletPodResourcesSource.TryParseDeviceId(id, out var gpu));
        Assert.Equal(new GpuRef(uuid, index, instance, share), gpu);
    }

    [Theory]
    [InlineData("")]
    [InlineData("GPU-")]
    [InlineData("MIG-")]
    [InlineData("gpu-8a3c4f2e")]
    [InlineData(Gpu0 + "::")]
    [InlineData(Gpu0 + "::x")]
    [InlineData(Gpu0 + "/gi1")]
    [InlineData("nvidia")]
    [InlineData("nvidiaX")]
    [InlineData("nvidia-1")]
    [InlineData("nvidia0/")]
    [InlineData("nvidia0/gi")]
    [InlineData("nvidia0/gix")]
    [InlineData("nvidia0/vgpu")]
    [InlineData("nvidia0/gi1/gi2")]
    [InlineData("nvidia0/vgpu1/gi2")]
    [InlineData("nvidia0/gi1/vgpu0/extra")]
    [InlineData("nvidia0/vgpu1::2")]
    [InlineData("0:1")]
    [InlineData("-1")]
    [InlineData(" 0")]
    [InlineData("99999999999")]
    [InlineData("0000:3b:00.0")]
    public void TryParseDeviceId_OtherForms_AreRefused(string id) =>
        Assert.False(KubeletPodResourcesSource.TryParseDeviceId(id, out _));

    [Theory]
    [InlineData("nvidia.com/gpu", true)]
    [InlineData("nvidia.com/gpu.shared", true)]
    [InlineData("nvidia.com/mig-1g.10gb", true)]
    [InlineData("nvidia.com/mig-3g.40gb", true)]
    [InlineData("nvidia.com/gpu-a100", false)]
    [InlineData("NVIDIA.com/gpu", false)]
    [InlineData("amd.com/gpu", false)]
    [InlineData("cpu", false)]
    public void Takes_DefaultResourceNames(string resource, bool taken)
    {
        using var source = new KubeletPodResourcesSource("/nonexistent/kubelet.sock");

        Assert.Equal(taken, source.Takes(resource));
    }

    [Fact]
    public void Takes_ConfiguredNames_ReplaceTheDefaults()
    {
        using var source = new KubeletPodResourcesSource("/nonexistent/kubelet.sock", resourceNames: ["example.com/accel", "nvidia.com/a100-*"]);

        Assert.True(source.Takes("example.com/accel"));
        Assert.True(source.Takes("nvidia.com/a100-80gb"));
        Assert.False(source.Takes("nvidia.com/gpu"));
    }

    [Fact]
    public void ToResult_PodsWithGpus_BecomeJobsWithTheirGpusAndContainers()
    {
        var response = Response(
            Pod("ml", "train-0",
                Container("init", ("nvidia.com/gpu", [Gpu0])),
                Container("trainer", ("nvidia.com/gpu", [Gpu0, "GPU-b"]), ("example.com/nic", ["0000:3b:00.1"])),
                Container("sidecar")),
            Pod("default", "web", Container("app", ("example.com/nic", ["0000:3b:00.2"]))),
            Pod("ml", "infer", Container("server", ("nvidia.com/mig-1g.10gb", [Mig0]))));
        using var source = new KubeletPodResourcesSource("/nonexistent/kubelet.sock");

        var result = source.ToResult(response);

        Assert.True(result.Healthy);
        Assert.Equal(
            [
                "ml/train-0 kubernetes ml train-0 [init,trainer] " + Gpu0 + ",GPU-b",
                "ml/infer kubernetes ml infer [server] " + Mig0,
            ],
            result.Jobs.Select(Describe));
        Assert.Equal([new GpuRef(Gpu0, null), new GpuRef("GPU-b", null)], result.Jobs[0].Gpus);
    }

    [Fact]
    public void ToResult_UnknownDeviceIds_AreNamedInTheProblemBesideTheJobsThatMapped()
    {
        var response = Response(
            Pod("ml", "a", Container("c", ("nvidia.com/gpu", [Gpu0, "0:1"]))),
            Pod("ml", "b", Container("c", ("nvidia.com/gpu", ["weird"]))));
        using var source = new KubeletPodResourcesSource("/nonexistent/kubelet.sock");

        var result = source.ToResult(response);

        Assert.Equal(["ml/a kubernetes ml a [c] " + Gpu0], result.Jobs.Select(Describe));
        Assert.Equal(
            "kubelet reported 2 device id(s) the agent cannot map to a GPU: \"0:1\" (nvidia.com/gpu, pod ml/a), "
            + "\"weird\" (nvidia.com/gpu, pod ml/b)",
            result.Problem);
    }

    [Fact]
    public void ToResult_NoPods_IsHealthyAndEmpty()
    {
        using var source = new KubeletPodResourcesSource("/nonexistent/kubelet.sock");

        var result = source.ToResult(new ListPodResourcesResponse());

        Assert.True(result.Healthy);
        Assert.Empty(result.Jobs);
    }

    [Fact]
    public void Constructor_RefusesABadTimeoutOrResourceName()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new KubeletPodResourcesSource(timeout: TimeSpan.Zero));
        Assert.Throws<ArgumentException>(() => new KubeletPodResourcesSource(resourceNames: [""]));
        Assert.Throws<ArgumentException>(() => new KubeletPodResourcesSource(socketPath: ""));
    }

    [Fact]
    public void Name_IsKubernetes()
    {
        using var source = new KubeletPodResourcesSource();

        Assert.Equal(("kubernetes", KubeletPodResourcesSource.DefaultSocketPath), (source.Name, source.SocketPath));
    }

    private static string Describe(JobAssignment job) =>
        $"{job.Identity.JobId} {job.Identity.Scheduler} {job.Identity.Namespace} {job.Identity.Pod} "
        + $"[{string.Join(',', job.Identity.Containers)}] {string.Join(',', job.Gpus.Select(g => g.Uuid))}";

    private static ListPodResourcesResponse Response(params PodResources[] pods)
    {
        var response = new ListPodResourcesResponse();
        response.PodResources.AddRange(pods);
        return response;
    }

    private static PodResources Pod(string ns, string name, params ContainerResources[] containers)
    {
        var pod = new PodResources { Namespace = ns, Name = name };
        pod.Containers.AddRange(containers);
        return pod;
    }

    private static ContainerResources Container(string name, params (string Resource, string[] Ids)[] devices)
    {
        var container = new ContainerResources { Name = name };
        foreach (var (resource, ids) in devices)
        {
            var d = new ContainerDevices { ResourceName = resource };
            d.DeviceIds.AddRange(ids);
            container.Devices.Add(d);
        }

        return container;
    }
}
