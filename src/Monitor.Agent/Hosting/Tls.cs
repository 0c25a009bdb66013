using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Monitor.Agent.Configuration;

namespace Monitor.Agent.Hosting;

/// <summary>
/// <see cref="WebConfig"/>'s TLS settings as the server options each TLS handshake uses. The files are read and
/// checked here, so a bad certificate fails at startup (exit 2) or, on SIGHUP, keeps the previous settings.
/// </summary>
internal sealed class Tls
{
    private Tls(X509Certificate2 certificate, SslServerAuthenticationOptions serverOptions)
    {
        Certificate = certificate;
        ServerOptions = serverOptions;
    }

    /// <summary>The served certificate.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The options every handshake uses (immutable once built; a reload builds new ones).</summary>
    public SslServerAuthenticationOptions ServerOptions { get; }

    /// <summary>Null when TLS is not configured; throws <see cref="OptionsException"/> on unreadable or bad files.</summary>
    public static Tls? Create(WebConfig web)
    {
        if (!web.UsesTls)
        {
            return null;
        }

        X509Certificate2 certificate;
        var chain = new X509Certificate2Collection();
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(web.CertFile!, web.KeyFile);
            chain.ImportFromPemFile(web.CertFile!);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new OptionsException($"--web.config.file: cannot load tls_server_config cert_file '{web.CertFile}' with key_file '{web.KeyFile}': {ex.Message}");
        }

        // The PEM file may hold the chain after the leaf: send the intermediates, as exporter-toolkit does.
        var intermediates = new X509Certificate2Collection();
        foreach (var extra in chain)
        {
            if (extra.Thumbprint != certificate.Thumbprint)
            {
                intermediates.Add(extra);
            }
        }

        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, intermediates, offline: true),
            EnabledSslProtocols = web.MinTlsVersion == SslProtocols.Tls13 ? SslProtocols.Tls13 : SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        if (web.ClientAuth == ClientAuthType.NoClientCert)
        {
            return new Tls(certificate, options);
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

        if (authorities.Count == 0)
        {
            throw new OptionsException($"--web.config.file: tls_server_config client_ca_file '{web.ClientCaFile}' holds no PEM certificate");
        }

        var required = web.ClientAuth == ClientAuthType.RequireAndVerifyClientCert;
        options.ClientCertificateRequired = true;
        options.RemoteCertificateValidationCallback = (_, presented, _, _) =>
        {
            if (presented is null)
            {
                return !required;
            }

            // SslStream owns the presented certificate; only a copy made here is disposed here.
            using var copy = presented is X509Certificate2 ? null : X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
            using var verify = new X509Chain();
            verify.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            verify.ChainPolicy.CustomTrustStore.AddRange(authorities);
            verify.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return verify.Build(copy ?? (X509Certificate2)presented);
        };
        return new Tls(certificate, options);
    }
}
