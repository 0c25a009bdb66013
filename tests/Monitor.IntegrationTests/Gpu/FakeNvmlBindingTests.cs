using System.Runtime.InteropServices;
using System.Text;
using Monitor.Agent.Gpu.Nvml;

namespace Monitor.IntegrationTests.Gpu;

/// <summary>
/// The NVML binding against the C fake, through the real loader and the real <c>[LibraryImport]</c> stubs: values,
/// units, struct versions, a missing optional symbol and a lost GPU, and <see cref="NativeNvml"/> (the agent's
/// <see cref="INvml"/>) for identity, retired pages, field values, process lists, process utilization, MIG, GPM
/// profiling metrics and a driver/library mismatch. Expected values are the fake's documented formulas (tests/native/fake_nvml.c),
/// computed here independently. Run-time settings go through the fake's <c>fake_nvml_set</c> export and are unset
/// again when each test ends.
/// </summary>
public sealed unsafe class FakeNvmlBindingTests(FakeNvmlFixture fake) : IClassFixture<FakeNvmlFixture>
{
    private const ulong Total = 85520809984UL;
    private const ulong Reserved = 503316480UL;
    private const ulong MiB = 1UL << 20;
    private const ulong GiB = 1UL << 30;

    /// <summary>fake_nvml_set's "unset this key" value.</summary>
    private const int Unset = int.MinValue;

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
        Assert.Equal("Not Found", NvmlLibrary.ErrorString(NvmlReturn.NotFound));
        Assert.Equal("Timeout", NvmlLibrary.ErrorString(NvmlReturn.Timeout));
        Assert.Equal("Driver/library version mismatch", NvmlLibrary.ErrorString(NvmlReturn.LibRmVersionMismatch));
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
        using (Control(("lost", 1)))
        {
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetHandleByIndex(0, out var healthy));
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetHandleByIndex(1, out var lost));
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetPowerUsage(healthy, out _));
            Assert.Equal(NvmlReturn.GpuIsLost, NvmlNative.DeviceGetPowerUsage(lost, out _));
        }
    }

    [Fact]
    public void Identity_TwoGpus_DriverSerialPciVbiosComputeCapabilityLimitsAndPcie()
    {
        var nvml = Initialize();
        Assert.Equal(NvmlReturn.Success, nvml.DriverVersion(out var driver));
        Assert.Equal("580.159.04", driver);

        // A buffer too small for "580.159.04" + NUL is INSUFFICIENT_SIZE.
        var small = stackalloc byte[10];
        Assert.Equal(NvmlReturn.InsufficientSize, NvmlNative.SystemGetDriverVersion(small, 10));

        for (var i = 0u; i < 2; i++)
        {
            var device = Handle(nvml, i);
            var bus = 0x17 + i;

            Assert.Equal(NvmlReturn.Success, nvml.Serial(device, out var serial));
            Assert.Equal($"1654322{i:D6}", serial);
            Assert.Equal(NvmlReturn.Success, nvml.PciBusId(device, out var busId));
            Assert.Equal($"00000000:{bus:X2}:00.0", busId);
            Assert.Equal(NvmlReturn.Success, nvml.VbiosVersion(device, out var vbios));
            Assert.Equal("96.00.74.00.01", vbios);
            Assert.Equal(NvmlReturn.Success, nvml.ComputeCapability(device, out var major, out var minor));
            Assert.Equal((9, 0), (major, minor));
            Assert.Equal(NvmlReturn.Success, nvml.PowerLimit(device, out var limit));
            Assert.Equal(700000u, limit);
            Assert.Equal(NvmlReturn.Success, nvml.MaxPcieLink(device, out var generation, out var width));
            Assert.Equal((5u, 16u), (generation, width));
            Assert.Equal(NvmlReturn.Success, nvml.PcieThroughput(device, 0, out var transmit));
            Assert.Equal(1000 * (i + 1), transmit);
            Assert.Equal(NvmlReturn.Success, nvml.PcieThroughput(device, 1, out var receive));
            Assert.Equal(2000 * (i + 1), receive);
            Assert.Equal(NvmlReturn.InvalidArgument, nvml.PcieThroughput(device, 2, out _));

            // The rest of the 68-byte nvmlPciInfo_t, read raw.
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetPciInfo(device, out var pci));
            Assert.Equal($"0000:{bus:X2}:00.0", Encoding.ASCII.GetString(pci.BusIdLegacy, new ReadOnlySpan<byte>(pci.BusIdLegacy, 16).IndexOf((byte)0)));
            Assert.Equal(0u, pci.Domain);
            Assert.Equal(bus, pci.Bus);
            Assert.Equal(0u, pci.Device);
            Assert.Equal(0x233010DEu, pci.PciDeviceId);
            Assert.Equal(0x16C110DEu, pci.PciSubSystemId);
        }
    }

    [Fact]
    public void PcieThroughput_BlocksLikeTheRealCall()
    {
        var nvml = Initialize();
        var device = Handle(nvml, 0);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        Assert.Equal(NvmlReturn.Success, nvml.PcieThroughput(device, 0, out _));

        Assert.True(watch.ElapsedMilliseconds >= 19, $"took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void RetiredPages_NotSupportedOnGpu0_CountsAndPendingOnOthers()
    {
        var nvml = Initialize();
        using (Control(("gpus", 3)))
        {
            var gpu0 = Handle(nvml, 0);
            Assert.Equal(NvmlReturn.NotSupported, nvml.RetiredPages(gpu0, 0, out _));
            Assert.Equal(NvmlReturn.NotSupported, nvml.RetiredPagesPending(gpu0, out _));

            var gpu1 = Handle(nvml, 1);
            Assert.Equal(NvmlReturn.Success, nvml.RetiredPages(gpu1, 0, out var singleBit));
            Assert.Equal(1u, singleBit);
            Assert.Equal(NvmlReturn.Success, nvml.RetiredPages(gpu1, 1, out var doubleBit));
            Assert.Equal(0u, doubleBit);
            Assert.Equal(NvmlReturn.Success, nvml.RetiredPagesPending(gpu1, out var pending));
            Assert.True(pending);

            var gpu2 = Handle(nvml, 2);
            Assert.Equal(NvmlReturn.Success, nvml.RetiredPages(gpu2, 0, out var two));
            Assert.Equal(2u, two);
            Assert.Equal(NvmlReturn.Success, nvml.RetiredPagesPending(gpu2, out pending));
            Assert.False(pending);

            // The raw protocol: a size query answers INSUFFICIENT_SIZE with the count; a big enough buffer gets the addresses.
            var count = 0u;
            Assert.Equal(NvmlReturn.InsufficientSize, NvmlNative.DeviceGetRetiredPages(gpu2, 0, ref count, null));
            Assert.Equal(2u, count);
            var addresses = stackalloc ulong[4];
            count = 4;
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetRetiredPages(gpu2, 0, ref count, addresses));
            Assert.Equal(2u, count);
            Assert.Equal((2UL << 32) | 0x1000, addresses[0]);
            Assert.Equal((2UL << 32) | 0x2000, addresses[1]);
            count = 0;
            Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetRetiredPages(gpu2, 1, ref count, null));
            Assert.Equal(0u, count);
        }
    }

    [Fact]
    public void FieldValues_ValuesTypesPerEntryResultsAndTheUnwrittenField()
    {
        var nvml = Initialize();
        using (Control(("recovery", 2)))
        {
            for (var i = 0u; i < 2; i++)
            {
                var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
                Span<NvmlFieldValue> values =
                [
                    Field(NvmlFields.MemoryTemperature),
                    Field(NvmlFields.RecoveryAction),
                    Field(NvmlFields.NvLinkCount),
                    Field(NvmlFields.NvLinkState, 0),
                    Field(NvmlFields.NvLinkState, 3),
                    Field(NvmlFields.NvLinkState, 4),
                    Field(NvmlFields.NvLinkTransmitKib, NvmlFields.AllLinks),
                    Field(NvmlFields.NvLinkReceiveKib, NvmlFields.AllLinks),
                    Field(NvmlFields.NvLinkCrcFlitErrors),
                    Field(NvmlFields.NvLinkCrcDataErrors),
                    Field(NvmlFields.NvLinkReplayErrors),
                    Field(NvmlFields.NvLinkRecoveryErrors),
                    Field(147),
                    Field(100000),
                ];

                Assert.Equal(NvmlReturn.Success, nvml.FieldValues(Handle(nvml, i), values));

                AssertUInt(values[0], 50 + i);
                AssertUInt(values[1], 2);
                AssertUInt(values[2], 4);
                AssertUInt(values[3], 1);
                AssertUInt(values[4], i == 1 ? 0u : 1u);
                Assert.Equal((int)NvmlReturn.InvalidArgument, values[5].NvmlReturn);
                AssertULong(values[6], 1000UL * (i + 1));
                AssertULong(values[7], 2000UL * (i + 1));
                AssertULong(values[8], i);
                AssertULong(values[9], 0);
                AssertULong(values[10], 2UL * i);
                AssertULong(values[11], 0);

                // Field 147 is never written (driver 580): the binding's sentinels stay.
                Assert.Equal((int)NvmlReturn.Unknown, values[12].NvmlReturn);
                Assert.Equal(0, values[12].Timestamp);
                Assert.Equal((int)NvmlReturn.InvalidArgument, values[13].NvmlReturn);

                var after = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1) * 1000;
                Assert.InRange(values[0].Timestamp, before, after);
            }
        }
    }

    [Fact]
    public void FieldValues_NoNvLink_NvLinkFieldsNotSupportedOthersRead()
    {
        var nvml = Initialize();
        using (Control(("nvlinks", 0)))
        {
            Span<NvmlFieldValue> values =
            [
                Field(NvmlFields.NvLinkCount),
                Field(NvmlFields.NvLinkState, 0),
                Field(NvmlFields.NvLinkTransmitKib, NvmlFields.AllLinks),
                Field(NvmlFields.NvLinkReplayErrors),
                Field(NvmlFields.MemoryTemperature),
                Field(NvmlFields.RecoveryAction),
            ];

            Assert.Equal(NvmlReturn.Success, nvml.FieldValues(Handle(nvml, 1), values));

            for (var k = 0; k < 4; k++)
            {
                Assert.Equal((int)NvmlReturn.NotSupported, values[k].NvmlReturn);
            }

            AssertUInt(values[4], 51);
            AssertUInt(values[5], 0);
        }
    }

    [Fact]
    public void ComputeProcesses_Defaults_PidsBytesAndNoMigIds()
    {
        var nvml = Initialize();
        var processes = new List<NvmlProcessInfo>();

        for (var i = 0u; i < 2; i++)
        {
            Assert.Equal(NvmlReturn.Success, nvml.ComputeProcesses(Handle(nvml, i), processes));

            Assert.Equal((int)i + 1, processes.Count);
            for (var k = 0u; k <= i; k++)
            {
                Assert.Equal((1000 * (i + 1)) + k, processes[(int)k].Pid);
                Assert.Equal((k + 1) * 256 * MiB, processes[(int)k].UsedGpuMemory);
                Assert.Equal(uint.MaxValue, processes[(int)k].GpuInstanceId);
                Assert.Equal(uint.MaxValue, processes[(int)k].ComputeInstanceId);
            }
        }

        // GPU 1, spelled out: two processes.
        Assert.Equal([2000u, 2001u], processes.Select(p => p.Pid));
        Assert.Equal([268435456UL, 536870912UL], processes.Select(p => p.UsedGpuMemory));
    }

    [Fact]
    public void ComputeProcesses_MoreThanTheFirstBuffer_RetriedAfterInsufficientSize()
    {
        var nvml = Initialize();
        using (Control(("processes", 40)))
        {
            var device = Handle(nvml, 0);

            // The raw protocol: a short buffer gets the count and not one byte written.
            var buffer = new byte[16 * NvmlProcessList.MaxStride];
            buffer.AsSpan().Fill(NvmlProcessList.Sentinel);
            var count = 16u;
            fixed (byte* pointer = buffer)
            {
                Assert.Equal(NvmlReturn.InsufficientSize, NvmlNative.DeviceGetComputeRunningProcesses(device, ref count, pointer));
            }

            Assert.Equal(40u, count);
            Assert.True(buffer.AsSpan().IndexOfAnyExcept(NvmlProcessList.Sentinel) < 0);
            count = 0;
            Assert.Equal(NvmlReturn.InsufficientSize, NvmlNative.DeviceGetComputeRunningProcesses(device, ref count, null));
            Assert.Equal(40u, count);

            // NativeNvml's per-thread buffer starts at 16 entries: on a fresh thread this is INSUFFICIENT_SIZE, then a retry.
            var (result, processes) = OnFreshThread(() =>
            {
                var list = new List<NvmlProcessInfo>();
                return (nvml.ComputeProcesses(device, list), list);
            });

            Assert.Equal(NvmlReturn.Success, result);
            Assert.Equal(Enumerable.Range(0, 40).Select(k => 1000u + (uint)k), processes.Select(p => p.Pid));
            Assert.Equal(Enumerable.Range(0, 40).Select(k => (ulong)(k + 1) * 256 * MiB), processes.Select(p => p.UsedGpuMemory));
        }
    }

    [Fact]
    public void ComputeProcesses_R535ThirtyTwoByteEntries_ParsedByTheWrittenStride()
    {
        var nvml = Initialize();
        using (Control(("process_stride", 32), ("processes", 20)))
        {
            // The raw entries really are 32 bytes apart.
            var buffer = new byte[4 * NvmlProcessList.MaxStride];
            buffer.AsSpan().Fill(NvmlProcessList.Sentinel);
            var count = 4u;
            fixed (byte* pointer = buffer)
            {
                Assert.Equal(NvmlReturn.Success, NvmlNative.DeviceGetComputeRunningProcesses(Handle(nvml, 1), ref count, pointer));
            }

            Assert.Equal(2u, count);
            Assert.Equal(2001u, BitConverter.ToUInt32(buffer, 32));
            Assert.Equal(0UL, BitConverter.ToUInt64(buffer, 56));
            Assert.Equal(32, NvmlProcessList.StrideOf(buffer, 2));

            var processes = new List<NvmlProcessInfo>();
            Assert.Equal(NvmlReturn.Success, nvml.ComputeProcesses(Handle(nvml, 1), processes));
            Assert.Equal([2000u, 2001u], processes.Select(p => p.Pid));
            Assert.Equal([256 * MiB, 512 * MiB], processes.Select(p => p.UsedGpuMemory));
            Assert.All(processes, p => Assert.Equal((uint.MaxValue, uint.MaxValue), (p.GpuInstanceId, p.ComputeInstanceId)));

            // With more than the first buffer too (INSUFFICIENT_SIZE, retry, then 32-byte entries).
            var (result, many) = OnFreshThread(() =>
            {
                var list = new List<NvmlProcessInfo>();
                return (nvml.ComputeProcesses(Handle(nvml, 0), list), list);
            });
            Assert.Equal(NvmlReturn.Success, result);
            Assert.Equal(Enumerable.Range(0, 20).Select(k => 1000u + (uint)k), many.Select(p => p.Pid));
            Assert.Equal(20 * 256 * MiB, many[19].UsedGpuMemory);
        }
    }

    [Fact]
    public void ComputeProcesses_None_IsSuccessAndEmpty()
    {
        var nvml = Initialize();
        using (Control(("processes", 0)))
        {
            var processes = new List<NvmlProcessInfo> { default };

            Assert.Equal(NvmlReturn.Success, nvml.ComputeProcesses(Handle(nvml, 0), processes));

            Assert.Empty(processes);
        }
    }

    [Fact]
    public void ProcessUtilization_SizedToTheDriverBuffer_PerPidValues_LastSeenFilters()
    {
        var nvml = Initialize();
        var device = Handle(nvml, 1);

        // The raw sizing protocol: a null buffer or fewer than 72 entries answers 72.
        var count = 0u;
        Assert.Equal(NvmlReturn.InsufficientSize, NvmlNative.DeviceGetProcessUtilization(device, null, ref count, 0));
        Assert.Equal(72u, count);
        var small = stackalloc NvmlProcessUtilizationSample[71];
        count = 71;
        Assert.Equal(NvmlReturn.InsufficientSize, NvmlNative.DeviceGetProcessUtilization(device, small, ref count, 0));
        Assert.Equal(72u, count);

        // NativeNvml starts with an 8-entry buffer per thread: on a fresh thread it handles the sizing itself.
        var before = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        var (result, samples) = OnFreshThread(() =>
        {
            var list = new List<NvmlProcessUtilizationSample>();
            return (nvml.ProcessUtilization(device, 0, list), list);
        });
        var after = ((ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1) * 1000;

        Assert.Equal(NvmlReturn.Success, result);
        Assert.Equal([2000u, 2001u], samples.Select(s => s.Pid));
        Assert.Equal([10u, 20u], samples.Select(s => s.SmUtil));
        Assert.Equal([5u, 10u], samples.Select(s => s.MemUtil));
        Assert.All(samples, s => Assert.Equal((0u, 0u), (s.EncUtil, s.DecUtil)));
        Assert.All(samples, s => Assert.InRange(s.TimeStamp, before, after));

        // Samples no newer than lastSeen are not returned: NOT_FOUND, nothing listed.
        var future = after + 3_600_000_000UL;
        var none = new List<NvmlProcessUtilizationSample> { default };
        var filtered = nvml.ProcessUtilization(device, future, none);
        Assert.True(filtered is NvmlReturn.NotFound or NvmlReturn.Success, filtered.ToString());
        Assert.Empty(none);
    }

    [Fact]
    public void Mig_ModeDevicesIdsUuidsMemoryAndUnsupportedUtilization()
    {
        var nvml = Initialize();
        using (Control(("mig", 1)))
        {
            var gpu0 = Handle(nvml, 0);
            var gpu1 = Handle(nvml, 1);
            Assert.Equal(NvmlReturn.Success, nvml.MigMode(gpu0, out var mode0));
            Assert.Equal(0u, mode0);
            Assert.Equal(NvmlReturn.Success, nvml.MigMode(gpu1, out var mode1));
            Assert.Equal(1u, mode1);

            var none = new List<NvmlMigDevice>();
            Assert.Equal(NvmlReturn.Success, nvml.MigDevices(gpu0, none));
            Assert.Empty(none);

            var migs = new List<NvmlMigDevice>();
            Assert.Equal(NvmlReturn.Success, nvml.MigDevices(gpu1, migs));
            Assert.Equal([1u, 2u], migs.Select(m => m.GpuInstanceId));
            Assert.All(migs, m => Assert.Equal(0u, m.ComputeInstanceId));
            Assert.Equal(["MIG-00000000-0000-0000-0000-000000000001", "MIG-00000000-0000-0000-0000-000000000002"], migs.Select(m => m.Uuid));
            Assert.Equal(4, new[] { gpu0, gpu1, migs[0].Handle, migs[1].Handle }.Distinct().Count());

            foreach (var mig in migs)
            {
                var gi = (ulong)mig.GpuInstanceId;
                Assert.Equal(NvmlReturn.Success, nvml.Memory(mig.Handle, out var total, out var used, out var free, out var reserved));
                Assert.Equal(gi * 10 * GiB, total);
                Assert.Equal(gi * GiB, used);
                Assert.Equal(0UL, reserved);
                Assert.Equal((gi * 10 * GiB) - (gi * GiB), free);
                Assert.Equal(NvmlReturn.NotSupported, nvml.Utilization(mig.Handle, out _));
            }

            // NVML documents these as unsupported on a MIG-enabled GPU; the other GPU still answers.
            Assert.Equal(NvmlReturn.NotSupported, nvml.Utilization(gpu1, out _));
            Assert.Equal(NvmlReturn.NotSupported, nvml.CodecUtilization(gpu1, decoder: false, out _));
            Assert.Equal(NvmlReturn.NotSupported, nvml.CodecUtilization(gpu1, decoder: true, out _));
            Assert.Equal(NvmlReturn.NotSupported, nvml.RemappedRows(gpu1, out _, out _, out _, out _));
            Assert.Equal(NvmlReturn.NotSupported, nvml.ProcessUtilization(gpu1, 0, []));
            Assert.Equal(NvmlReturn.Success, nvml.Utilization(gpu0, out var utilization));
            Assert.Equal(10u, utilization.Gpu);

            // Processes on the MIG GPU carry their instance ids: process k in gpu instance 1 + k % 2, compute instance 0.
            var processes = new List<NvmlProcessInfo>();
            Assert.Equal(NvmlReturn.Success, nvml.ComputeProcesses(gpu1, processes));
            Assert.Equal([(2000u, 1u, 0u), (2001u, 2u, 0u)], processes.Select(p => (p.Pid, p.GpuInstanceId, p.ComputeInstanceId)));

            // The raw calls: instance ids on a GPU handle are INVALID_ARGUMENT, an empty slot NOT_FOUND.
            Assert.Equal(NvmlReturn.InvalidArgument, NvmlNative.DeviceGetGpuInstanceId(gpu1, out _));
            Assert.Equal(NvmlReturn.NotFound, NvmlNative.DeviceGetMigDeviceHandleByIndex(gpu1, 2, out _));
            Assert.Equal(NvmlReturn.NotFound, NvmlNative.DeviceGetMigDeviceHandleByIndex(gpu0, 0, out _));
        }
    }

    [Fact]
    public void Mismatch_CountAndInitFailWith18_ThenRecover()
    {
        var nvml = Initialize();
        var device = Handle(nvml, 0);
        var shutDown = false;
        using (Control(("mismatch", 1)))
        {
            try
            {
                Assert.Equal(NvmlReturn.LibRmVersionMismatch, nvml.DeviceCount(out _));
                Assert.Equal(NvmlReturn.LibRmVersionMismatch, nvml.DeviceHandle(0, out _));
                Assert.Equal(NvmlReturn.LibRmVersionMismatch, nvml.PowerUsage(device, out _));
                Assert.Equal("Driver/library version mismatch", nvml.ErrorString(NvmlReturn.LibRmVersionMismatch));

                Assert.Equal(NvmlReturn.Success, nvml.Shutdown());
                shutDown = true;
                Assert.Equal(NvmlReturn.LibRmVersionMismatch, NvmlNative.Init());
                Assert.False(new NativeNvml().TryInitialize(fake.Current, out var problem));
                Assert.Contains("(18)", problem, StringComparison.Ordinal);

                SetControl("mismatch", 0);
                Assert.Equal(NvmlReturn.Success, NvmlNative.Init());
                shutDown = false;
            }
            finally
            {
                if (shutDown)
                {
                    SetControl("mismatch", Unset);
                    _ = NvmlNative.Init();
                }
            }
        }

        Assert.Equal(NvmlReturn.Success, nvml.DeviceCount(out var count));
        Assert.Equal(2u, count);
        Assert.Equal(NvmlReturn.Success, nvml.PowerUsage(Handle(nvml, 1), out var milliwatts));
        Assert.Equal(101000u, milliwatts);
    }

    [Fact]
    public void Hang_BlocksOnlyThatGpuUntilReleased()
    {
        var nvml = Initialize();
        var gpu0 = Handle(nvml, 0);
        var gpu1 = Handle(nvml, 1);
        using (Control(("hang", 1)))
        {
            var (result, milliwatts) = (NvmlReturn.Unknown, 0u);
            var hung = new Thread(() => result = nvml.PowerUsage(gpu1, out milliwatts));
            hung.Start();

            Assert.False(hung.Join(200));
            Assert.Equal(NvmlReturn.Success, nvml.PowerUsage(gpu0, out var healthy));
            Assert.Equal(100000u, healthy);
            Assert.Equal(NvmlReturn.Success, nvml.DeviceCount(out _));

            SetControl("hang", Unset);
            Assert.True(hung.Join(5000));
            Assert.Equal((NvmlReturn.Success, 101000u), (result, milliwatts));
        }
    }

    [Fact]
    public void Gpm_SupportedOnBothGpus_NotOnAPreHopperBoard()
    {
        var nvml = Initialize();
        for (var i = 0u; i < 2; i++)
        {
            Assert.Equal(NvmlReturn.Success, nvml.GpmSupported(Handle(nvml, i), out var supported));
            Assert.True(supported, $"GPU {i}");
        }

        // The raw struct: version 1 only.
        var support = new NvmlGpmSupport { Version = 2 };
        Assert.Equal(NvmlReturn.ArgumentVersionMismatch, NvmlNative.GpmQueryDeviceSupport(Handle(nvml, 0), ref support));
        support = new NvmlGpmSupport { Version = 1 };
        Assert.Equal(NvmlReturn.Success, NvmlNative.GpmQueryDeviceSupport(Handle(nvml, 0), ref support));
        Assert.Equal(1u, support.IsSupportedDevice);

        using (Control(("gpm_unsupported", 1)))
        {
            Assert.Equal(NvmlReturn.Success, nvml.GpmSupported(Handle(nvml, 0), out var gpu0));
            Assert.True(gpu0);
            Assert.Equal(NvmlReturn.Success, nvml.GpmSupported(Handle(nvml, 1), out var gpu1));
            Assert.False(gpu1);

            // Sampling an unsupported board is NOT_SUPPORTED.
            var sample = AllocSample(nvml);
            try
            {
                Assert.Equal(NvmlReturn.NotSupported, nvml.GpmSample(Handle(nvml, 1), null, sample));
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(Handle(nvml, 0), null, sample));
            }
            finally
            {
                Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(sample));
            }
        }
    }

    [Fact]
    public void Gpm_MetricsBetweenTwoSamples_ExactValuesPerGpu()
    {
        var nvml = Initialize();
        var (earlier, later) = (AllocSample(nvml), AllocSample(nvml));
        try
        {
            for (var i = 0u; i < 2; i++)
            {
                var device = Handle(nvml, i);
                var before = GpmSampleCalls();
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(device, null, earlier));
                Thread.Sleep(5);
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(device, null, later));
                Assert.Equal(before + 2, GpmSampleCalls());

                var results = new (NvmlReturn Result, double Value)[GpmIds.Length];
                Assert.Equal(NvmlReturn.Success, nvml.GpmMetrics(earlier, later, GpmIds, results));

                Assert.Equal(GpmIds.Select(id => (NvmlReturn.Success, GpmExpected(id, i))), results);
            }

            // GPU 1, spelled out: graphics 51, SM 41, PCIe TX 101 MiB/s, NVLink TX 401 MiB/s.
            Assert.Equal(
                [(NvmlReturn.Success, 51.0), (NvmlReturn.Success, 41.0), (NvmlReturn.Success, 101.0), (NvmlReturn.Success, 401.0)],
                Metrics(nvml, earlier, later, NvmlGpm.GraphicsUtil, NvmlGpm.SmUtil, NvmlGpm.PcieTransmit, NvmlGpm.NvLinkTransmit));

            // An id the fake does not model: only that entry is INVALID_ARGUMENT.
            Assert.Equal(
                [(NvmlReturn.Success, 51.0), (NvmlReturn.InvalidArgument, 0.0)],
                Metrics(nvml, earlier, later, NvmlGpm.GraphicsUtil, 6));
        }
        finally
        {
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(earlier));
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(later));
        }
    }

    [Fact]
    public void Gpm_RawStruct_StaticNamesVersionAndMetricCountChecked()
    {
        var nvml = Initialize();
        var (earlier, later) = (AllocSample(nvml), AllocSample(nvml));
        try
        {
            var device = Handle(nvml, 0);
            Assert.Equal(NvmlReturn.Success, nvml.GpmSample(device, null, earlier));
            Assert.Equal(NvmlReturn.Success, nvml.GpmSample(device, null, later));

            var buffer = new byte[NvmlGpm.MetricsGetSize];
            fixed (byte* pointer = buffer)
            {
                var header = (NvmlGpmMetricsGetHeader*)pointer;
                var metrics = (NvmlGpmMetric*)(pointer + NvmlGpm.MetricsOffset);
                *header = new NvmlGpmMetricsGetHeader { Version = 1, NumMetrics = 2, Sample1 = earlier, Sample2 = later };
                metrics[0].MetricId = NvmlGpm.DramBandwidthUtil;
                metrics[1].MetricId = NvmlGpm.PcieReceive;
                metrics[2].MetricId = NvmlGpm.GraphicsUtil;
                metrics[2].NvmlReturn = 12345;

                Assert.Equal(NvmlReturn.Success, NvmlNative.GpmMetricsGet(pointer));
                Assert.Equal((0, 20.0), (metrics[0].NvmlReturn, metrics[0].Value));
                Assert.Equal((0, 200.0), (metrics[1].NvmlReturn, metrics[1].Value));
                Assert.Equal("%", Marshal.PtrToStringUTF8(metrics[0].Unit));
                Assert.Equal("MiB/s", Marshal.PtrToStringUTF8(metrics[1].Unit));
                Assert.False(string.IsNullOrEmpty(Marshal.PtrToStringUTF8(metrics[1].ShortName)));
                Assert.False(string.IsNullOrEmpty(Marshal.PtrToStringUTF8(metrics[1].LongName)));

                // Only numMetrics entries are written.
                Assert.Equal(12345, metrics[2].NvmlReturn);

                // Version 1 only; at most NVML_GPM_METRIC_MAX metrics.
                header->Version = 2;
                Assert.Equal(NvmlReturn.ArgumentVersionMismatch, NvmlNative.GpmMetricsGet(pointer));
                header->Version = 1;
                header->NumMetrics = NvmlGpm.MetricMax + 1;
                Assert.Equal(NvmlReturn.InvalidArgument, NvmlNative.GpmMetricsGet(pointer));
                header->NumMetrics = NvmlGpm.MetricMax;
                Assert.Equal(NvmlReturn.Success, NvmlNative.GpmMetricsGet(pointer));
                header->Sample2 = 0;
                Assert.Equal(NvmlReturn.InvalidArgument, NvmlNative.GpmMetricsGet(pointer));
            }
        }
        finally
        {
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(earlier));
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(later));
        }
    }

    [Fact]
    public void Gpm_BadMetric_OnlyThatEntryNotSupported()
    {
        var nvml = Initialize();
        var (earlier, later) = (AllocSample(nvml), AllocSample(nvml));
        try
        {
            using (Control(("gpm_bad_metric", 5)))
            {
                var device = Handle(nvml, 1);
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(device, null, earlier));
                Thread.Sleep(2);
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(device, null, later));

                var results = new (NvmlReturn Result, double Value)[GpmIds.Length];
                Assert.Equal(NvmlReturn.Success, nvml.GpmMetrics(earlier, later, GpmIds, results));

                Assert.Equal(
                    GpmIds.Select(id => id == NvmlGpm.AnyTensorUtil ? (NvmlReturn.NotSupported, 0.0) : (NvmlReturn.Success, GpmExpected(id, 1))),
                    results);
            }
        }
        finally
        {
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(earlier));
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(later));
        }
    }

    [Fact]
    public void Gpm_ReversedOrMismatchedSamples_AreInvalidArgument()
    {
        var nvml = Initialize();
        var (earlier, later, other) = (AllocSample(nvml), AllocSample(nvml), AllocSample(nvml));
        try
        {
            var device = Handle(nvml, 1);
            Assert.Equal(NvmlReturn.Success, nvml.GpmSample(device, null, earlier));
            Thread.Sleep(2);
            Assert.Equal(NvmlReturn.Success, nvml.GpmSample(device, null, later));
            Assert.Equal(NvmlReturn.Success, nvml.GpmSample(Handle(nvml, 0), null, other));

            var results = new (NvmlReturn Result, double Value)[GpmIds.Length];
            Assert.Equal(NvmlReturn.InvalidArgument, nvml.GpmMetrics(later, earlier, GpmIds, results));
            Assert.All(results, r => Assert.Equal(NvmlReturn.InvalidArgument, r.Result));
            Assert.All(results, r => Assert.True(double.IsNaN(r.Value)));

            // The same sample twice, or samples of two GPUs.
            Assert.Equal(NvmlReturn.InvalidArgument, nvml.GpmMetrics(earlier, earlier, GpmIds, results));
            Assert.Equal(NvmlReturn.InvalidArgument, nvml.GpmMetrics(other, later, GpmIds, results));

            // The right order still works.
            Assert.Equal(NvmlReturn.Success, nvml.GpmMetrics(earlier, later, GpmIds, results));
            Assert.Equal((NvmlReturn.Success, 51.0), results[0]);
        }
        finally
        {
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(earlier));
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(later));
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(other));
        }
    }

    [Fact]
    public void Gpm_MigInstanceSamples_ValuesOfTheInstance()
    {
        var nvml = Initialize();
        var (earlier, later, whole) = (AllocSample(nvml), AllocSample(nvml), AllocSample(nvml));
        try
        {
            using (Control(("mig", 1)))
            {
                var gpu0 = Handle(nvml, 0);
                var gpu1 = Handle(nvml, 1);
                var before = GpmSampleCalls();
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(gpu1, 2, earlier));
                Thread.Sleep(5);
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(gpu1, 2, later));
                Assert.Equal(before + 2, GpmSampleCalls());

                var results = new (NvmlReturn Result, double Value)[GpmIds.Length];
                Assert.Equal(NvmlReturn.Success, nvml.GpmMetrics(earlier, later, GpmIds, results));
                Assert.Equal((NvmlReturn.Success, 70.0), results[0]);
                Assert.Equal(GpmIds.Select(id => (NvmlReturn.Success, GpmExpected(id, 20))), results);

                // Instance 1 after instance 2: different instances, INVALID_ARGUMENT; two instance-1 samples read 50 + 10.
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(gpu1, 1, earlier));
                Assert.Equal(NvmlReturn.InvalidArgument, nvml.GpmMetrics(later, earlier, GpmIds, results));
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(gpu1, 1, later));
                Assert.Equal(NvmlReturn.Success, nvml.GpmMetrics(earlier, later, GpmIds, results));
                Assert.Equal((NvmlReturn.Success, 60.0), results[0]);

                // The non-MIG GPU has no instances; the MIG GPU only instances 1 and 2.
                Assert.Equal(NvmlReturn.NotSupported, nvml.GpmSample(gpu0, 1, whole));
                Assert.Equal(NvmlReturn.InvalidArgument, nvml.GpmSample(gpu1, 3, whole));
                Assert.Equal(NvmlReturn.InvalidArgument, nvml.GpmSample(gpu1, 0, whole));

                // A whole-GPU sample and an instance sample do not pair.
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(gpu1, null, whole));
                Assert.Equal(NvmlReturn.InvalidArgument, nvml.GpmMetrics(later, whole, GpmIds, results));
            }
        }
        finally
        {
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(earlier));
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(later));
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(whole));
        }
    }

    [Fact]
    public void Gpm_LostGpu_SampleFailsOnlyThere()
    {
        var nvml = Initialize();
        var sample = AllocSample(nvml);
        try
        {
            using (Control(("lost", 1)))
            {
                Assert.Equal(NvmlReturn.GpuIsLost, nvml.GpmSample(Handle(nvml, 1), null, sample));
                Assert.Equal(NvmlReturn.GpuIsLost, nvml.GpmSupported(Handle(nvml, 1), out var supported));
                Assert.False(supported);
                Assert.Equal(NvmlReturn.Success, nvml.GpmSample(Handle(nvml, 0), null, sample));
            }
        }
        finally
        {
            Assert.Equal(NvmlReturn.Success, nvml.GpmSampleFree(sample));
        }

        Assert.Equal(NvmlReturn.InvalidArgument, NvmlNative.GpmSampleFree(0));
    }

    [Fact]
    public void Gpm_OlderDriverWithoutGpm_ExportsNoGpmSymbol()
    {
        // Opened for its exports only: one process loads one NVML path, so the agent against it runs out of process.
        Assert.True(NvmlLibrary.TryOpen(fake.WithoutGpm, out var old, out var problem), problem);
        Assert.True(NvmlLibrary.TryOpen(fake.Current, out var current, out problem), problem);

        foreach (var name in new[] { "nvmlGpmQueryDeviceSupport", "nvmlGpmSampleAlloc", "nvmlGpmSampleFree", "nvmlGpmSampleGet", "nvmlGpmMigSampleGet", "nvmlGpmMetricsGet" })
        {
            Assert.False(NativeLibrary.TryGetExport(old, name, out _), name);
            Assert.True(NativeLibrary.TryGetExport(current, name, out _), name);
        }

        Assert.True(NativeLibrary.TryGetExport(old, "nvmlDeviceGetMemoryInfo_v2", out _));
    }

    /// <summary>The 13 GPM metrics the fake scripts.</summary>
    private static readonly uint[] GpmIds =
    [
        NvmlGpm.GraphicsUtil, NvmlGpm.SmUtil, NvmlGpm.SmOccupancy, NvmlGpm.IntegerUtil, NvmlGpm.AnyTensorUtil,
        NvmlGpm.DramBandwidthUtil, NvmlGpm.Fp64Util, NvmlGpm.Fp32Util, NvmlGpm.Fp16Util,
        NvmlGpm.PcieTransmit, NvmlGpm.PcieReceive, NvmlGpm.NvLinkReceive, NvmlGpm.NvLinkTransmit,
    ];

    /// <summary>The fake's GPM formula: a base per metric plus k (the GPU index, or 10 × the gpu instance id).</summary>
    private static double GpmExpected(uint id, uint k) => k + id switch
    {
        1 => 50,
        2 => 40,
        3 => 10,
        4 => 1,
        5 => 30,
        10 => 20,
        11 => 2,
        12 => 3,
        13 => 4,
        20 => 100,
        21 => 200,
        60 => 300,
        61 => 400,
        _ => throw new ArgumentOutOfRangeException(nameof(id)),
    };

    private static nint AllocSample(NativeNvml nvml)
    {
        Assert.Equal(NvmlReturn.Success, nvml.GpmSampleAlloc(out var sample));
        Assert.NotEqual(0, sample);
        return sample;
    }

    private static (NvmlReturn Result, double Value)[] Metrics(NativeNvml nvml, nint earlier, nint later, params uint[] ids)
    {
        var results = new (NvmlReturn Result, double Value)[ids.Length];
        Assert.Equal(NvmlReturn.Success, nvml.GpmMetrics(earlier, later, ids, results));
        return results;
    }

    /// <summary><c>fake_nvml_gpm_samples()</c>: the fake's count of GPM sample calls.</summary>
    private int GpmSampleCalls()
    {
        var count = (delegate* unmanaged<int>)NativeLibrary.GetExport(NativeLibrary.Load(fake.Current), "fake_nvml_gpm_samples");
        return count();
    }

    private void Load()
    {
        Assert.True(NvmlLibrary.TryLoad(fake.Current, out var problem), problem);
        Assert.True(NvmlLibrary.HasExport("nvmlDeviceGetMemoryInfo_v2"));
        Assert.Equal(NvmlReturn.Success, NvmlNative.Init());
    }

    /// <summary>The agent's own <see cref="INvml"/>, loaded with the fake and initialized.</summary>
    private NativeNvml Initialize()
    {
        var nvml = new NativeNvml();
        Assert.True(nvml.TryInitialize(fake.Current, out var problem), problem);
        return nvml;
    }

    private static nint Handle(NativeNvml nvml, uint index)
    {
        Assert.Equal(NvmlReturn.Success, nvml.DeviceHandle(index, out var device));
        return device;
    }

    /// <summary>Sets fake keys for the length of a <c>using</c> block; each is unset again when it ends.</summary>
    private Settings Control(params (string Key, int Value)[] settings)
    {
        var applied = new Settings(this);
        foreach (var (key, value) in settings)
        {
            applied.Keys.Add(key);
            SetControl(key, value);
        }

        return applied;
    }

    /// <summary><c>fake_nvml_set(key, value)</c>; <see cref="Unset"/> unsets the key.</summary>
    private void SetControl(string key, int value)
    {
        var set = (delegate* unmanaged<byte*, int, void>)NativeLibrary.GetExport(NativeLibrary.Load(fake.Current), "fake_nvml_set");
        var bytes = Encoding.ASCII.GetBytes(key + "\0");
        fixed (byte* k = bytes)
        {
            set(k, value);
        }
    }

    private static NvmlFieldValue Field(uint id, uint scope = 0) => new() { FieldId = id, ScopeId = scope };

    private static void AssertUInt(NvmlFieldValue value, uint expected)
    {
        Assert.Equal((int)NvmlReturn.Success, value.NvmlReturn);
        Assert.Equal(1, value.ValueType);
        Assert.Equal(expected, value.Value.UInt);
        Assert.NotEqual(0, value.Timestamp);
    }

    private static void AssertULong(NvmlFieldValue value, ulong expected)
    {
        Assert.Equal((int)NvmlReturn.Success, value.NvmlReturn);
        Assert.Equal(3, value.ValueType);
        Assert.Equal(expected, value.Value.ULong);
        Assert.NotEqual(0, value.Timestamp);
    }

    /// <summary>Runs <paramref name="body"/> on a new thread, so <see cref="NativeNvml"/>'s per-thread buffers start at their initial size.</summary>
    private static T OnFreshThread<T>(Func<T> body)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = body();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return failure is null ? result : throw new InvalidOperationException("the thread failed", failure);
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

    private sealed class Settings(FakeNvmlBindingTests owner) : IDisposable
    {
        public List<string> Keys { get; } = [];

        public void Dispose()
        {
            foreach (var key in Keys)
            {
                owner.SetControl(key, Unset);
            }
        }
    }
}
