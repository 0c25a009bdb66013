using Monitor.Agent.Jobs.Kubernetes;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Jobs.Kubernetes;

/// <summary>
/// The agent with simulated GPUs and the jobs collector reading a stand-in kubelet (a real gRPC server): pods show up as jobs on their
/// GPUs (whole and time-sliced), and a kubelet that goes away only turns its own source's health to 0.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class KubernetesJobsAgentTests : IDisposable
{
    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public async Task Agent_PodsOnSimulatedGpus_ThenKubeletGone()
    {
        var socket = _tree.Path("kubelet.sock");
        var kubelet = await GrpcStandInKubelet.StartAsync(socket);
        kubelet.SetPods(Pods(
            ("ml", "train-0", "trainer", ["GPU-5131d000-0000-4000-8000-000000000000", "GPU-5131d000-0000-4000-8000-000000000001"]),
            ("shared", "nb-a", "jupyter", ["GPU-5131d000-0000-4000-8000-000000000002::1"]),
            ("shared", "nb-b", "jupyter", ["GPU-5131d000-0000-4000-8000-000000000002::2"])).ToByteArray());
        await using var agent = await AgentProcess.StartAsync(
            "--gpu.simulate=4", "--collector.disable-defaults", "--collector.gpu", "--collector.jobs", "--collector.jobs.interval=1s",
            "--collector.jobs.kubernetes", $"--collector.jobs.kubelet-socket={socket}", "--collector.jobs.grace-period=2s");
        using var client = new HttpClient();

        // The collector writes its series in place: wait for an update that has written both the jobs and its source health.
        var samples = await agent.ScrapeUntilAsync(
            client, s => s.Keys.Count(k => k.StartsWith("gpu_job_info{", StringComparison.Ordinal)) == 4 && s.ContainsKey("job_source_up{source=\"kubernetes\"}"));

        Assert.Equal(
            [
                "gpu_job_info{gpu=\"0\",job_id=\"ml/train-0\",uuid=\"GPU-5131d000-0000-4000-8000-000000000000\"}",
                "gpu_job_info{gpu=\"1\",job_id=\"ml/train-0\",uuid=\"GPU-5131d000-0000-4000-8000-000000000001\"}",
                "gpu_job_info{gpu=\"2\",job_id=\"shared/nb-a\",uuid=\"GPU-5131d000-0000-4000-8000-000000000002\"}",
                "gpu_job_info{gpu=\"2\",job_id=\"shared/nb-b\",uuid=\"GPU-5131d000-0000-4000-8000-000000000002\"}",
            ],
            samples.Keys.Where(k => k.StartsWith("gpu_job_info{", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Contains(samples.Keys, k => k.StartsWith("job_info{", StringComparison.Ordinal) && k.Contains("job_id=\"ml/train-0\"", StringComparison.Ordinal)
            && k.Contains("namespace=\"ml\"", StringComparison.Ordinal) && k.Contains("pod=\"train-0\"", StringComparison.Ordinal) && k.Contains("scheduler=\"kubernetes\"", StringComparison.Ordinal));
        Assert.Equal(1, samples["job_source_up{source=\"kubernetes\"}"]);

        // Two time-sliced pods on GPU 2 share its allocated seconds equally.
        var shared = await agent.ScrapeUntilAsync(client, s => s.Keys.Any(k => k.StartsWith("job_gpu_allocated_seconds_total{gpu=\"2\",job_id=\"shared/nb-b\"", StringComparison.Ordinal)));
        Assert.Equal(
            shared.Single(s => s.Key.StartsWith("job_gpu_allocated_seconds_total{gpu=\"2\",job_id=\"shared/nb-a\"", StringComparison.Ordinal)).Value,
            shared.Single(s => s.Key.StartsWith("job_gpu_allocated_seconds_total{gpu=\"2\",job_id=\"shared/nb-b\"", StringComparison.Ordinal)).Value,
            6);

        // The kubelet goes away: the source reports it; the GPU series and the agent are unaffected.
        await kubelet.DisposeAsync();
        var gone = await agent.ScrapeUntilAsync(client, s => s.GetValueOrDefault("job_source_up{source=\"kubernetes\"}", 1) == 0);
        Assert.Equal(1, gone["gpu_nvml_up"]);
        Assert.Contains(gone.Keys, k => k.StartsWith("gpu_power_watts{", StringComparison.Ordinal));
        await agent.WaitForLogAsync("Job source kubernetes failed", TimeSpan.FromSeconds(10));
    }

    private static ListPodResourcesResponse Pods(params (string Namespace, string Pod, string Container, string[] Devices)[] pods)
    {
        var response = new ListPodResourcesResponse();
        foreach (var (ns, name, container, devices) in pods)
        {
            var containerResources = new ContainerResources { Name = container };
            var gpus = new ContainerDevices { ResourceName = "nvidia.com/gpu" };
            gpus.DeviceIds.AddRange(devices);
            containerResources.Devices.Add(gpus);
            var pod = new PodResources { Name = name, Namespace = ns };
            pod.Containers.Add(containerResources);
            response.PodResources.Add(pod);
        }

        return response;
    }
}
