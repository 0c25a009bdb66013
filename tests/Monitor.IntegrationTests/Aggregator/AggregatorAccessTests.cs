using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Monitor.IntegrationTests.Agent;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Aggregator;

/// <summary>The real aggregator behind TLS and bearer tokens, the CLI with a token, and the PostgreSQL store.</summary>
public sealed class AggregatorAccessTests
{
    [Fact]
    public async Task TlsAndTokens_RefusedWithoutATokenServedWithOne_CliSendsIt()
    {
        using var files = new WebConfigFiles();
        files.WriteServerCertificate("127.0.0.1");
        files.WriteConfig(tls: true);
        File.WriteAllText(Path.Join(files.Directory, "ca.crt"), files.Authority.ExportCertificatePem());
        File.WriteAllText(Path.Join(files.Directory, "token"), "s3cret-admin\n");
        File.WriteAllText(Path.Join(files.Directory, "tokens.yml"), $"tokens:\n  - name: admin\n    sha256: {Sha256("s3cret-admin")}\n");
        await using var aggregator = await AgentProcess.StartExecutableAsync(
            AgentProcess.AggregatorPath, null, $"--storage.path={Path.Join(files.Directory, "store.db")}", $"--web.config.file={files.ConfigPath}",
            $"--web.tokens-file={Path.Join(files.Directory, "tokens.yml")}");
        Assert.Equal("https", aggregator.BaseAddress.Scheme);
        using var client = new HttpClient(files.TrustingHandler());

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync(new Uri(aggregator.BaseAddress, "api/v1/running"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri(aggregator.BaseAddress, "healthz"))).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(aggregator.BaseAddress, "metrics"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-admin");
        using var metrics = await client.SendAsync(request);
        Assert.Contains("monitor_aggregator_cycle_seconds", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // The refusal's line reaches the test through the process's output, a moment after the answer.
        await aggregator.WaitForLogAsync("Refused 401", TimeSpan.FromSeconds(30));
        Assert.DoesNotContain("s3cret", aggregator.Log, StringComparison.Ordinal);

        // The CLI: refused without the token, served with it (trusting the test CA through SSL_CERT_FILE, as .NET on Linux does).
        var monitor = Path.Join(AppContext.BaseDirectory, "monitor");
        var trust = $"SSL_CERT_FILE={Path.Join(files.Directory, "ca.crt")}";
        var (refused, _, refusal) = await ExternalTool.RunAsync("env", [trust, monitor, "top", $"--aggregator={aggregator.BaseAddress}"], timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(1, refused);
        Assert.Contains("refused the request (401): give a token", refusal, StringComparison.Ordinal);
        var (code, stdout, stderr) = await ExternalTool.RunAsync(
            "env", [trust, monitor, "top", $"--aggregator={aggregator.BaseAddress}", $"--token-file={Path.Join(files.Directory, "token")}"], timeout: TimeSpan.FromSeconds(30));
        Assert.True(code == 0, stderr);
        Assert.StartsWith("0 running jobs holding 0 GPUs; 0 idle now", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadAccessFiles_ExitTwoWithTheReason()
    {
        using var tree = new TempTree().Write("web.yml", "basic_auth_users:\n  admin: '$2y$10$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyzABCDE'\n").Write("tokens.yml", "tokens: nope\n");
        var (webCode, webLog) = await AgentProcess.RunExecutableToExitAsync(AgentProcess.AggregatorPath, null, $"--storage.path={tree.Path("s.db")}", $"--web.config.file={tree.Path("web.yml")}");
        var (tokenCode, tokenLog) = await AgentProcess.RunExecutableToExitAsync(AgentProcess.AggregatorPath, null, $"--storage.path={tree.Path("s.db")}", $"--web.tokens-file={tree.Path("tokens.yml")}");

        Assert.Equal((2, 2), (webCode, tokenCode));
        Assert.Contains("basic_auth_users is the agent's; the aggregator takes bearer tokens (--web.tokens-file)", webLog, StringComparison.Ordinal);
        Assert.Contains("expected 'tokens:' and a list of {name, sha256, accounts}", tokenLog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postgres_StoreMigratedAndServed_UnreachableExitsTwo()
    {
        var database = PostgresServer.Shared.CreateDatabase();
        await using (var aggregator = await AgentProcess.StartExecutableAsync(AgentProcess.AggregatorPath, null, $"--storage.postgres={database}", "--shard=0/2"))
        {
            using var client = new HttpClient();
            var usage = await client.GetStringAsync(new Uri(aggregator.BaseAddress, "api/v1/usage?by=account&from=2026-11-01&to=2026-12-01"));
            Assert.Contains("\"rows\": []", usage, StringComparison.Ordinal);
            Assert.Contains("store PostgreSQL 127.0.0.1:", aggregator.Log, StringComparison.Ordinal);
        }

        var (code, log) = await AgentProcess.RunExecutableToExitAsync(
            AgentProcess.AggregatorPath, null, $"--storage.postgres=Host=127.0.0.1;Port={ExternalTool.FreePort()};Username=postgres;Password=hunter2;Timeout=2");
        Assert.Equal(2, code);
        Assert.Contains("cannot open --storage.postgres:", log, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", log, StringComparison.Ordinal);

        var (standbyCode, standbyLog) = await AgentProcess.RunExecutableToExitAsync(AgentProcess.AggregatorPath, null, "--ha.standby", "--storage.path=/tmp/unused.db");
        Assert.Equal(2, standbyCode);
        Assert.Contains("--ha.standby needs --storage.postgres", standbyLog, StringComparison.Ordinal);
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
