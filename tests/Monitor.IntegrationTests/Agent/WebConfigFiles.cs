using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Monitor.IntegrationTests.Agent;

/// <summary>A temporary directory with a test CA, a server certificate for 127.0.0.1 and web config files.</summary>
internal sealed class WebConfigFiles : IDisposable
{
    public WebConfigFiles()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("monitor-listener-").FullName;
        Authority = CreateCertificate("CN=monitor listener test CA", issuer: null);
    }

    public string Directory { get; }

    public X509Certificate2 Authority { get; }

    public string ConfigPath => Path.Join(Directory, "web.yml");

    /// <summary>Writes a new server certificate (named by <paramref name="name"/>) and returns it.</summary>
    public X509Certificate2 WriteServerCertificate(string name)
    {
        var server = CreateCertificate($"CN={name}", Authority);
        File.WriteAllText(Path.Join(Directory, "server.crt"), server.ExportCertificatePem());
        File.WriteAllText(Path.Join(Directory, "server.key"), server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return server;
    }

    /// <summary>Writes the CA as ca.crt and returns a client certificate it signed.</summary>
    public X509Certificate2 WriteClientAuthority(string clientName)
    {
        File.WriteAllText(Path.Join(Directory, "ca.crt"), Authority.ExportCertificatePem());
        return CreateCertificate($"CN={clientName}", Authority);
    }

    /// <summary>Writes web.yml: TLS with the current server certificate (when <paramref name="tls"/>) and the users.</summary>
    public void WriteConfig(bool tls, params (string User, string Password)[] users)
    {
        var text = tls ? "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n" : string.Empty;
        if (users.Length > 0)
        {
            text += "basic_auth_users:\n" + string.Concat(users.Select(u => $"  {u.User}: '{BCrypt.Net.BCrypt.HashPassword(u.Password, 4)}'\n"));
        }

        // Replaced in one rename, as configuration management tools do, so a reload never reads half a file.
        var temporary = ConfigPath + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, ConfigPath, overwrite: true);
    }

    /// <summary>Writes <paramref name="text"/> as web.yml.</summary>
    public void WriteRaw(string text) => File.WriteAllText(ConfigPath, text);

    /// <summary>A handler that trusts only the test CA and reports the server certificate it saw.</summary>
    public HttpClientHandler TrustingHandler(Action<X509Certificate2>? seen = null) => new()
    {
        ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
        {
            if (certificate is null)
            {
                return false;
            }

            seen?.Invoke(certificate);
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(Authority);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate);
        },
    };

    public void Dispose()
    {
        Authority.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private static X509Certificate2 CreateCertificate(string subject, X509Certificate2? issuer)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(issuer is null, false, 0, true));
        if (issuer is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        var now = DateTimeOffset.UtcNow;
        if (issuer is null)
        {
            return request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(2));
        }

        var serial = RandomNumberGenerator.GetBytes(8);
        serial[0] &= 0x7f;
        using var signed = request.Create(issuer, now.AddMinutes(-5), now.AddHours(1), serial);
        return signed.CopyWithPrivateKey(key);
    }
}
