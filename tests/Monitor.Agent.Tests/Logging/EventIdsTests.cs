using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Logging;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Logging;

/// <summary>
/// The event catalogue (<see cref="EventIds"/>) against the code and the docs: every <c>[LoggerMessage]</c> takes its id
/// from the catalogue, no two share one, every catalogue id is used and lies in its range, and docs/events.md lists
/// exactly the catalogue's ids.
/// </summary>
public sealed partial class EventIdsTests
{
    private static readonly (string Name, int First, int Last)[] Ranges =
    [
        ("Host", EventIds.HostFirst, EventIds.HostLast),
        ("Collectors", EventIds.CollectorsFirst, EventIds.CollectorsLast),
        ("Endpoint", EventIds.EndpointFirst, EventIds.EndpointLast),
        ("Shipper", EventIds.ShipperFirst, EventIds.ShipperLast),
        ("HostCollectors", EventIds.HostCollectorsFirst, EventIds.HostCollectorsLast),
        ("Gpu", EventIds.GpuFirst, EventIds.GpuLast),
        ("Jobs", EventIds.JobsFirst, EventIds.JobsLast),
    ];

    [Fact]
    public void LoggerMessages_EachIdFromTheCatalogueAndUsedOnce()
    {
        var catalogue = CatalogueEvents();
        var messages = LoggerMessages();

        Assert.NotEmpty(messages);
        var byId = messages.GroupBy(m => m.Id).ToList();
        Assert.Empty(byId.Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Method))}"));
        Assert.Empty(messages.Where(m => !catalogue.ContainsValue(m.Id)).Select(m => $"{m.Method} uses {m.Id}, which is not in EventIds"));
        Assert.Empty(catalogue.Where(c => messages.All(m => m.Id != c.Value)).Select(c => $"EventIds.{c.Key} ({c.Value}) has no [LoggerMessage]"));
    }

    [Fact]
    public void Catalogue_EveryIdInOneRange()
    {
        foreach (var (name, id) in CatalogueEvents())
        {
            var owners = Ranges.Where(r => id >= r.First && id <= r.Last).Select(r => r.Name).ToList();
            Assert.True(owners.Count == 1, $"EventIds.{name} ({id}) lies in {owners.Count} ranges");
        }

        Assert.InRange(EventIds.InfiniBandFirst, EventIds.HostCollectorsFirst, EventIds.InfiniBandLast);
        Assert.InRange(EventIds.InfiniBandLast, EventIds.InfiniBandFirst, EventIds.HostCollectorsLast);
    }

    [Fact]
    public void EventsDoc_ListsExactlyTheCatalogue()
    {
        var documented = new HashSet<int>();
        foreach (var line in File.ReadLines(Path.Join(Fixtures.RepositoryRoot, "docs", "events.md")))
        {
            var row = DocRow().Match(line);
            if (!row.Success)
            {
                continue;
            }

            foreach (var part in row.Groups[1].Value.Split(','))
            {
                var bounds = part.Trim().Split('–');
                var first = int.Parse(bounds[0], System.Globalization.CultureInfo.InvariantCulture);
                var last = bounds.Length == 2 ? int.Parse(bounds[1], System.Globalization.CultureInfo.InvariantCulture) : first;
                for (var id = first; id <= last; id++)
                {
                    documented.Add(id);
                }
            }
        }

        var ids = CatalogueEvents().Values.ToHashSet();
        Assert.Empty(ids.Except(documented).Order().Select(id => $"{id} is missing from docs/events.md"));
        Assert.Empty(documented.Except(ids).Order().Select(id => $"docs/events.md lists {id}, which is not in EventIds"));
    }

    /// <summary>The catalogue's event constants (not the range bounds), by name.</summary>
    private static Dictionary<string, int> CatalogueEvents() =>
        typeof(EventIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && !f.Name.EndsWith("First", StringComparison.Ordinal) && !f.Name.EndsWith("Last", StringComparison.Ordinal))
            .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);

    /// <summary>Every <c>[LoggerMessage]</c> method in the agent.</summary>
    private static List<(string Method, int Id)> LoggerMessages() =>
        typeof(EventIds).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .Select(m => ($"{m.Method.DeclaringType!.Name}.{m.Method.Name}", m.Attribute!.EventId))
            .ToList();

    /// <summary>A table row of docs/events.md whose first cell is ids: <c>| 3003 |</c>, <c>| 2117, 2118 |</c>, <c>| 1300–1312 |</c>.</summary>
    [GeneratedRegex(@"^\| ([0-9]{4}(?:(?:–|, )[0-9]{4})*) \|")]
    private static partial Regex DocRow();
}
