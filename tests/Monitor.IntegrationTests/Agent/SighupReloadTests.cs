using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>SIGHUP reloads <c>--web.config.file</c> (users and certificates) in the running agent and never ends it.</summary>
[Trait("Category", "AgentProcess")]
public sealed class SighupReloadTests
{
    [Fact]
    public async Task Sighup_ChangedUsersAndCertificate_NewPasswordAndCertificateServedOldPasswordRefused()
    {
        using var files = new WebConfigFiles();
        using var first = files.WriteServerCertificate("127.0.0.1 first");
        files.WriteConfig(tls: true, ("prometheus", "old-secret"));
        await using var agent = await AgentProcess.StartExecutableAsync(AgentProcess.ExecutablePath, null, $"--web.config.file={files.ConfigPath}");
        X509Certificate2? seen = null;
        using var handler = files.TrustingHandler(c => seen = new X509Certificate2(c));
        using var client = new HttpClient(handler);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, agent.MetricsUri, "prometheus:old-secret"));
        Assert.Equal(first.Thumbprint, seen!.Thumbprint);

        using var second = files.WriteServerCertificate("127.0.0.1 second");
        files.WriteConfig(tls: true, ("prometheus", "new-secret"), ("grafana", "another"));
        await agent.SignalAsync("HUP");
        await agent.WaitForLogAsync("reloaded --web.config.file", TimeSpan.FromSeconds(30));

        // Same keep-alive connection: users apply at once.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, agent.MetricsUri, "prometheus:old-secret"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, agent.MetricsUri, "prometheus:new-secret"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, agent.MetricsUri, "grafana:another"));

        // A new connection gets the new certificate.
        using var freshHandler = files.TrustingHandler(c => seen = new X509Certificate2(c));
        using var fresh = new HttpClient(freshHandler);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(fresh, agent.MetricsUri, "prometheus:new-secret"));
        Assert.Equal(second.Thumbprint, seen!.Thumbprint);
        Assert.Contains("TLS on (CN=127.0.0.1 second", agent.Log, StringComparison.Ordinal);
        Assert.Contains("2 basic-auth user(s)", agent.Log, StringComparison.Ordinal);
        Assert.False(agent.HasExited);
        Assert.DoesNotContain("new-secret", agent.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("old-secret", agent.Log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("basic_auth_users:\n  prometheus: not-a-bcrypt-hash\n", "is not a bcrypt hash")]
    [InlineData("tls_server_config: [unclosed\n", "is not valid YAML")]
    [InlineData("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", "cannot load tls_server_config cert_file")]
    [InlineData("basic_auth_users:\n  prometheus: '{HASH}'\n", "turns TLS off")]
    public async Task Sighup_BadNewFile_KeepsTheOldConfigurationAndSaysWhy(string badFile, string reason)
    {
        using var files = new WebConfigFiles();
        using var certificate = files.WriteServerCertificate("127.0.0.1");
        files.WriteConfig(tls: true, ("prometheus", "kept-secret"));
        await using var agent = await AgentProcess.StartExecutableAsync(AgentProcess.ExecutablePath, null, $"--web.config.file={files.ConfigPath}");
        using var handler = files.TrustingHandler();
        using var client = new HttpClient(handler);

        files.WriteRaw(badFile.Replace("{HASH}", BCrypt.Net.BCrypt.HashPassword("kept-secret", 4), StringComparison.Ordinal));
        await agent.SignalAsync("HUP");
        await agent.WaitForLogAsync("was not reloaded", TimeSpan.FromSeconds(30));

        Assert.Contains(reason, agent.Log, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, agent.MetricsUri, "prometheus:kept-secret"));
        using var metrics = new HttpRequestMessage(HttpMethod.Get, agent.MetricsUri);
        metrics.Headers.Authorization = Basic("prometheus:kept-secret");
        using var response = await client.SendAsync(metrics);
        Assert.Contains("monitor_agent_web_config_last_reload_successful 0\n", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(agent.HasExited);
    }

    [Fact]
    public async Task Sighup_WithoutWebConfig_IsLoggedAndNeverEndsTheProcess()
    {
        await using var agent = await AgentProcess.StartExecutableAsync(AgentProcess.ExecutablePath, null);
        using var client = new HttpClient();

        for (var i = 0; i < 3; i++)
        {
            await agent.SignalAsync("HUP");
        }

        await agent.WaitForLogAsync("SIGHUP: no --web.config.file to reload", TimeSpan.FromSeconds(30));
        using var response = await client.GetAsync(agent.MetricsUri);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(agent.HasExited);
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, Uri uri, string credentials)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Authorization = Basic(credentials);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static AuthenticationHeaderValue Basic(string credentials) => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
}
