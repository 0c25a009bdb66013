using Monitor.Agent.Gpu.Nvml;

namespace Monitor.Agent.Gpu;

/// <summary>
/// One GPU's <c>nvmlDeviceGetFieldValues</c> batch, read every tick: the <see cref="GpuCadence.Field"/> rows of
/// <see cref="GpuCatalog"/> (memory temperature, the recovery action and, with NVLink, throughput and error totals) and
/// the state of every NVLink link. A field NVML calls NOT_SUPPORTED is dropped from later batches; an entry still
/// holding the 999/0 sentinels was left unwritten (580 quirk) and reads as "no data this tick". The NVLink link count
/// (field 91, read at the slow cadence) sizes the batch.
/// </summary>
internal sealed class GpuFieldBatch(INvml nvml)
{
    private static readonly GpuMetric[] Rows = [.. GpuCatalog.Metrics.Where(m => m.Field is not null)];

    private readonly HashSet<uint> _unsupported = [];
    private NvmlFieldValue[] _fields = [];

    /// <summary>
    /// Reads the NVLink link count; the field's own result (SUCCESS with <paramref name="links"/>, NOT_SUPPORTED, …), or
    /// null when the call itself failed (<paramref name="check"/> said no). The batch is resized unless the call failed.
    /// </summary>
    public NvmlReturn? ReadLinkCount(nint device, Func<NvmlReturn, bool> check, out double links)
    {
        links = double.NaN;
        Span<NvmlFieldValue> count = [new NvmlFieldValue { FieldId = NvmlFields.NvLinkCount }];
        if (!check(nvml.FieldValues(device, count)))
        {
            return null;
        }

        var result = FieldResult(count[0], out var value);
        if (result == NvmlReturn.Success)
        {
            links = value;
        }

        return result;
    }

    /// <summary>
    /// One batch into <paramref name="v"/> and <paramref name="nvLinkUp"/> (1 active, 0 not, NaN unknown, per link);
    /// <paramref name="allowed"/> false (the call is known unsupported, or the GPU is lost) reads nothing.
    /// </summary>
    public void Sample(nint device, bool allowed, double[] v, List<double> nvLinkUp, Func<NvmlReturn, bool> check)
    {
        if (_fields.Length == 0 && _unsupported.Count == 0)
        {
            Build(0);
        }

        nvLinkUp.Clear();
        if (_fields.Length == 0 || !allowed || !check(nvml.FieldValues(device, _fields)))
        {
            return;
        }

        var rebuild = false;
        foreach (ref readonly var field in _fields.AsSpan())
        {
            var result = FieldResult(field, out var value);
            if (result == NvmlReturn.NotSupported)
            {
                rebuild |= _unsupported.Add(field.FieldId);
                continue;
            }

            var ok = result == NvmlReturn.Success;
            if (field.FieldId == NvmlFields.NvLinkState)
            {
                nvLinkUp.Add(ok ? (value != 0 ? 1 : 0) : double.NaN);
            }
            else if (ok && RowOf(field.FieldId) is { Field: { } spec } metric)
            {
                v[(int)metric.Value] = value * spec.Scale;
            }
        }

        if (rebuild)
        {
            Build(LinksOf(v));
        }
    }

    /// <summary>Builds the batch for <paramref name="links"/> NVLink links, without the fields found unsupported.</summary>
    public void Build(int links)
    {
        var batch = new List<NvmlFieldValue>();
        foreach (var metric in Rows)
        {
            var field = metric.Field!;
            if ((!field.NvLink || links > 0) && !_unsupported.Contains(field.Id))
            {
                batch.Add(new NvmlFieldValue { FieldId = field.Id, ScopeId = field.Scope });
            }
        }

        for (var link = 0u; link < links && link < 64; link++)
        {
            if (!_unsupported.Contains(NvmlFields.NvLinkState))
            {
                batch.Add(new NvmlFieldValue { FieldId = NvmlFields.NvLinkState, ScopeId = link });
            }
        }

        _fields = [.. batch];
    }

    /// <summary>The link count held in <paramref name="v"/>, 0 when unknown.</summary>
    public static int LinksOf(double[] v) => double.IsNaN(v[(int)GpuValue.NvLinkCount]) ? 0 : (int)v[(int)GpuValue.NvLinkCount];

    private static GpuMetric? RowOf(uint fieldId)
    {
        foreach (var metric in Rows)
        {
            if (metric.Field!.Id == fieldId)
            {
                return metric;
            }
        }

        return null;
    }

    /// <summary>The entry's own result (Unknown when NVML left it unwritten) and its value as a double.</summary>
    private static NvmlReturn FieldResult(in NvmlFieldValue field, out double value)
    {
        value = field.ValueType switch
        {
            0 => field.Value.Double,
            1 => field.Value.UInt,
            2 or 3 => field.Value.ULong,
            4 => field.Value.SLong,
            5 => field.Value.SInt,
            6 => field.Value.UShort,
            _ => double.NaN,
        };
        if (field.NvmlReturn == (int)NvmlReturn.Unknown && field.Timestamp == 0)
        {
            return NvmlReturn.Unknown;
        }

        return (NvmlReturn)field.NvmlReturn == NvmlReturn.Success && double.IsNaN(value) ? NvmlReturn.Unknown : (NvmlReturn)field.NvmlReturn;
    }
}
