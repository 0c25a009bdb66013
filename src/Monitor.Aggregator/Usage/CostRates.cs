using System.Globalization;
using Monitor.Aggregator.Storage;
using YamlDotNet.RepresentationModel;

namespace Monitor.Aggregator.Usage;

/// <summary>One rate set: per allocated GPU-hour, per kWh of GPU energy, per CPU-hour.</summary>
internal sealed record Rate(double GpuHour, double Kwh, double CpuHour);

/// <summary>
/// Chargeback rates from <c>--cost.file</c> (docs/aggregator.md, "Cost"): a default rate set and one per partition,
/// each with a price per allocated GPU-hour, per kWh of GPU energy and per CPU-hour. A partition's rate set inherits
/// what it does not name from the default. Cost = GPU-hours allocated × gpu_hour + kWh × kwh + CPU-hours × cpu_hour.
/// <code>
/// currency: EUR
/// gpu_hour: 1.50
/// kwh: 0.20
/// partitions:
///   h100: { gpu_hour: 3.40 }
/// </code>
/// Rates per GPU model are not offered: the jobs feed does not carry the model, and on Slurm clusters the partition
/// usually is the model.
/// </summary>
internal sealed class CostRates
{
    private readonly Dictionary<string, Rate> _partitions;

    private CostRates(string currency, Rate defaults, Dictionary<string, Rate> partitions)
    {
        Currency = currency;
        Default = defaults;
        _partitions = partitions;
    }

    /// <summary>The currency's code, written beside every cost.</summary>
    public string Currency { get; }

    /// <summary>The rates of partitions not listed.</summary>
    public Rate Default { get; }

    /// <summary>The rates of <paramref name="partition"/>.</summary>
    public Rate For(string partition) => _partitions.GetValueOrDefault(partition, Default);

    /// <summary>What <paramref name="usage"/> in <paramref name="partition"/> costs.</summary>
    public double Cost(string partition, UsageRow usage)
    {
        var rate = For(partition);
        return (usage.GpuAllocatedSeconds / 3600 * rate.GpuHour) + (usage.GpuEnergyJoules / 3.6e6 * rate.Kwh) + (usage.CpuSeconds / 3600 * rate.CpuHour);
    }

    /// <summary>Reads the rates file at <paramref name="path"/>; a <see cref="FormatException"/> names what is wrong and where.</summary>
    public static CostRates Load(string path) => Parse(Monitor.Contracts.SafeYaml.ReadFile(path), path);

    /// <summary>Parses a rates document; <paramref name="name"/> is used in errors.</summary>
    public static CostRates Parse(string text, string name)
    {
        var stream = Monitor.Contracts.SafeYaml.Load(text, 8, name);

        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new FormatException($"{name}: expected one mapping with currency, gpu_hour, kwh, cpu_hour and partitions");
        }

        var currency = "";
        var defaults = new Rate(0, 0, 0);
        YamlMappingNode? partitions = null;
        foreach (var (key, value) in root.Children)
        {
            switch (Scalar(key, name, "a key"))
            {
                case "currency":
                    currency = Scalar(value, name, "currency");
                    if (currency.Length is 0 or > 8)
                    {
                        throw new FormatException($"{name}: currency must be a short code such as EUR or USD, not '{currency}'");
                    }

                    break;
                case "partitions":
                    partitions = value as YamlMappingNode ?? throw new FormatException($"{name}: partitions must be a mapping of partition name to rates");
                    break;
                case var field:
                    defaults = With(defaults, field, value, name, "");
                    break;
            }
        }

        var byPartition = new Dictionary<string, Rate>(StringComparer.Ordinal);
        foreach (var (key, value) in partitions?.Children ?? Enumerable.Empty<KeyValuePair<YamlNode, YamlNode>>())
        {
            var partition = Scalar(key, name, "a partition name");
            if (value is not YamlMappingNode rates)
            {
                throw new FormatException($"{name}: partitions.{partition} must be a mapping such as {{ gpu_hour: 2.5 }}");
            }

            var rate = defaults;
            foreach (var (field, number) in rates.Children)
            {
                rate = With(rate, Scalar(field, name, "a key"), number, name, $"partitions.{partition}.");
            }

            byPartition[partition] = rate;
        }

        return new CostRates(currency, defaults, byPartition);
    }

    private static Rate With(Rate rate, string field, YamlNode value, string name, string path)
    {
        if (field is not ("gpu_hour" or "kwh" or "cpu_hour"))
        {
            throw new FormatException($"{name}: unknown field {path}{field} (expected currency, gpu_hour, kwh, cpu_hour, partitions)");
        }

        var text = Scalar(value, name, path + field);
        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number))
        {
            throw new FormatException($"{name}: {path}{field} must be a number of zero or more, not '{text}'");
        }

        return field switch
        {
            "gpu_hour" => rate with { GpuHour = number },
            "kwh" => rate with { Kwh = number },
            _ => rate with { CpuHour = number },
        };
    }

    private static string Scalar(YamlNode node, string name, string what) =>
        node is YamlScalarNode { Value: { } value }
            ? value
            : throw new FormatException($"{name}: {what} must be a plain value (line {node.Start.Line})");
}
