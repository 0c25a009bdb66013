using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Agent.Collectors.Gpu;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Agent.Gpu;
using Monitor.Core.Exposition;
using Monitor.Testing;

namespace Monitor.Benchmarks.Gpu;

/// <summary>
/// One fast sampling tick of the gpu collector for 8 GPUs: through the real binding against the C fake library
/// (whose calls cost almost nothing, so this is the agent's own overhead plus the P/Invoke transitions), and against
/// the managed simulation. Divide by 8 for the per-GPU figure in docs/performance.md.
/// </summary>
[MemoryDiagnoser]
public class GpuTickBenchmarks
{
    private (MetricGroup Group, ICollector Collector) _native;
    private (MetricGroup Group, ICollector Collector) _simulated;
    private GpuDeviceSampler? _sampler;
    private NativeNvml? _nvml;
    private nint _gpu;
    private nint _earlier;
    private nint _later;
    private readonly (NvmlReturn, double)[] _gpmResults = new (NvmlReturn, double)[GpuCatalog.GpmIds.Length];

    [GlobalSetup]
    public void Setup()
    {
        var library = Path.Join(Path.GetTempPath(), $"monitor-bench-fake-nvml-{Environment.ProcessId}.so.1");
        using (var gcc = Process.Start("gcc", ["-shared", "-fPIC", "-O2", "-o", library, Fixtures.Path("..", "native", "fake_nvml.c")]))
        {
            gcc.WaitForExit();
        }

        _native = Create(new NativeNvml(), new Dictionary<string, string?> { ["nvml-library"] = library });
        _simulated = Create(new SimulatedNvml(8, TimeProvider.System), []);
        NativeTick();
        SimulatedTick();

        // One GPU's sampler on the calling thread: the NVML calls and the agent's work for one GPU, without the
        // hand-off to the device thread that a tick adds.
        _ = NvmlNative.DeviceGetHandleByIndex(0, out var handle);
        var nvml = new NativeNvml();
        _ = nvml.TryInitialize(library, out _);
        _sampler = new GpuDeviceSampler(nvml, TimeProvider.System, new GpuSamplerOptions(TimeSpan.FromSeconds(15), false, true), 0, handle, "580.159.04");
        NativeSampleOneGpu();

        _nvml = nvml;
        _gpu = handle;
        _ = nvml.GpmSampleAlloc(out _earlier);
        _ = nvml.GpmSampleAlloc(out _later);
        _ = nvml.GpmSample(handle, null, _earlier);
        NativeGpmInterval();
    }

    /// <summary>8 GPUs through the real P/Invoke path (the fake defaults to 2 GPUs; set FAKE_NVML_GPUS=8 for the run).</summary>
    [Benchmark]
    public void NativeTick() => Tick(_native);

    /// <summary>One GPU sampled directly through the real P/Invoke path, no thread hand-off.</summary>
    [Benchmark]
    public void NativeSampleOneGpu() => _sampler!.Execute();

    /// <summary>
    /// One GPM interval of one GPU through the real binding: a sample, then the 13 metrics between it and the previous
    /// one over the full 13.3-sized struct. The fake answers at once, so this is the agent's overhead per interval.
    /// </summary>
    [Benchmark]
    public void NativeGpmInterval()
    {
        _ = _nvml!.GpmSample(_gpu, null, _later);
        _ = _nvml.GpmMetrics(_earlier, _later, GpuCatalog.GpmIds, _gpmResults);
        (_earlier, _later) = (_later, _earlier);
    }

    /// <summary>8 simulated GPUs: the collector's managed overhead alone.</summary>
    [Benchmark]
    public void SimulatedTick() => Tick(_simulated);

    private static void Tick((MetricGroup Group, ICollector Collector) target)
    {
        target.Group.BeginUpdate();
        target.Collector.Update(CancellationToken.None);
        target.Group.EndUpdate();
    }

    private static (MetricGroup, ICollector) Create(INvml nvml, Dictionary<string, string?> settings)
    {
        var registry = new MetricRegistry();
        var group = new MetricGroup("gpu");
        registry.Register(group);
        var section = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(kv => new KeyValuePair<string, string?>($"Collectors:gpu:{kv.Key}", kv.Value)))
            .Build()
            .GetSection("Collectors:gpu");
        var context = new CollectorContext(group, HostPaths.Default, section, NullLogger.Instance, TimeProvider.System);
        return (group, new GpuCollector(context, nvml));
    }
}
