using System.Text;
using Monitor.Agent.Jobs.Kubernetes;

namespace Monitor.Agent.Tests.Jobs.Kubernetes;

/// <summary>
/// The hand-written PodResources v1 codec against bytes built here from the protobuf wire format by hand (tags
/// <c>field &lt;&lt; 3 | wire type</c>, base-128 varints), with the field numbers of
/// k8s.io/kubelet/pkg/apis/podresources/v1/api.proto, so a wrong field number or wire type in the codec fails here.
/// </summary>
public sealed class PodResourcesTests
{
    private const int VarintType = 0;
    private const int Fixed64Type = 1;
    private const int LengthDelimitedType = 2;
    private const int StartGroupType = 3;
    private const int EndGroupType = 4;
    private const int Fixed32Type = 5;

    [Fact]
    public void Parse_HandBuiltBytes_ReadsEveryField()
    {
        var response = ListPodResourcesResponse.Parse(HandBuiltTwoPods());

        Assert.Equal(
            """
            pod ml/train-0
              container trainer cpus=[2,3,300]
                nvidia.com/gpu [GPU-a,GPU-b] numa=[1]
              container sidecar cpus=[]
            pod default/web
              container app cpus=[]
                example.com/nic [0000:3b:00.1] numa=[]

            """,
            Describe(response));
    }

    [Fact]
    public void ToByteArray_WritesTheSameBytesAsTheHandBuiltEncoding()
    {
        var response = new ListPodResourcesResponse();
        var train = new PodResources { Name = "train-0", Namespace = "ml" };
        var trainer = new ContainerResources { Name = "trainer" };
        var gpus = new ContainerDevices { ResourceName = "nvidia.com/gpu" };
        gpus.DeviceIds.AddRange(["GPU-a", "GPU-b"]);
        gpus.NumaNodes.Add(1);
        trainer.Devices.Add(gpus);
        trainer.CpuIds.AddRange([2, 3, 300]);
        train.Containers.Add(trainer);
        train.Containers.Add(new ContainerResources { Name = "sidecar" });
        var web = new PodResources { Name = "web", Namespace = "default" };
        var app = new ContainerResources { Name = "app" };
        var nic = new ContainerDevices { ResourceName = "example.com/nic" };
        nic.DeviceIds.Add("0000:3b:00.1");
        app.Devices.Add(nic);
        web.Containers.Add(app);
        response.PodResources.AddRange([train, web]);

        Assert.Equal(HandBuiltTwoPods(), response.ToByteArray());
        Assert.Equal(response.CalculateSize(), response.ToByteArray().Length);
    }

