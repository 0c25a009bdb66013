using System.Net;
using System.Security.Cryptography.X509Certificates;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// <c>client_auth_type</c> with <c>client_ca_file</c>, now applied per handshake (so SIGHUP can change it): a client
/// certificate signed by the CA is accepted, none or a foreign one is refused.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class MutualTlsTests
{
    [Theory]
    [InlineData("RequireAndVerifyClientCert", false)]
    [InlineData("VerifyClientCertIfGiven", true)]
    public async Task ClientAuth_CertificatesFromTheCaAccepted_ForeignRefused(string clientAuthType, bool anonymousAllowed)
    {
        using var files = new WebConfigFiles();
        using var server = files.WriteServerCertificate("127.0.0.1");
        using var trusted = files.WriteClientAuthority("scraper");
        using var foreignFiles = new WebConfigFiles();
        using var foreign = foreignFiles.WriteClientAuthority("intruder");
        files.WriteRaw($"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n  client_auth_type: {clientAuthType}\n");
        await using var agent = await AgentProcess.StartExecutableAsync(AgentProcess.ExecutablePath, null, $"--web.config.file={files.ConfigPath}");

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(files, agent.MetricsUri, trusted));
        Assert.Null(await StatusOrNullAsync(files, agent.MetricsUri, foreign));
        var anonymous = await StatusOrNullAsync(files, agent.MetricsUri, null);
        Assert.Equal(anonymousAllowed ? HttpStatusCode.OK : null, anonymous);
    }

    private static async Task<HttpStatusCode> StatusAsync(WebConfigFiles files, Uri uri, X509Certificate2 client) =>
        await StatusOrNullAsync(files, uri, client) ?? throw new InvalidOperationException("the trusted client certificate was refused");

    // Null when the handshake (or the connection right after it, TLS 1.3 reports a refused certificate late) fails.
    private static async Task<HttpStatusCode?> StatusOrNullAsync(WebConfigFiles files, Uri uri, X509Certificate2? client)
    {
        using var handler = files.TrustingHandler();
        if (client is not null)
        {
            handler.ClientCertificateOptions = ClientCertificateOption.Manual;
            handler.ClientCertificates.Add(client);
        }

        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
        try
        {
            using var response = await http.GetAsync(uri);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
