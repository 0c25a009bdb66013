using System.Text.RegularExpressions;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// tests/aot-integration.sh runs the Native AOT agent through exactly the tests marked
/// <c>[Trait("Category", "AgentProcess")]</c>. A test class that starts the agent without the mark would silently not
/// run against the shipped binary, so every test class in a file that starts the agent process must carry it.
/// </summary>
public sealed partial class AgentProcessTraitTests
{
    [Fact]
    public void TestClassesThatStartTheAgent_AllCarryTheAgentProcessTrait()
    {
        var root = Path.Join(RepositoryRoot(), "tests", "Monitor.IntegrationTests");
        var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (Path: f, Text: File.ReadAllText(f)))
            .Where(f => StartsTheAgent().IsMatch(f.Text) && (f.Text.Contains("[Fact", StringComparison.Ordinal) || f.Text.Contains("[Theory", StringComparison.Ordinal)))
            .Select(f => f.Path)
            .ToList();
        Assert.NotEmpty(files);

        var unmarked = new List<string>();
        var marked = 0;
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var match = TestClass().Match(lines[i]);
                if (!match.Success)
                {
                    continue;
                }

                var hasTrait = false;
                for (var j = i - 1; j >= 0 && lines[j].StartsWith('['); j--)
                {
                    hasTrait |= lines[j] == """[Trait("Category", "AgentProcess")]""";
                }

                if (hasTrait)
                {
                    marked++;
                }
                else
                {
                    unmarked.Add($"{Path.GetRelativePath(root, file)}: {match.Groups[1].Value}");
                }
            }
        }

        Assert.True(unmarked.Count == 0, "test classes that start monitor-agent without [Trait(\"Category\", \"AgentProcess\")]:\n" + string.Join('\n', unmarked));
        Assert.True(marked >= files.Count, $"only {marked} marked test classes in {files.Count} test files that start the agent");
    }

    [GeneratedRegex(@"AgentProcess\.(StartAsync|ExecutablePath|RunToExitAsync)|StoppableAgent\.StartAsync|ShippedAgentBuild\.GetAsync")]
    private static partial Regex StartsTheAgent();

    [GeneratedRegex(@"^public sealed (?:partial )?class (\w+Tests)\b")]
    private static partial Regex TestClass();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Join(dir.FullName, "Monitor.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Monitor.sln above {AppContext.BaseDirectory}");
    }
}