    [Fact]
    public void ToByteArray_ThenParse_RoundTrips()
    {
        var response = new ListPodResourcesResponse();
        for (var p = 0; p < 3; p++)
        {
            var pod = new PodResources { Name = "pod-" + p, Namespace = p == 1 ? "" : "ns-" + p };
            for (var c = 0; c < p + 1; c++)
            {
                var container = new ContainerResources { Name = "c" + c };
                var devices = new ContainerDevices { ResourceName = c == 0 ? "nvidia.com/gpu" : "nvidia.com/mig-1g.10gb" };
                devices.DeviceIds.AddRange(["GPU-0::" + c, "MIG-ünïcode-" + c, new string('x', 300)]);
                devices.NumaNodes.AddRange([0, 1, long.MaxValue]);
                container.Devices.Add(devices);
                container.CpuIds.AddRange([0, -1, long.MinValue, 127, 128]);
                pod.Containers.Add(container);
            }

            response.PodResources.Add(pod);
        }

        var bytes = response.ToByteArray();
        var parsed = ListPodResourcesResponse.Parse(bytes);

        Assert.Equal(Describe(response), Describe(parsed));
        Assert.Contains("cpus=[0,-1,-9223372036854775808,127,128]", Describe(parsed), StringComparison.Ordinal);
        Assert.Contains("numa=[0,1,9223372036854775807]", Describe(parsed), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EmptyInput_IsAResponseWithoutPods() =>
        Assert.Empty(ListPodResourcesResponse.Parse([]).PodResources);

    [Fact]
    public void Parse_AtAnOffsetInsideALargerBuffer_ReadsOnlyThatSlice()
    {
        var message = HandBuiltTwoPods();
        byte[] buffer = [0xFF, 0xFF, 0xFF, .. message, 0x07, 0x07];

        var parsed = ListPodResourcesResponse.Parse(buffer, 3, message.Length);

        Assert.Equal(Describe(ListPodResourcesResponse.Parse(message)), Describe(parsed));
    }

    [Fact]
    public void Parse_UnknownFieldsOfEveryWireTypeAtEveryLevel_AreSkipped()
    {
        byte[] Unknown() => Cat(
            VarintField(9, 5),
            Field(10, Fixed64Type, [1, 2, 3, 4, 5, 6, 7, 8]),
            Field(11, Fixed32Type, [1, 2, 3, 4]),
            Str(12, "later kubelet field"),
            Field(13, StartGroupType, []), VarintField(1, 1), Str(2, "in a group"), Field(13, EndGroupType, []));

        var bytes = Msg(1,
            Unknown(),
            Str(1, "train-0"),
            Unknown(),
            Str(2, "ml"),
            Msg(3,
                Str(1, "trainer"),
                Unknown(),
                Msg(2, Str(1, "nvidia.com/gpu"), Unknown(), Str(2, "GPU-a"), Msg(3, Unknown(), Msg(1, Unknown(), VarintField(1, 1)))),
                // ContainerMemory and DynamicResource, which the agent does not read.
                Msg(4, Str(1, "memory"), VarintField(2, 1 << 30)),
                Msg(5, Str(2, "claim"), Str(3, "ml"))));
        bytes = Cat(Unknown(), bytes, Unknown());

        Assert.Equal(
            """
            pod ml/train-0
              container trainer cpus=[]
                nvidia.com/gpu [GPU-a] numa=[1]

            """,
            Describe(ListPodResourcesResponse.Parse(bytes)));
    }

    [Fact]
    public void Parse_KnownFieldWithAnotherWireType_IsSkippedAsUnknown()
    {
        // Field 1 (name) as a varint: not the string the schema says, so not read as the name.
        var bytes = Msg(1, VarintField(1, 42), Str(2, "ml"));

        var pod = Assert.Single(ListPodResourcesResponse.Parse(bytes).PodResources);

        Assert.Equal(("", "ml"), (pod.Name, pod.Namespace));
    }

    [Fact]
    public void Parse_UnpackedCpuIds_AreReadLikePackedOnes()
    {
        var bytes = Msg(1, Msg(3, Str(1, "c"), VarintField(3, 7), VarintField(3, ulong.MaxValue), Msg(3, Varint(8))));

        var container = Assert.Single(Assert.Single(ListPodResourcesResponse.Parse(bytes).PodResources).Containers);

        Assert.Equal([7L, -1L, 8L], container.CpuIds);
    }

    [Fact]
    public void Parse_TruncatedAnywhere_EitherDecodesOrThrowsInvalidData()
    {
        var message = HandBuiltTwoPods();
        var firstPod = ListPodResourcesResponse.Parse(message).PodResources[0];
        var decodedAt = new List<int>();
        for (var length = 1; length < message.Length; length++)
        {
            try
            {
                ListPodResourcesResponse.Parse(message[..length]);
                decodedAt.Add(length);
            }
            catch (InvalidDataException)
            {
                // A cut inside a field.
            }
        }

        // Only the cut between the two pod fields leaves a whole message: the first pod alone.
        var firstOnly = new ListPodResourcesResponse();
        firstOnly.PodResources.Add(firstPod);
        Assert.Equal([firstOnly.CalculateSize()], decodedAt);
    }

    [Fact]
    public void Parse_TruncatedString_SaysTheInputWasTruncated()
    {
        var message = Msg(1, Str(1, "train-0"));

        var ex = Assert.Throws<InvalidDataException>(() => ListPodResourcesResponse.Parse(message[..^2]));

        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EmbeddedLengthPastTheEnd_ThrowsInvalidData()
    {
        // A pod claiming 100 bytes with 3 present.
        byte[] bytes = [.. Tag(1, LengthDelimitedType), .. Varint(100), .. Str(1, "p")];

        Assert.Throws<InvalidDataException>(() => ListPodResourcesResponse.Parse(bytes));
    }

    [Theory]
    [InlineData(new byte[] { 0x00 })] // tag 0
    [InlineData(new byte[] { 0x0E })] // field 1, wire type 6
    [InlineData(new byte[] { 0x0F })] // field 1, wire type 7
    [InlineData(new byte[] { 0x0C })] // field 1, end group without a start
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })] // 11-byte varint
    [InlineData(new byte[] { 0x0A, 0x03, 0x12, 0x01, 0xC3 })] // pod { namespace = "\xC3" }: not UTF-8
    [InlineData(new byte[] { 0x3C, 0x68, 0x74, 0x6D, 0x6C, 0x3E })] // "<html>"
    public void Parse_MalformedInput_ThrowsInvalidData(byte[] bytes) =>
        Assert.Throws<InvalidDataException>(() => ListPodResourcesResponse.Parse(bytes));

