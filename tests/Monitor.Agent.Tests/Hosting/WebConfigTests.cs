using Monitor.Agent.Configuration;
using Monitor.Agent.Hosting;

namespace Monitor.Agent.Tests.Hosting;

public sealed class WebConfigTests
{
    private const string Hash = "$2y$10$X0h1s.Yqo9bYzq0Q1i4eHOEvWJm7i0b0rT2lL8V3n5n7Jc9h0yS7e";

    [Fact]
    public void Parse_FullConfig_ReadsEveryKeyAndResolvesRelativePaths()
    {
        var config = WebConfig.Parse(
            $"""
            tls_server_config:
              cert_file: server.crt
              key_file: /etc/monitor/server.key
              client_ca_file: ca.crt
              client_auth_type: RequireAndVerifyClientCert
              min_version: TLS13
            basic_auth_users:
              prometheus: {Hash}
            """,
            "/etc/monitor/web.yml");

        Assert.True(config.UsesTls);
        Assert.Equal("/etc/monitor/server.crt", config.CertFile);
        Assert.Equal("/etc/monitor/server.key", config.KeyFile);
        Assert.Equal("/etc/monitor/ca.crt", config.ClientCaFile);
        Assert.Equal(ClientAuthType.RequireAndVerifyClientCert, config.ClientAuth);
        Assert.Equal(System.Security.Authentication.SslProtocols.Tls13, config.MinTlsVersion);
        Assert.Equal(Hash, config.BasicAuthUsers["prometheus"]);
    }

    [Fact]
    public void Parse_EmptyFile_IsPlainHttpWithoutAuth()
    {
        var config = WebConfig.Parse(string.Empty, "web.yml");

        Assert.False(config.UsesTls);
        Assert.Empty(config.BasicAuthUsers);
    }

    [Theory]
    [InlineData("tls_server_config:\n  cert_file: a.crt\n", "needs both cert_file and key_file")]
    [InlineData("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_type: Always\n", "allowed values: NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert")]
    [InlineData("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_type: RequireAndVerifyClientCert\n", "needs client_ca_file")]
    [InlineData("tls_server_config:\n  certfile: a.crt\n", "unknown key tls_server_config.certfile; allowed keys: cert_file")]
    [InlineData("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  min_version: TLS10\n", "allowed values: TLS12, TLS13")]
    [InlineData("basic_auth_users:\n  prometheus: secret\n", "basic_auth_users.prometheus is not a bcrypt hash")]
    [InlineData("basic_auth:\n  x: y\n", "unknown key 'basic_auth'; allowed keys: tls_server_config, basic_auth_users")]
    [InlineData("tls_server_config: [a, b]\n", "tls_server_config must be a mapping")]
    [InlineData("- a\n- b\n", "the top level must be a mapping")]
    [InlineData("a: [\n", "not valid YAML")]
    public void Parse_Invalid_ThrowsNamingKey(string yaml, string message)
    {
        var error = Assert.Throws<OptionsException>(() => WebConfig.Parse(yaml, "web.yml"));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains("'web.yml'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_ThrowsNamingPath()
    {
        var error = Assert.Throws<OptionsException>(() => WebConfig.Load("/nonexistent/web.yml"));

        Assert.Contains("cannot read --web.config.file '/nonexistent/web.yml'", error.Message, StringComparison.Ordinal);
    }
}
