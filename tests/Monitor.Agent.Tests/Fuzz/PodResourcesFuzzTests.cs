using System.Globalization;
using System.Text;
using CsCheck;
using Monitor.Agent.Jobs;
using Monitor.Agent.Jobs.Kubernetes;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// The kubelet's pod-resources reply (<see cref="ListPodResourcesResponse"/> over <see cref="WireReader"/>) and the
/// device ids in it (<see cref="KubeletPodResourcesSource.TryParseDeviceId"/>). Any bytes decode or throw
/// <see cref="InvalidDataException"/>, the one exception the decoder documents, within bounded allocation, whatever
/// the nesting of groups or length prefixes; a decoded reply maps to jobs without throwing; generated replies survive
/// an encode/decode round trip; generated device ids map to the GPU they name.
/// </summary>
public sealed class PodResourcesFuzzTests
{
    private static readonly KubeletPodResourcesSource Source = new("/nonexistent/kubelet.sock");

    private static readonly Gen<string> Name = Gen.Frequency(
        (4, Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789-./"], 0, 20]),
        (1, Gen.String[FuzzGen.AnyChar.Where(c => !char.IsSurrogate(c)), 0, 12]));

    private static readonly Gen<string> DeviceId = Gen.Frequency(
        (3, Gen.String[Gen.Char["0123456789abcdef-"], 1, 36].Select(u => "GPU-" + u)),
        (1, Gen.String[Gen.Char["0123456789abcdef-"], 1, 36].Select(u => "MIG-" + u)),
        (1, Gen.Int[0, 16].Select(i => "nvidia" + i.ToString(CultureInfo.InvariantCulture))),
        (1, Name));

    private static readonly Gen<ContainerDevices> Devices =
        Gen.Select(Gen.OneOf("nvidia.com/gpu", "nvidia.com/mig-1g.10gb", "example.com/nic", ""), DeviceId.Array[0, 4], Gen.Long.Array[0, 3], (resource, ids, numa) =>
        {
            var devices = new ContainerDevices { ResourceName = resource };
            devices.DeviceIds.AddRange(ids);
            devices.NumaNodes.AddRange(numa);
            return devices;
        });

    private static readonly Gen<ContainerResources> Container =
        Gen.Select(Name, Devices.Array[0, 3], Gen.Long.Array[0, 6], (name, devices, cpus) =>
        {
            var container = new ContainerResources { Name = name };
            container.Devices.AddRange(devices);
            container.CpuIds.AddRange(cpus);
            return container;
        });

    private static readonly Gen<ListPodResourcesResponse> Response =
        Gen.Select(Name, Name, Container.Array[0, 3]).Array[0, 5].Select(pods =>
        {
            var response = new ListPodResourcesResponse();
            foreach (var (name, ns, containers) in pods)
            {
                var pod = new PodResources { Name = name, Namespace = ns };
                pod.Containers.AddRange(containers);
                response.PodResources.Add(pod);
            }

            return response;
        });

    /// <summary>Real-shaped replies, encoded, as the seeds of the byte mutations (from fixed PCG seeds, so a failure replays).</summary>
    private static readonly byte[][] Seeds = [.. Enumerable.Range(1, 12).Select(i => Response.Generate(new PCG(1, (ulong)i), null!, out _).ToByteArray()).Where(b => b.Length > 0)];

    [Fact]
    public void Parse_AnyBytes_DecodesOrThrowsInvalidData() =>
        FuzzCheck.Run(
            "ListPodResourcesResponse.Parse",
            Gen.Frequency((4, FuzzGen.MutatedBytes(Seeds, 1)), (4, FuzzGen.MutatedBytes(Seeds)), (3, WithUnknownFields), (2, FuzzGen.Bytes(256)), (1, Nesting)),
            bytes => bytes.Length,
            bytes =>
            {
                var response = ListPodResourcesResponse.Parse(bytes);
                _ = Source.ToResult(response);
                return true;
            },
            ciIterations: 2_000,
            new FuzzLimits(BytesPerUnit: 512),
            documented: typeof(InvalidDataException));

    [Fact]
    public void Parse_DeeplyNestedGroups_ThrowsInvalidData()
    {
        // 100,000 unknown start-group tags: skipping them recurses in Google.Protobuf, which stops at its recursion limit.
        var bytes = Enumerable.Repeat((byte)((9 << 3) | 3), 100_000).ToArray();

        Assert.Throws<InvalidDataException>(() => ListPodResourcesResponse.Parse(bytes));
    }

    [Fact]
    public void Parse_GeneratedResponse_RoundTrips() =>
        FuzzCheck.Run(
            "ListPodResourcesResponse round trip (generated)",
            Response,
            _ => 1,
            response =>
            {
                var parsed = ListPodResourcesResponse.Parse(response.ToByteArray());

                Assert.Equal(Describe(response), Describe(parsed));
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);

    [Fact]
    public void TryParseDeviceId_AnyText_ReturnsWithinBounds() =>
        FuzzCheck.Run(
            "KubeletPodResourcesSource.TryParseDeviceId",
            FuzzGen.Text(["GPU-5131d000-0000-4000-8000-000000000000", "GPU-5131d000::3", "MIG-a1b2", "nvidia0", "3", "nvidia0/gi1/vgpu2", "nvidia1/vgpu0", "0:1"], 80),
            id => id.Length,
            id => KubeletPodResourcesSource.TryParseDeviceId(id, out _),
            ciIterations: 2_000);

    [Fact]
    public void TryParseDeviceId_GeneratedId_ReturnsTheGpuItNames() =>
        FuzzCheck.Run(
            "KubeletPodResourcesSource.TryParseDeviceId (generated)",
            Gen.Select(Gen.Int[0, 5], Gen.String[Gen.Char["0123456789abcdef-"], 1, 36], Gen.Int[0, int.MaxValue], Gen.UInt, Gen.Int[-1, 99]),
            _ => 1,
            t =>
            {
                var (form, uuid, index, instance, share) = t;
                var shareText = share < 0 ? null : share.ToString(CultureInfo.InvariantCulture);
                var n = index.ToString(CultureInfo.InvariantCulture);
                var g = instance.ToString(CultureInfo.InvariantCulture);
                var (id, expected) = form switch
                {
                    0 => ("GPU-" + uuid + (shareText is null ? "" : "::" + shareText), new GpuRef("GPU-" + uuid, null, null, shareText)),
                    1 => ("MIG-" + uuid + (shareText is null ? "" : "::" + shareText), new GpuRef("MIG-" + uuid, null, null, shareText)),
                    2 => (n + (shareText is null ? "" : "::" + shareText), new GpuRef(null, index, null, shareText)),
                    3 => ("nvidia" + n, new GpuRef(null, index)),
                    4 => ($"nvidia{n}/gi{g}" + (shareText is null ? "" : "/vgpu" + shareText), new GpuRef(null, index, instance, shareText)),
                    _ => ($"nvidia{n}/vgpu{share + 1}", new GpuRef(null, index, null, (share + 1).ToString(CultureInfo.InvariantCulture))),
                };

                Assert.True(KubeletPodResourcesSource.TryParseDeviceId(id, out var gpu), id);
                Assert.Equal(expected, gpu);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);

    /// <summary>A generated reply followed by valid fields the decoder does not know, of every wire type, which it must skip.</summary>
    private static Gen<byte[]> WithUnknownFields { get; } = Gen.Select(Response, Gen.Int[0, 4].Array[1, 4], (response, kinds) =>
        response.ToByteArray().Concat(kinds.SelectMany(kind => kind switch
        {
            0 => new byte[] { (9 << 3) | 0, 0x96, 0x01 },
            1 => [(9 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8],
            2 => [(9 << 3) | 2, 3, (byte)'a', (byte)'b', (byte)'c'],
            3 => [(9 << 3) | 3, (1 << 3) | 0, 1, (9 << 3) | 4],
            _ => [(9 << 3) | 5, 1, 2, 3, 4],
        })).ToArray());

    /// <summary>
    /// Nesting the decoder must survive: start-group tags of unknown fields (recursion in Google.Protobuf's skip),
    /// and pods, containers, devices and topologies whose length prefixes nest inside each other or run past their parent.
    /// </summary>
    private static Gen<byte[]> Nesting { get; } = Gen.Select(Gen.Int[1, 20_000], Gen.Int[0, 3], (depth, kind) => kind switch
    {
        0 => Enumerable.Repeat((byte)((9 << 3) | 3), depth).ToArray(),
        1 => Enumerable.Repeat((byte)((1 << 3) | 2), depth).ToArray(),
        2 => Nest(Math.Min(depth, 4_000), [(byte)((1 << 3) | 2)]),
        _ => Nest(Math.Min(depth, 4_000), [(byte)((3 << 3) | 2), 0xff, 0xff, 0xff, 0xff, 0x07]),
    });

    /// <summary><paramref name="depth"/> levels of field 1 (pods) each holding the next, with correct lengths, then <paramref name="tail"/>.</summary>
    private static byte[] Nest(int depth, byte[] tail)
    {
        var inner = tail;
        for (var i = 0; i < depth; i++)
        {
            var tag = (byte)((((i % 3) + 1) << 3) | 2);
            var length = new List<byte>();
            var n = (uint)inner.Length;
            do
            {
                length.Add((byte)((n & 0x7f) | (n > 0x7f ? 0x80u : 0u)));
                n >>= 7;
            }
            while (n > 0);

            inner = [tag, .. length, .. inner];
        }

        return inner;
    }

    private static string Describe(ListPodResourcesResponse response)
    {
        var sb = new StringBuilder();
        foreach (var pod in response.PodResources)
        {
            sb.Append(CultureInfo.InvariantCulture, $"pod {pod.Namespace}/{pod.Name}\n");
            foreach (var container in pod.Containers)
            {
                sb.Append(CultureInfo.InvariantCulture, $"  container {container.Name} cpus=[{string.Join(',', container.CpuIds)}]\n");
                foreach (var devices in container.Devices)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"    {devices.ResourceName} [{string.Join(',', devices.DeviceIds)}] numa=[{string.Join(',', devices.NumaNodes)}]\n");
                }
            }
        }

        return sb.ToString();
    }
}