    [Fact]
    public void Parse_RandomBytes_NeverThrowsAnythingButInvalidData()
    {
        var random = new Random(5);
        var decoded = 0;
        for (var i = 0; i < 5_000; i++)
        {
            var bytes = new byte[random.Next(1, 200)];
            random.NextBytes(bytes);
            try
            {
                ListPodResourcesResponse.Parse(bytes);
                decoded++;
            }
            catch (InvalidDataException)
            {
                // What garbage should give.
            }
        }

        Assert.True(decoded < 5_000, "random bytes should mostly fail to decode");
    }

    // The same two pods in wire bytes: field order as the encoder writes it (by field number).
    private static byte[] HandBuiltTwoPods() => Cat(
        Msg(1,
            Str(1, "train-0"),
            Str(2, "ml"),
            Msg(3,
                Str(1, "trainer"),
                Msg(2, Str(1, "nvidia.com/gpu"), Str(2, "GPU-a"), Str(2, "GPU-b"), Msg(3, Msg(1, VarintField(1, 1)))),
                Msg(3, Varint(2), Varint(3), Varint(300))),
            Msg(3, Str(1, "sidecar"))),
        Msg(1,
            Str(1, "web"),
            Str(2, "default"),
            Msg(3, Str(1, "app"), Msg(2, Str(1, "example.com/nic"), Str(2, "0000:3b:00.1")))));

    private static string Describe(ListPodResourcesResponse response)
    {
        var text = new StringBuilder();
        foreach (var pod in response.PodResources)
        {
            text.Append("pod ").Append(pod.Namespace).Append('/').Append(pod.Name).Append('\n');
            foreach (var container in pod.Containers)
            {
                text.Append("  container ").Append(container.Name).Append(" cpus=[").AppendJoin(',', container.CpuIds).Append("]\n");
                foreach (var devices in container.Devices)
                {
                    text.Append("    ").Append(devices.ResourceName).Append(" [").AppendJoin(',', devices.DeviceIds)
                        .Append("] numa=[").AppendJoin(',', devices.NumaNodes).Append("]\n");
                }
            }
        }

        return text.ToString();
    }

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);

        return [.. bytes];
    }

    private static byte[] Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

    private static byte[] Field(int field, int wireType, byte[] payload) => Cat(Tag(field, wireType), payload);

    private static byte[] VarintField(int field, ulong value) => Cat(Tag(field, VarintType), Varint(value));

    private static byte[] Str(int field, string value)
    {
        var utf8 = Encoding.UTF8.GetBytes(value);
        return Cat(Tag(field, LengthDelimitedType), Varint((ulong)utf8.Length), utf8);
    }

    private static byte[] Msg(int field, params byte[][] parts)
    {
        var content = Cat(parts);
        return Cat(Tag(field, LengthDelimitedType), Varint((ulong)content.Length), content);
    }

    private static byte[] Cat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}
