using System.Text.RegularExpressions;
using Monitor.Aggregator.Alerting;
using Monitor.Testing;
using YamlDotNet.RepresentationModel;

namespace Monitor.Aggregator.Tests.Alerting;

/// <summary>
/// Every alert Monitor raises, from Prometheus (alerts/*.rules.yml) or from the aggregator, has a team, a severity and
/// a runbook_url pointing at its own section of docs/runbooks.md, and that section exists; the runbooks hold no section
/// for an alert that does not exist.
/// </summary>
public sealed partial class RunbookTests
{
    private static readonly string RunbookBase = new JobAlertRules().RunbookUrl;

    [Fact]
    public void EveryAlert_HasTeamSeverityAndARunbookSectionThatExists()
    {
        var anchors = Anchors();
        var alerts = new List<string>();
        var severities = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Join(Fixtures.RepositoryRoot, "alerts"), "*.rules.yml").Order(StringComparer.Ordinal))
        {
            var yaml = new YamlStream();
            yaml.Load(new StringReader(File.ReadAllText(file)));
            foreach (YamlMappingNode group in (YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["groups"])
            {
                foreach (YamlMappingNode rule in (YamlSequenceNode)group["rules"])
                {
                    if (!rule.Children.TryGetValue("alert", out var name))
                    {
                        continue;
                    }

                    var alert = ((YamlScalarNode)name).Value!;
                    var labels = (YamlMappingNode)rule["labels"];
                    alerts.Add(alert);
                    severities.Add($"{alert}/{((YamlScalarNode)labels["severity"]).Value}");
                    var annotations = (YamlMappingNode)rule["annotations"];
                    Assert.True(labels.Children.TryGetValue("team", out var team) && ((YamlScalarNode)team).Value is "oncall" or "tenant", $"{alert} in {file}: no team label (oncall or tenant)");
                    Assert.True(labels.Children.TryGetValue("severity", out var severity) && ((YamlScalarNode)severity).Value is "critical" or "warning" or "info", $"{alert}: severity");
                    Assert.True(annotations.Children.TryGetValue("runbook_url", out var url), $"{alert} in {file}: no runbook_url");
                    Assert.Equal($"{RunbookBase}#{alert.ToLowerInvariant()}", ((YamlScalarNode)url).Value);
                    Assert.True(anchors.Contains(alert.ToLowerInvariant()), $"docs/runbooks.md has no section '### {alert}'");
                }
            }
        }

        Assert.True(alerts.Count >= 30, $"only {alerts.Count} alerts found");
        // One rule per alert and severity: the node-mixin's alerts come as a warning and a critical rule of one name.
        Assert.Equal(severities.Count, severities.Distinct(StringComparer.Ordinal).Count());
        foreach (var alert in JobAlertEvaluator.Names)
        {
            Assert.True(anchors.Contains(alert.ToLowerInvariant()), $"docs/runbooks.md has no section '### {alert}'");
            Assert.DoesNotContain(alert, alerts);   // one name, one alert: the aggregator's never share a Prometheus rule's name
        }

        // No section for an alert that does not exist (the alerts' sections are the level-3 headings).
        var sections = File.ReadAllLines(Path.Join(Fixtures.RepositoryRoot, "docs", "runbooks.md"))
            .Where(l => l.StartsWith("### ", StringComparison.Ordinal)).Select(l => l[4..].Trim()).ToList();
        Assert.All(sections, s => Assert.Matches(AlertName(), s));
        Assert.Empty(sections.Except(alerts.Concat(JobAlertEvaluator.Names)));
    }

    /// <summary>The anchors GitHub gives the headings of docs/runbooks.md: lower case, punctuation dropped, spaces as dashes.</summary>
    private static HashSet<string> Anchors() =>
        [.. File.ReadAllLines(Path.Join(Fixtures.RepositoryRoot, "docs", "runbooks.md"))
            .Where(l => l.StartsWith('#'))
            .Select(l => Punctuation().Replace(l.TrimStart('#').Trim().ToLowerInvariant(), "").Replace(' ', '-'))];

    [GeneratedRegex(@"[^a-z0-9 _-]")]
    private static partial Regex Punctuation();

    [GeneratedRegex(@"^[A-Z][A-Za-z0-9]+$")]
    private static partial Regex AlertName();
}
