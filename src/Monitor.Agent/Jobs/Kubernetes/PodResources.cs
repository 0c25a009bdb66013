using System.Text;
using Google.Protobuf;

namespace Monitor.Agent.Jobs.Kubernetes;

// The kubelet PodResources v1 messages (k8s.io/kubelet/pkg/apis/podresources/v1/api.proto), encoded and decoded by
// hand with Google.Protobuf's CodedInputStream/CodedOutputStream: there is no protoc in this build, and the agent
// needs five small messages, not the descriptor machinery generated code brings. Field numbers and wire types:
//
//   ListPodResourcesRequest  {}
//   ListPodResourcesResponse { repeated PodResources pod_resources = 1; }
//   PodResources             { string name = 1; string namespace = 2; repeated ContainerResources containers = 3; }
//   ContainerResources       { string name = 1; repeated ContainerDevices devices = 2; repeated int64 cpu_ids = 3;
//                              repeated ContainerMemory memory = 4; repeated DynamicResource dynamic_resources = 5; }
//   ContainerDevices         { string resource_name = 1; repeated string device_ids = 2; TopologyInfo topology = 3; }
//   TopologyInfo             { repeated NUMANode nodes = 1; }
//   NUMANode                 { int64 ID = 1; }
//
// memory and dynamic_resources (and anything a newer kubelet adds) are skipped as unknown fields: the agent maps
// devices to pods and has no use for them.

/// <summary>
/// The reply of the kubelet's <c>/v1.PodResourcesLister/List</c>: every pod on the node with the devices (and CPUs) the
/// kubelet assigned to each of its containers. The request, <c>ListPodResourcesRequest {}</c>, encodes to zero bytes.
/// </summary>
internal sealed class ListPodResourcesResponse
{
    private const uint PodResourcesTag = (1 << 3) | 2;

    /// <summary>The pods (field 1).</summary>
    public List<PodResources> PodResources { get; } = [];

    /// <summary>
    /// Decodes <paramref name="length"/> bytes of <paramref name="buffer"/> from <paramref name="offset"/>. Unknown
    /// fields are skipped. Malformed input (truncated, a bad tag or wire type, a string that is not UTF-8) throws
    /// <see cref="InvalidDataException"/> and nothing else: the source turns that into its problem text.
    /// </summary>
    public static ListPodResourcesResponse Parse(byte[] buffer, int offset, int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        try
        {
            var input = new WireReader(buffer, offset, length);
            var response = new ListPodResourcesResponse();
            uint tag;
            while ((tag = input.Stream.ReadTag()) != 0)
            {
                if (tag == PodResourcesTag)
                {
                    response.PodResources.Add(Kubernetes.PodResources.Read(input.Nested()));
                }
                else
                {
                    input.SkipField(tag);
                }
            }

            return response;
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException(ex.Message, ex);
        }
        catch (DecoderFallbackException ex)
        {
            throw new InvalidDataException("a string field is not valid UTF-8", ex);
        }
    }

    /// <summary>Decodes a whole buffer; see <see cref="Parse(byte[], int, int)"/>.</summary>
    public static ListPodResourcesResponse Parse(byte[] buffer) => Parse(buffer, 0, buffer?.Length ?? 0);

    /// <summary>Encodes the message (the stand-in kubelet in the tests answers with this).</summary>
    public byte[] ToByteArray()
    {
        var bytes = new byte[CalculateSize()];
        var output = new CodedOutputStream(bytes);
        WriteTo(output);
        output.CheckNoSpaceLeft();
        return bytes;
    }

    /// <summary>The encoded size in bytes.</summary>
    public int CalculateSize()
    {
        var size = 0;
        foreach (var pod in PodResources)
        {
            size += 1 + LengthDelimitedSize(pod.CalculateSize());
        }

        return size;
    }

    /// <summary>Writes the fields to <paramref name="output"/>.</summary>
    public void WriteTo(CodedOutputStream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (var pod in PodResources)
        {
            output.WriteRawTag((byte)PodResourcesTag);
            output.WriteLength(pod.CalculateSize());
            pod.WriteTo(output);
        }
    }

    /// <summary>The size of a length prefix plus <paramref name="length"/> bytes.</summary>
    internal static int LengthDelimitedSize(int length) => CodedOutputStream.ComputeLengthSize(length) + length;
}

/// <summary>One pod and the resources of its containers.</summary>
internal sealed class PodResources
{
    private const uint NameTag = (1 << 3) | 2;
    private const uint NamespaceTag = (2 << 3) | 2;
    private const uint ContainersTag = (3 << 3) | 2;

