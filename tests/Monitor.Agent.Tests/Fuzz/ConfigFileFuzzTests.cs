using System.Globalization;
using System.Text;
using System.Text.Json;
using CsCheck;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Testing;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// <c>--config.file</c> through <see cref="AgentOptions.Load"/> with the agent's real flag table: any file content,
/// however deeply nested, gives options or an <see cref="OptionsException"/> (exit code 2 with the key named), never
/// another exception; in a generated file of the agent's own keys, every value that loads is the value the
/// configuration then holds.
/// </summary>
public sealed class ConfigFileFuzzTests : IDisposable
{
    private static readonly IReadOnlyList<FlagSpec> Flags = AgentFlags.All(CollectorCatalog.All);

    /// <summary>Keys whose values open files or the network at load time; left out of the generated files.</summary>
    private static readonly HashSet<string> Excluded = new(StringComparer.OrdinalIgnoreCase)
    {
        AgentFlags.Keys.WebConfigFile, AgentFlags.Keys.EsUrl, AgentFlags.Keys.EsApiKeyFile, AgentFlags.Keys.EsPasswordFile, AgentFlags.Keys.EsCaFile,
    };

    private static readonly FlagSpec[] Settable = [.. Flags.Where(f => !Excluded.Contains(f.Key))];

    private static readonly string[] Seeds =
    [
        """{ "Web": { "ListenAddress": ":9420", "TelemetryPath": "/metrics", "MaxRequests": 40 }, "Log": { "Level": "warn", "Format": "json" } }""",
        """{ "Collectors": { "cpu": { "Enabled": false }, "diskstats": { "device-exclude": "^(ram|loop)\\d+$" }, "hwmon": { "Enabled": true } } }""",
        "{ \"Path\": { \"Procfs\": \"/host/proc\", \"Sysfs\": \"/host/sys\" }, // comment\n  \"Collectors\": { \"filesystem\": { \"Enabled\": true, }, }, }",
        "{}",
    ];

    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    /// <summary>JSON nested <c>depth</c> levels: objects, arrays, or objects under real section names.</summary>
    private static Gen<string> Nesting { get; } = Gen.Select(Gen.Int[1, 100_000], Gen.Int[0, 2], (depth, kind) => kind switch
    {
        0 => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth),
        1 => "{\"Web\":" + new string('[', depth) + new string(']', depth) + "}",
        _ => string.Concat(Enumerable.Repeat("{\"Collectors\":", depth)) + "{}" + new string('}', depth),
    });

    /// <summary>A value for a setting: a valid one, text, numbers, booleans, null, a list or an object.</summary>
    private static Gen<JsonValue> Value(FlagSpec flag) => Gen.Frequency(
        (4, Gen.Const(new JsonValue(JsonValueKind.String, flag.Default))),
        (2, Gen.String[FuzzGen.AnyChar.Where(c => !char.IsSurrogate(c)), 0, 12].Select(s => new JsonValue(JsonValueKind.String, s))),
        (1, Gen.OneOf("0", "1", "-1", "1.5", "1e400", "40", "99999999999").Select(n => new JsonValue(JsonValueKind.Number, n))),
        (1, Gen.Bool.Select(b => new JsonValue(b ? JsonValueKind.True : JsonValueKind.False, b ? "true" : "false"))),
        (1, Gen.OneOf("500ms", "5s", "0s", "-1s", "1h", "true", "false", "debug", "json", "(", ".*", ":1", "127.0.0.1:0", "/x").Select(s => new JsonValue(JsonValueKind.String, s))),
        (1, Gen.OneOf(JsonValueKind.Null, JsonValueKind.Array, JsonValueKind.Object).Select(k => new JsonValue(k, ""))));

    private static Gen<(FlagSpec Flag, JsonValue Value)[]> Settings { get; } =
        Gen.Int[0, Settable.Length - 1].SelectMany(i => Value(Settable[i]).Select(v => (Settable[i], v))).Array[0, 8];

    [Fact]
    public void ParseConfigFile_AnyText_ReturnsSettingsOrOptionsException() =>
        FuzzCheck.Run(
            "AgentOptions.ParseConfigFile",
            // What File.ReadAllText hands it: the file's bytes decoded as UTF-8, so never a lone surrogate.
            Gen.Frequency((6, FuzzGen.Text(Seeds)), (3, Settings.Select(Render)), (1, Nesting)).Select(t => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(t))),
            text => text.Length,
            text => AgentOptions.ParseConfigFile(text, "agent.json", Flags).Count >= 0,
            ciIterations: 1_000,
            new FuzzLimits(BytesPerUnit: 256),
            documented: typeof(OptionsException));

    [Fact]
    public void Load_AnyFile_ReturnsOptionsOrOptionsException() =>
        FuzzCheck.Run(
            "AgentOptions.Load (--config.file)",
            Gen.Frequency((6, FuzzGen.Text(Seeds)), (3, Settings.Select(Render)), (1, Nesting)),
            text => text.Length,
            text => Load(text) is not null,
            ciIterations: 300,
            // Load builds the flag table of every collector (45 since issue 17) and the whole configuration before it
            // reads a byte of the file: a failing case of 50,353 chars allocated 13,944,824 B, just over 1 MiB beyond
            // 256 B a char. 2 MiB fixed keeps that cost out of the bound; unbounded growth is still tens of MB.
            new FuzzLimits(FixedBytes: 2 << 20, BytesPerUnit: 256),
            threads: 1,
            longRunShare: 0.05,
            documented: typeof(OptionsException));

    [Fact]
    public void Load_NullValue_ThrowsOptionsExceptionNamingKey()
    {
        // JSON null reached the configuration as a missing value and then a NullReferenceException at startup.
        var error = Assert.Throws<OptionsException>(() => Load("""{ "Web": { "ListenAddress": null } }"""));

        Assert.Contains("Web:ListenAddress", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_GeneratedFile_ConfigurationHoldsEachValue() =>
        FuzzCheck.Run(
            "AgentOptions.Load (--config.file, generated)",
            Settings,
            s => s.Length,
            settings =>
            {
                var text = Render(settings);
                AgentOptions options;
                try
                {
                    options = Load(text);
                }
                catch (OptionsException)
                {
                    // A value the flag table refuses: covered by the other property; nothing to compare.
                    return false;
                }

                // The last value written for a key is the one that counts; scalars are kept as their JSON text.
                var expected = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var (flag, value) in settings)
                {
                    expected[flag.Key] = value.Text;
                }

                foreach (var (key, value) in expected)
                {
                    Assert.Equal(value, options.Configuration[key]);
                }

                return true;
            },
            ciIterations: 300,
            FuzzLimits.TimeOnly,
            threads: 1,
            longRunShare: 0.05);

    private AgentOptions Load(string text)
    {
        var path = _tree.Path("agent.json");
        // Encoding.UTF8 writes a lone surrogate as U+FFFD instead of throwing; invalid UTF-8 comes from the byte mutations.
        File.WriteAllBytes(path, Encoding.UTF8.GetBytes(text));
        return AgentOptions.Load(new CommandLine(CommandAction.Run, new Dictionary<string, string>(), path), Flags, CollectorCatalog.All, _ => null);
    }

    /// <summary>The settings as a JSON object nested by the key's sections (<c>Web:ListenAddress</c> → Web → ListenAddress).</summary>
    private static string Render((FlagSpec Flag, JsonValue Value)[] settings)
    {
        var root = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var (flag, value) in settings)
        {
            var parts = flag.Key.Split(':');
            var node = root;
            foreach (var part in parts[..^1])
            {
                if (!node.TryGetValue(part, out var child) || child is not Dictionary<string, object> section)
                {
                    section = new Dictionary<string, object>(StringComparer.Ordinal);
                    node[part] = section;
                }

                node = section;
            }

            node[parts[^1]] = value;
        }

        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            Write(writer, root);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Write(Utf8JsonWriter writer, object node)
    {
        switch (node)
        {
            case Dictionary<string, object> section:
                writer.WriteStartObject();
                foreach (var (name, child) in section)
                {
                    writer.WritePropertyName(name);
                    Write(writer, child);
                }

                writer.WriteEndObject();
                break;
            case JsonValue { Kind: JsonValueKind.String } value:
                writer.WriteStringValue(value.Text);
                break;
            case JsonValue { Kind: JsonValueKind.Number } value:
                writer.WriteRawValue(value.Text, skipInputValidation: true);
                break;
            case JsonValue { Kind: JsonValueKind.True or JsonValueKind.False } value:
                writer.WriteBooleanValue(value.Kind == JsonValueKind.True);
                break;
            case JsonValue { Kind: JsonValueKind.Null }:
                writer.WriteNullValue();
                break;
            case JsonValue { Kind: JsonValueKind.Array }:
                writer.WriteStartArray();
                writer.WriteStringValue("x");
                writer.WriteEndArray();
                break;
            default:
                writer.WriteStartObject();
                writer.WriteString("x", "y");
                writer.WriteEndObject();
                break;
        }
    }

    /// <summary>A generated JSON value: its kind and, for scalars, its text as the configuration will hold it.</summary>
    private sealed record JsonValue(JsonValueKind Kind, string Text)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Kind}:{Text}");
    }
}
