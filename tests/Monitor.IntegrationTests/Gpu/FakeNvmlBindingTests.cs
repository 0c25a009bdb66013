using System.Runtime.InteropServices;
using System.Text;
using Monitor.Agent.Gpu.Nvml;

namespace Monitor.IntegrationTests.Gpu;

/// <summary>
/// The NVML binding against the C fake, through the real loader and the real <c>[LibraryImport]</c> stubs: values,
/// units, struct versions, a missing optional symbol and a lost GPU. Expected values are the fake's documented
/// formulas (tests/native/fake_nvml.c), computed here independently.
/// </summary>
public sealed unsafe class FakeNvmlBindingTests(FakeNvmlFixture fake) : IClassFixture<FakeNvmlFixture>
{
    private const ulong Total = 85520809984UL;
    private const ulong Reserved = 503316480UL;

    [Fact]
    public void Binding_ReadsEveryValueWithTheRightStructs()
    {
        Load();
        Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetCount(out var count));
        Assert.Equal(2u, count);

        for (var i = 0u; i < count; i++)
        {
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetHandleByIndex(i, out var device));
            Assert.Equal("NVIDIA H100 80GB HBM3", ReadString(device, NvmlNative.DeviceGetName, 96));
            Assert.Equal($"GPU-00000000-0000-0000-0000-{i:D12}", ReadString(device, NvmlNative.DeviceGetUuid, 96));

            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetUtilizationRates(device, out var utilization));
            Assert.Equal(10 * (i + 1), utilization.Gpu);
            Assert.Equal(5 * (i + 1), utilization.Memory);

            var used = (i + 1UL) << 30;
            var memory = new NvmlMemoryV2 { Version = NvmlMemoryV2.StructVersion };
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetMemoryInfoV2(device, ref memory));
            Assert.Equal(Total, memory.Total);
            Assert.Equal(Reserved, memory.Reserved);
            Assert.Equal(used, memory.Used);
            Assert.Equal(Total - Reserved - used, memory.Free);

            // v1 "used" includes the reserved memory; nvidia-smi and our gpu_memory_used_bytes use v2.
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetMemoryInfo(device, out var v1));
            Assert.Equal(used + Reserved, v1.Used);

            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetTemperature(device, 0, out var celsius));
            Assert.Equal(40 + i, celsius);
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetPowerUsage(device, out var milliwatts));
            Assert.Equal(100000 + (1000 * i), milliwatts);
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetTotalEnergyConsumption(device, out var millijoules));
            Assert.Equal(1000000UL * (i + 1), millijoules);
            Assert.Equal(NvmlReturn.NotSupported, NvmlNative.DeviceGetFanSpeed(device, out _));
        }
    }

    [Fact]
    public void MemoryV2_WrongVersion_IsFunctionNotFoundAsOnDriver580()
    {
        Load();
        Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetHandleByIndex(0, out var device));
        var memory = new NvmlMemoryV2 { Version = 0 };

        Assert.Equal(NvmlReturn.FunctionNotFound, NvmlNative.DeviceGetMemoryInfoV2(device, ref memory));
    }

    [Fact]
    public void ErrorString_IsNvmlsStaticText()
    {
        Load();

        Assert.Equal("GPU is lost", NvmlLibrary.ErrorString(NvmlReturn.GpuIsLost));
        Assert.Equal("GPU is lost", NvmlLibrary.ErrorString(NvmlReturn.GpuIsLost));
    }

    [Fact]
    public void OlderDriver_MissingOptionalSymbol_IsDetectedNotThrown()
    {
        Assert.True(NvmlLibrary.TryOpen(fake.WithoutMemoryV2, out var old, out var problem), problem);
        Assert.True(NvmlLibrary.TryOpen(fake.Current, out var current, out problem), problem);

        Assert.False(NativeLibrary.TryGetExport(old, "nvmlDeviceGetMemoryInfo_v2", out _));
        Assert.True(NativeLibrary.TryGetExport(old, "nvmlDeviceGetMemoryInfo", out _));
        Assert.True(NativeLibrary.TryGetExport(current, "nvmlDeviceGetMemoryInfo_v2", out _));
    }

    [Fact]
    public void LostGpu_OnlyThatDeviceFails()
    {
        Load();
        var set = (delegate* unmanaged<byte*, int, void>)NativeLibrary.GetExport(NativeLibrary.Load(fake.Current), "fake_nvml_set");
        var key = "lost\0"u8;
        try
        {
            fixed (byte* k = key)
            {
                set(k, 1);
            }

            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetHandleByIndex(0, out var healthy));
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetHandleByIndex(1, out var lost));
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetPowerUsage(healthy, out _));
            Assert.Equal(NvmlReturn.GpuIsLost, NvmlNative.DeviceGetPowerUsage(lost, out _));
        }
        finally
        {
            fixed (byte* k = key)
            {
                set(k, -2);
            }
        }
    }

    private void Load()
    {
        Assert.True(NvmlLibrary.TryLoad(fake.Current, out var problem), problem);
        Assert.True(NvmlLibrary.HasExport("nvmlDeviceGetMemoryInfo_v2"));
        Assert.Equal(NvmlReturn.Success, NvmlNative.Init());
    }

    private delegate NvmlReturn StringCall(nint device, byte* buffer, uint length);

    private static string ReadString(nint device, StringCall call, int size)
    {
        var buffer = new byte[size];
        fixed (byte* p = buffer)
        {
            Assert.Equal(NvmlReturn.Success, call(device, p, (uint)size));
        }

        return Encoding.ASCII.GetString(buffer, 0, Array.IndexOf(buffer, (byte)0));
    }
}