    /// <summary>Pod name (field 1).</summary>
    public string Name { get; set; } = "";

    /// <summary>Pod namespace (field 2).</summary>
    public string Namespace { get; set; } = "";

    /// <summary>The containers (field 3).</summary>
    public List<ContainerResources> Containers { get; } = [];

    /// <summary>Reads the fields up to the current limit.</summary>
    internal static PodResources Read(WireReader reader)
    {
        var input = reader.Stream;
        var pod = new PodResources();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (tag)
            {
                case NameTag:
                    pod.Name = input.ReadString();
                    break;
                case NamespaceTag:
                    pod.Namespace = input.ReadString();
                    break;
                case ContainersTag:
                    pod.Containers.Add(ContainerResources.Read(reader.Nested()));
                    break;
                default:
                    reader.SkipField(tag);
                    break;
            }
        }

        return pod;
    }

    /// <summary>The encoded size in bytes.</summary>
    internal int CalculateSize()
    {
        var size = 0;
        if (Name.Length > 0)
        {
            size += 1 + CodedOutputStream.ComputeStringSize(Name);
        }

        if (Namespace.Length > 0)
        {
            size += 1 + CodedOutputStream.ComputeStringSize(Namespace);
        }

        foreach (var container in Containers)
        {
            size += 1 + ListPodResourcesResponse.LengthDelimitedSize(container.CalculateSize());
        }

        return size;
    }

    /// <summary>Writes the fields; proto3 leaves empty strings out.</summary>
    internal void WriteTo(CodedOutputStream output)
    {
        if (Name.Length > 0)
        {
            output.WriteRawTag((byte)NameTag);
            output.WriteString(Name);
        }

        if (Namespace.Length > 0)
        {
            output.WriteRawTag((byte)NamespaceTag);
            output.WriteString(Namespace);
        }

        foreach (var container in Containers)
        {
            output.WriteRawTag((byte)ContainersTag);
            output.WriteLength(container.CalculateSize());
            container.WriteTo(output);
        }
    }
}

/// <summary>One container's devices and exclusive CPUs.</summary>
internal sealed class ContainerResources
{
    private const uint NameTag = (1 << 3) | 2;
    private const uint DevicesTag = (2 << 3) | 2;
    private const uint CpuIdsPackedTag = (3 << 3) | 2;
    private const uint CpuIdsTag = 3 << 3;

    /// <summary>Container name (field 1).</summary>
    public string Name { get; set; } = "";

    /// <summary>Devices by resource (field 2).</summary>
    public List<ContainerDevices> Devices { get; } = [];

    /// <summary>Exclusive CPU ids from the static CPU manager (field 3, packed).</summary>
    public List<long> CpuIds { get; } = [];

    /// <summary>Reads the fields up to the current limit.</summary>
    internal static ContainerResources Read(WireReader reader)
    {
        var input = reader.Stream;
        var container = new ContainerResources();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (tag)
            {
                case NameTag:
                    container.Name = input.ReadString();
                    break;
                case DevicesTag:
                    container.Devices.Add(ContainerDevices.Read(reader.Nested()));
                    break;
                case CpuIdsPackedTag:
                    ReadPackedInt64(reader.Nested(), container.CpuIds);
                    break;
                case CpuIdsTag:
                    // Parsers must accept an unpacked repeated scalar too (protobuf encoding spec, "Packed Repeated Fields").
                    container.CpuIds.Add(input.ReadInt64());
                    break;
                default:
                    reader.SkipField(tag);
                    break;
            }
        }

        return container;
    }

    /// <summary>The encoded size in bytes.</summary>
    internal int CalculateSize()
    {
        var size = 0;
        if (Name.Length > 0)
        {
            size += 1 + CodedOutputStream.ComputeStringSize(Name);
        }

        foreach (var device in Devices)
        {
            size += 1 + ListPodResourcesResponse.LengthDelimitedSize(device.CalculateSize());
        }

        if (CpuIds.Count > 0)
        {
            size += 1 + ListPodResourcesResponse.LengthDelimitedSize(PackedSize(CpuIds));
        }

        return size;
    }

    /// <summary>Writes the fields; cpu_ids packed, as proto3 does by default.</summary>
    internal void WriteTo(CodedOutputStream output)
    {
        if (Name.Length > 0)
        {
            output.WriteRawTag((byte)NameTag);
            output.WriteString(Name);
        }

        foreach (var device in Devices)
        {
            output.WriteRawTag((byte)DevicesTag);
            output.WriteLength(device.CalculateSize());
            device.WriteTo(output);
        }

        if (CpuIds.Count > 0)
        {
            output.WriteRawTag((byte)CpuIdsPackedTag);
            output.WriteLength(PackedSize(CpuIds));
            foreach (var id in CpuIds)
            {
                output.WriteInt64(id);
            }
        }
    }

    private static void ReadPackedInt64(WireReader reader, List<long> into)
    {
        var input = reader.Stream;
        while (!input.IsAtEnd)
        {
            into.Add(input.ReadInt64());
        }
    }

    private static int PackedSize(List<long> values)
    {
        var size = 0;
        foreach (var value in values)
        {
            size += CodedOutputStream.ComputeInt64Size(value);
        }

        return size;
    }
}

