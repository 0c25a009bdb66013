using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// The agent behind TLS and basic auth from an exporter-toolkit web config file, checked with a real TLS client that
/// trusts only the test's own CA.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class WebConfigTests
{
    [Fact]
    public async Task TlsAndBasicAuth_OnlyAuthorizedHttpsScrapesSucceed()
    {
        var dir = Directory.CreateTempSubdirectory("monitor-tls-").FullName;
        try
        {
            using var ca = CreateCertificate("CN=monitor test CA", issuer: null, isCa: true);
            using var server = CreateCertificate("CN=127.0.0.1", ca, isCa: false);
            await File.WriteAllTextAsync(Path.Join(dir, "server.crt"), server.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Join(dir, "server.key"), server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            var hash = BCrypt.Net.BCrypt.HashPassword("s3cret", workFactor: 4);
            var config = Path.Join(dir, "web.yml");
            await File.WriteAllTextAsync(config, $"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: '{hash}'\n");

            await using var agent = await AgentProcess.StartAsync($"--web.config.file={config}");
            Assert.Equal("https", agent.BaseAddress.Scheme);
            using var handler = new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
                {
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return certificate is not null && chain.Build(certificate);
                },
            };
            using var client = new HttpClient(handler);

            using var anonymous = await client.GetAsync(agent.MetricsUri);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("Basic realm=\"monitor-agent\"", anonymous.Headers.WwwAuthenticate.ToString());

            Assert.Equal(HttpStatusCode.Unauthorized, await StatusWith(client, agent.MetricsUri, "prometheus:wrong"));
            Assert.Equal(HttpStatusCode.Unauthorized, await StatusWith(client, agent.MetricsUri, "nobody:s3cret"));
            Assert.Equal(HttpStatusCode.OK, await StatusWith(client, agent.MetricsUri, "prometheus:s3cret"));
            Assert.Equal(HttpStatusCode.OK, await StatusWith(client, agent.MetricsUri, "prometheus:s3cret"));

            using var plain = new HttpClient();
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync(new UriBuilder(agent.MetricsUri) { Scheme = "http" }.Uri));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task BadWebConfig_ExitsTwo()
    {
        var dir = Directory.CreateTempSubdirectory("monitor-tls-").FullName;
        var config = Path.Join(dir, "web.yml");
        await File.WriteAllTextAsync(config, "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n");

        var (code, _, stderr) = await AgentProcess.RunToExitAsync($"--web.config.file={config}");

        Assert.Equal(2, code);
        Assert.Contains("cannot load tls_server_config cert_file", stderr, StringComparison.Ordinal);
        Directory.Delete(dir, recursive: true);
    }

    private static async Task<HttpStatusCode> StatusWith(HttpClient client, Uri uri, string credentials)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static X509Certificate2 CreateCertificate(string subject, X509Certificate2? issuer, bool isCa)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, false, 0, true));
        if (!isCa)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        var now = DateTimeOffset.UtcNow;
        if (issuer is null)
        {
            return request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));
        }

        using var signed = request.Create(issuer, now.AddMinutes(-5), now.AddHours(1), [1, 2, 3, 4]);
        return signed.CopyWithPrivateKey(key);
    }
}
