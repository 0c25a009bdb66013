using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Monitor.Agent.Collectors;
using Monitor.Agent.Configuration;
using Monitor.Agent.Logging.Elasticsearch;

namespace Monitor.Agent.Tests.Configuration;

public sealed class ElasticsearchSettingsTests : IDisposable
{
    private static readonly IReadOnlyList<FlagSpec> Flags = AgentFlags.All([]);
    private readonly string _secret = Path.GetTempFileName();

    public void Dispose() => File.Delete(_secret);

    [Fact]
    public void Load_NoUrl_NoSink()
    {
        Assert.Null(Load([]).Elasticsearch);
    }

    [Fact]
    public void Load_RepeatedAndCommaSeparatedUrls_AllInFailoverOrder()
    {
        var es = Load(["--log.elasticsearch.url=http://a:9200", "--log.elasticsearch.url", "https://b:9200/es,http://c:9200"]).Elasticsearch!;
        Assert.Equal(["http://a:9200/", "https://b:9200/es/", "http://c:9200/"], es.Urls.Select(u => u.ToString()));
        Assert.Equal("logs-monitor.agent-default", es.DataStream);
        Assert.Equal("monitor.agent", es.Dataset);
        Assert.Equal(256L << 20, es.SpoolMaxBytes);
        Assert.Equal(TimeSpan.FromDays(7), es.SpoolMaxAge);
        Assert.Equal(TimeSpan.FromSeconds(5), es.ShutdownTimeout);
        Assert.Equal(8 << 20, es.MemoryQueueMaxBytes);
        Assert.Null(es.Authorization);
    }

    [Fact]
    public void Load_ApiKeyFromFileOrEnvironment_SetsTheHeader()
    {
        File.WriteAllText(_secret, "c2VjcmV0OmtleQ==\n");
        Assert.Equal("ApiKey c2VjcmV0OmtleQ==", Load(["--log.elasticsearch.url=http://a:9200", $"--log.elasticsearch.api-key-file={_secret}"]).Elasticsearch!.Authorization);
        var env = new Dictionary<string, string> { ["MONITOR_LOG_ELASTICSEARCH_API_KEY"] = "ZnJvbTplbnY=" };
        Assert.Equal("ApiKey ZnJvbTplbnY=", Load(["--log.elasticsearch.url=http://a:9200"], env).Elasticsearch!.Authorization);
    }

    [Fact]
    public void Load_BasicAuth_PasswordFromFile()
    {
        File.WriteAllText(_secret, "s3cret");
        var es = Load(["--log.elasticsearch.url=http://a:9200", "--log.elasticsearch.username=shipper", $"--log.elasticsearch.password-file={_secret}"]).Elasticsearch!;
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("shipper:s3cret")), es.Authorization);
    }

    [Theory]
    [InlineData("--log.elasticsearch.url=ftp://a", "Log:Elasticsearch:Url")]
    [InlineData("--log.elasticsearch.url=http://user:pw@a:9200", "Log:Elasticsearch:Url")]
    [InlineData("--log.elasticsearch.data-stream=Logs-Bad", "Log:Elasticsearch:DataStream")]
    [InlineData("--log.elasticsearch.spool-max-bytes=12 parsecs", "Log:Elasticsearch:SpoolMaxBytes")]
    [InlineData("--log.elasticsearch.memory-queue-max-bytes=512KiB", "Log:Elasticsearch:MemoryQueueMaxBytes")]
    [InlineData("--log.elasticsearch.memory-queue-max-bytes=2GiB", "Log:Elasticsearch:MemoryQueueMaxBytes")]
    [InlineData("--log.elasticsearch.fingerprint=abc", "Log:Elasticsearch:Fingerprint")]
    [InlineData("--log.elasticsearch.ca-file=/nonexistent/ca.pem", "Log:Elasticsearch:CaFile")]
    [InlineData("--log.elasticsearch.api-key-file=/nonexistent/key", "Log:Elasticsearch:ApiKeyFile")]
    public void Load_BadSetting_NamesTheKey(string flag, string key)
    {
        string[] args = flag.StartsWith("--log.elasticsearch.url", StringComparison.Ordinal) ? [flag] : ["--log.elasticsearch.url=http://a:9200", flag];
        var error = Assert.Throws<OptionsException>(() => Load(args));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("pw@", error.Message.Replace("http://user:pw@a:9200", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1048576", 1L << 20)]
    [InlineData("256MiB", 256L << 20)]
    [InlineData("1 GB", 1L << 30)]
    [InlineData("64k", 64L << 10)]
    public void TryParseSize_Units(string text, long bytes)
    {
        Assert.True(ElasticsearchSettings.TryParseSize(text, out var parsed));
        Assert.Equal(bytes, parsed);
    }

    [Fact]
    public void Validate_PinnedFingerprintAndCa_AcceptOnlyTheRightCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=es.local", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var pin = SHA256.HashData(certificate.RawData);
        var untrusted = SslPolicyErrors.RemoteCertificateChainErrors;

        Assert.True(BulkShipper.Validate(certificate, null, untrusted, null, pin));
        Assert.False(BulkShipper.Validate(certificate, null, untrusted, null, new byte[32]));
        Assert.False(BulkShipper.Validate(certificate, null, untrusted | SslPolicyErrors.RemoteCertificateNameMismatch, null, pin));
        Assert.True(BulkShipper.Validate(certificate, null, untrusted, certificate, null));
        Assert.False(BulkShipper.Validate(certificate, null, untrusted, null, null));
    }

    private static AgentOptions Load(string[] args, Dictionary<string, string>? environment = null) =>
        AgentOptions.Load(CommandLine.Parse(args, Flags), Flags, Array.Empty<CollectorDescriptor>(), name => environment?.GetValueOrDefault(name));
}
