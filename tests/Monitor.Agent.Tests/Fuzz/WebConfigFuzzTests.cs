using System.Text;
using CsCheck;
using Monitor.Agent.Configuration;
using Monitor.Agent.Hosting;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// <c>--web.config.file</c> (<see cref="WebConfig.Parse"/>, YAML in exporter-toolkit's format): any text, however
/// deeply nested, gives a config or an <see cref="OptionsException"/>, never another exception or a stack overflow;
/// generated valid files give back their settings.
/// </summary>
public sealed class WebConfigFuzzTests
{
    private const string Hash = "$2y$10$X0h1s.Yqo9bYzq0Q1i4eHOEvWJm7i0b0rT2lL8V3n5n7Jc9h0yS7e";

    private static readonly string[] Seeds =
    [
        $"tls_server_config:\n  cert_file: server.crt\n  key_file: /etc/monitor/server.key\n  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS13\nbasic_auth_users:\n  prometheus: {Hash}\n",
        $"basic_auth_users:\n  alice: '{Hash}'\n  bob: \"{Hash}\"\nhttp_server_config:\n  http2: false\n",
        "tls_server_config: {cert_file: a.crt, key_file: a.key}\n",
        "# empty\n",
        "---\ntls_server_config:\n  cert_file: &c a.crt\n  key_file: *c\n...\n",
    ];

    /// <summary>Nesting of every YAML kind: flow sequences, flow mappings, block mappings, block sequences.</summary>
    private static Gen<string> Nesting { get; } = Gen.Select(Gen.Int[1, 5_000], Gen.Int[0, 3], (depth, kind) => kind switch
    {
        0 => new string('[', depth) + new string(']', depth),
        1 => string.Concat(Enumerable.Repeat("{a: ", depth)) + "b" + new string('}', depth),
        2 => string.Concat(Enumerable.Range(0, Math.Min(depth, 1_500)).Select(i => new string(' ', i) + "a:\n")) + "x",
        _ => "tls_server_config:\n" + string.Concat(Enumerable.Range(1, Math.Min(depth, 1_500)).Select(i => new string(' ', i) + "- \n")),
    });

    [Fact]
    public void Parse_AnyText_ReturnsConfigOrOptionsException() =>
        FuzzCheck.Run(
            "WebConfig.Parse",
            Gen.Frequency((10, FuzzGen.Text(Seeds)), (1, Nesting)),
            text => text.Length,
            text => WebConfig.Parse(text, "/etc/monitor/web.yml") is not null,
            ciIterations: 500,
            new FuzzLimits(BytesPerUnit: 1_024),
            documented: typeof(OptionsException));

    [Theory]
    [InlineData("tls_server_config: {cert_\ntls_server_config: {cert_\n\n")]
    [InlineData("a: {b_\na: {b_\n")]
    [InlineData("tls_server_config:\n  : server.crt\n  key_file: a.key\n")]
    [InlineData("a:\n  : x\n  b: c")]
    public void Parse_YamlDotNetFailure_ThrowsOptionsException(string text)
    {
        // Found by the fuzz test: YamlDotNet throws InvalidOperationException or ArgumentException, not YamlException, for these.
        var error = Assert.Throws<OptionsException>(() => WebConfig.Parse(text, "web.yml"));

        Assert.Contains("not valid YAML", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(100_000)]
    [InlineData(1_000_000)]
    public void Parse_DeeplyNestedFlowSequence_ThrowsOptionsException(int depth)
    {
        // Loaded into YamlDotNet's node tree, this recursed until the stack overflowed, which kills the process.
        var text = new string('[', depth) + new string(']', depth);

        var error = Assert.Throws<OptionsException>(() => WebConfig.Parse(text, "web.yml"));

        Assert.Contains("nested", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_GeneratedConfig_ReturnsItsSettings() =>
        FuzzCheck.Run(
            "WebConfig.Parse (generated)",
            Gen.Select(
                Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789._-/"], 1, 20].Array[2].Select(p => p.Select(s => "/" + s).ToArray()),
                Gen.OneOf(ClientAuthType.NoClientCert, ClientAuthType.VerifyClientCertIfGiven, ClientAuthType.RequireAndVerifyClientCert),
                Gen.Bool,
                Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789_"], 1, 12].Array[0, 5],
                Gen.OneOf("", "'", "\"")),
            _ => 1,
            t =>
            {
                var (paths, clientAuth, tls13, users, quote) = t;
                var text = new StringBuilder("tls_server_config:\n")
                    .Append("  cert_file: ").Append(quote).Append(paths[0]).Append(quote).Append('\n')
                    .Append("  key_file: ").Append(quote).Append(paths[1]).Append(quote).Append('\n')
                    .Append("  client_ca_file: ").Append(paths[0]).Append(".ca\n")
                    .Append("  client_auth_type: ").Append(clientAuth).Append('\n')
                    .Append("  min_version: ").Append(tls13 ? "TLS13" : "TLS12").Append('\n');
                if (users.Length > 0)
                {
                    text.Append("basic_auth_users:\n");
                    foreach (var user in users.Distinct(StringComparer.Ordinal))
                    {
                        text.Append("  ").Append(user).Append(": ").Append(quote.Length == 0 ? "'" : quote).Append(Hash).Append(quote.Length == 0 ? "'" : quote).Append('\n');
                    }
                }

                var config = WebConfig.Parse(text.ToString(), "/etc/monitor/web.yml");

                Assert.Equal(paths[0], config.CertFile);
                Assert.Equal(paths[1], config.KeyFile);
                Assert.Equal(paths[0] + ".ca", config.ClientCaFile);
                Assert.Equal(clientAuth, config.ClientAuth);
                Assert.Equal(tls13 ? System.Security.Authentication.SslProtocols.Tls13 : System.Security.Authentication.SslProtocols.Tls12, config.MinTlsVersion);
                Assert.Equal(users.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal), config.BasicAuthUsers.Keys.Order(StringComparer.Ordinal));
                Assert.All(config.BasicAuthUsers.Values, h => Assert.Equal(Hash, h));
                return true;
            },
            ciIterations: 300,
            FuzzLimits.TimeOnly);
}