/// <summary>The devices of one resource (e.g. <c>nvidia.com/gpu</c>) assigned to a container.</summary>
internal sealed class ContainerDevices
{
    private const uint ResourceNameTag = (1 << 3) | 2;
    private const uint DeviceIdsTag = (2 << 3) | 2;
    private const uint TopologyTag = (3 << 3) | 2;
    private const uint NodesTag = (1 << 3) | 2;
    private const uint NodeIdTag = 1 << 3;

    /// <summary>Extended resource name (field 1), e.g. <c>nvidia.com/gpu</c> or <c>nvidia.com/mig-1g.10gb</c>.</summary>
    public string ResourceName { get; set; } = "";

    /// <summary>The device plugin's device ids (field 2): "GPU-…", "MIG-…", "GPU-…::1", "nvidia0", "nvidia0/gi1/vgpu0".</summary>
    public List<string> DeviceIds { get; } = [];

    /// <summary>NUMA node ids of the devices (field 3, <c>TopologyInfo.nodes[].ID</c>), flattened.</summary>
    public List<long> NumaNodes { get; } = [];

    /// <summary>Reads the fields up to the current limit.</summary>
    internal static ContainerDevices Read(WireReader reader)
    {
        var input = reader.Stream;
        var devices = new ContainerDevices();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (tag)
            {
                case ResourceNameTag:
                    devices.ResourceName = input.ReadString();
                    break;
                case DeviceIdsTag:
                    devices.DeviceIds.Add(input.ReadString());
                    break;
                case TopologyTag:
                    ReadTopology(reader.Nested(), devices.NumaNodes);
                    break;
                default:
                    reader.SkipField(tag);
                    break;
            }
        }

        return devices;
    }

    /// <summary>The encoded size in bytes.</summary>
    internal int CalculateSize()
    {
        var size = 0;
        if (ResourceName.Length > 0)
        {
            size += 1 + CodedOutputStream.ComputeStringSize(ResourceName);
        }

        foreach (var id in DeviceIds)
        {
            size += 1 + CodedOutputStream.ComputeStringSize(id);
        }

        if (NumaNodes.Count > 0)
        {
            size += 1 + ListPodResourcesResponse.LengthDelimitedSize(TopologySize());
        }

        return size;
    }

    /// <summary>Writes the fields.</summary>
    internal void WriteTo(CodedOutputStream output)
    {
        if (ResourceName.Length > 0)
        {
            output.WriteRawTag((byte)ResourceNameTag);
            output.WriteString(ResourceName);
        }

        foreach (var id in DeviceIds)
        {
            output.WriteRawTag((byte)DeviceIdsTag);
            output.WriteString(id);
        }

        if (NumaNodes.Count > 0)
        {
            output.WriteRawTag((byte)TopologyTag);
            output.WriteLength(TopologySize());
            foreach (var node in NumaNodes)
            {
                output.WriteRawTag((byte)NodesTag);
                output.WriteLength(NodeSize(node));
                if (node != 0)
                {
                    output.WriteRawTag((byte)NodeIdTag);
                    output.WriteInt64(node);
                }
            }
        }
    }

    private static void ReadTopology(WireReader reader, List<long> into)
    {
        var input = reader.Stream;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (tag == NodesTag)
            {
                into.Add(ReadNode(reader.Nested()));
            }
            else
            {
                reader.SkipField(tag);
            }
        }
    }

    private static long ReadNode(WireReader reader)
    {
        var input = reader.Stream;
        long id = 0;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (tag == NodeIdTag)
            {
                id = input.ReadInt64();
            }
            else
            {
                reader.SkipField(tag);
            }
        }

        return id;
    }

    private int TopologySize()
    {
        var size = 0;
        foreach (var node in NumaNodes)
        {
            size += 1 + ListPodResourcesResponse.LengthDelimitedSize(NodeSize(node));
        }

        return size;
    }

    private static int NodeSize(long node) => node == 0 ? 0 : 1 + CodedOutputStream.ComputeInt64Size(node);
}
