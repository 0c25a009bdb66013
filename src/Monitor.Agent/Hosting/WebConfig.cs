using Monitor.Agent.Configuration;
using YamlDotNet.RepresentationModel;

namespace Monitor.Agent.Hosting;

/// <summary>How the server treats client certificates (exporter-toolkit's <c>client_auth_type</c>).</summary>
internal enum ClientAuthType
{
    /// <summary>No client certificate is asked for.</summary>
    NoClientCert,

    /// <summary>A certificate is asked for; none is fine, a given one must verify.</summary>
    VerifyClientCertIfGiven,

    /// <summary>A certificate signed by <c>client_ca_file</c> is required.</summary>
    RequireAndVerifyClientCert,
}

/// <summary>
/// The web configuration file (<c>--web.config.file</c>) in Prometheus exporter-toolkit's format, which operators
/// already write for node_exporter: <c>tls_server_config</c> (<c>cert_file</c>, <c>key_file</c>, <c>client_ca_file</c>,
/// <c>client_auth_type</c>) and <c>basic_auth_users</c> (user → bcrypt hash). Unknown keys are errors.
/// </summary>
internal sealed class WebConfig
{
    /// <summary>Mappings and sequences nested deeper than this are refused before the document is loaded.</summary>
    private const int MaxNesting = 64;

    private static readonly string[] TlsKeys = ["cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version"];

    /// <summary>PEM certificate (chain) to serve; null for plain HTTP.</summary>
    public string? CertFile { get; private init; }

    /// <summary>PEM private key of <see cref="CertFile"/>.</summary>
    public string? KeyFile { get; private init; }

    /// <summary>PEM CA bundle that client certificates must chain to.</summary>
    public string? ClientCaFile { get; private init; }

    /// <summary>Client certificate policy.</summary>
    public ClientAuthType ClientAuth { get; private init; }

    /// <summary>Minimum TLS version: 1.2 or 1.3.</summary>
    public System.Security.Authentication.SslProtocols MinTlsVersion { get; private init; } = System.Security.Authentication.SslProtocols.Tls12;

    /// <summary>User name → bcrypt hash; empty when basic auth is off.</summary>
    public IReadOnlyDictionary<string, string> BasicAuthUsers { get; private init; } = new Dictionary<string, string>();

    /// <summary>True when TLS is configured.</summary>
    public bool UsesTls => CertFile is not null;

    /// <summary>Reads and validates the file; throws <see cref="OptionsException"/> naming the bad key.</summary>
    public static WebConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new OptionsException($"cannot read --web.config.file '{path}': {ex.Message}");
        }

        return Parse(text, path);
    }

    /// <summary>Parses the YAML text; <paramref name="source"/> names it in errors.</summary>
    public static WebConfig Parse(string text, string source)
    {
        YamlStream stream;
        try
        {
            stream = Monitor.Contracts.SafeYaml.Load(text, MaxNesting);
        }
        catch (FormatException ex)
        {
            throw new OptionsException($"--web.config.file '{source}' is {ex.Message}");
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return new WebConfig();
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new OptionsException($"--web.config.file '{source}': the top level must be a mapping");
        }

        string? cert = null, key = null, ca = null;
        var clientAuth = ClientAuthType.NoClientCert;
        var minVersion = System.Security.Authentication.SslProtocols.Tls12;
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in root.Children)
        {
            var name = Scalar(keyNode, source, "key");
            switch (name)
            {
                case "tls_server_config":
                    foreach (var (tlsKey, tlsValue) in Mapping(valueNode, source, name).Children)
                    {
                        var setting = Scalar(tlsKey, source, name);
                        var value = Scalar(tlsValue, source, $"{name}.{setting}");
                        switch (setting)
                        {
                            case "cert_file": cert = Relative(value, source); break;
                            case "key_file": key = Relative(value, source); break;
                            case "client_ca_file": ca = Relative(value, source); break;
                            case "client_auth_type":
                                clientAuth = value switch
                                {
                                    "NoClientCert" => ClientAuthType.NoClientCert,
                                    "VerifyClientCertIfGiven" => ClientAuthType.VerifyClientCertIfGiven,
                                    "RequireAndVerifyClientCert" => ClientAuthType.RequireAndVerifyClientCert,
                                    _ => throw new OptionsException($"--web.config.file '{source}': tls_server_config.client_auth_type '{value}': allowed values: NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"),
                                };
                                break;
                            case "min_version":
                                minVersion = value switch
                                {
                                    "TLS12" => System.Security.Authentication.SslProtocols.Tls12,
                                    "TLS13" => System.Security.Authentication.SslProtocols.Tls13,
                                    _ => throw new OptionsException($"--web.config.file '{source}': tls_server_config.min_version '{value}': allowed values: TLS12, TLS13"),
                                };
                                break;
                            default:
                                throw new OptionsException($"--web.config.file '{source}': unknown key tls_server_config.{setting}; allowed keys: {string.Join(", ", TlsKeys)}");
                        }
                    }

                    break;
                case "basic_auth_users":
                    foreach (var (userNode, hashNode) in Mapping(valueNode, source, name).Children)
                    {
                        var user = Scalar(userNode, source, name);
                        var hash = Scalar(hashNode, source, $"{name}.{user}");
                        if (!hash.StartsWith("$2", StringComparison.Ordinal) || hash.Length != 60)
                        {
                            throw new OptionsException($"--web.config.file '{source}': basic_auth_users.{user} is not a bcrypt hash (60 characters starting with $2; make one with htpasswd -nBC 10 \"\" | tr -d ':\\n')");
                        }

                        users[user] = hash;
                    }

                    break;
                case "http_server_config":
                    // exporter-toolkit's HTTP/2 and header settings: Kestrel's defaults already cover them.
                    break;
                default:
                    throw new OptionsException($"--web.config.file '{source}': unknown key '{name}'; allowed keys: tls_server_config, basic_auth_users, http_server_config");
            }
        }

        if ((cert is null) != (key is null))
        {
            throw new OptionsException($"--web.config.file '{source}': tls_server_config needs both cert_file and key_file");
        }

        if (cert is null && (ca is not null || clientAuth != ClientAuthType.NoClientCert))
        {
            throw new OptionsException($"--web.config.file '{source}': client_ca_file and client_auth_type need cert_file and key_file");
        }

        if (clientAuth != ClientAuthType.NoClientCert && ca is null)
        {
            throw new OptionsException($"--web.config.file '{source}': client_auth_type {clientAuth} needs client_ca_file");
        }

        return new WebConfig { CertFile = cert, KeyFile = key, ClientCaFile = ca, ClientAuth = clientAuth, MinTlsVersion = minVersion, BasicAuthUsers = users };
    }

    private static string Scalar(YamlNode node, string source, string where) =>
        node is YamlScalarNode { Value: { } value }
            ? value
            : throw new OptionsException($"--web.config.file '{source}': {where} must be a single value");

    private static YamlMappingNode Mapping(YamlNode node, string source, string where) =>
        node as YamlMappingNode ?? throw new OptionsException($"--web.config.file '{source}': {where} must be a mapping");

    // exporter-toolkit resolves relative file names against the config file's directory.
    private static string Relative(string path, string source) =>
        Path.IsPathRooted(path) ? path : Path.Join(Path.GetDirectoryName(Path.GetFullPath(source)), path);
}
