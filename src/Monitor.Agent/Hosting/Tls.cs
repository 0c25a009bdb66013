using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Monitor.Agent.Configuration;

namespace Monitor.Agent.Hosting;

/// <summary>Turns <see cref="WebConfig"/>'s TLS settings into Kestrel's HTTPS options, failing at startup on bad files.</summary>
internal static class Tls
{
    /// <summary>Null when TLS is not configured.</summary>
    public static HttpsConnectionAdapterOptions? Create(WebConfig web)
    {
        if (!web.UsesTls)
        {
            return null;
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(web.CertFile!, web.KeyFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new OptionsException($"--web.config.file: cannot load tls_server_config cert_file '{web.CertFile}' with key_file '{web.KeyFile}': {ex.Message}");
        }

        var options = new HttpsConnectionAdapterOptions { ServerCertificate = certificate, SslProtocols = web.MinTlsVersion == System.Security.Authentication.SslProtocols.Tls13 ? System.Security.Authentication.SslProtocols.Tls13 : System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13 };
        if (web.ClientAuth == ClientAuthType.NoClientCert)
        {
            return options;
        }

        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(web.ClientCaFile!);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new OptionsException($"--web.config.file: cannot load tls_server_config client_ca_file '{web.ClientCaFile}': {ex.Message}");
        }

        options.ClientCertificateMode = web.ClientAuth == ClientAuthType.RequireAndVerifyClientCert ? ClientCertificateMode.RequireCertificate : ClientCertificateMode.AllowCertificate;
        options.ClientCertificateValidation = (certificate, _, _) =>
        {
            if (certificate is null)
            {
                return web.ClientAuth != ClientAuthType.RequireAndVerifyClientCert;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate);
        };
        return options;
    }
}
