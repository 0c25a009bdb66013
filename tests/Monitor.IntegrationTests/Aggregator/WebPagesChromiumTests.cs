using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Aggregator;

/// <summary>
/// The real aggregator's pages in a real browser: the aggregator polls stand-in agents that report two jobs with
/// figures set by the test, and headless Chromium (Debian's <c>chromium</c>) loads <c>/jobs/{id}</c> and
/// <c>/usage</c>. The DOM it built must hold the figures worked out here from the records, and the charts' bars with
/// lengths in proportion; the screenshots go to <c>artifacts/screenshots/</c> for a person to look at.
/// </summary>
public sealed class WebPagesChromiumTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    /// <summary>Job 12345's eight GPUs (four on each of two nodes): each its own utilization and power, for two hours.</summary>
    private static readonly double[] Utilization = [0.05, 0.12, 0.20, 0.30, 0.45, 0.60, 0.80, 0.95];

    [Fact]
    public async Task JobAndUsagePages_InHeadlessChromium_ShowTheFiguresAndTheCharts()
    {
        var gpus = Utilization.Select((u, i) => SomeJob.Gpu(i % 4, u, memory: (10 + (5 * i)) * 1e9, hours: 2, watts: 150 + (60 * i))).ToArray();
        gpus[1] = gpus[1] with { XidErrors = 1 };
        gpus[6] = gpus[6] with { EccErrors = 2 };
        NodeJobRecord[] gpu17 = [SomeJob.Record("12345", Start, Start.AddHours(2), gpus[..4]) with { CpuSeconds = 7200 }];
        NodeJobRecord[] gpu18 = [SomeJob.Record("12345", Start.AddSeconds(3), Start.AddHours(2).AddSeconds(1), gpus[4..]) with { CpuSeconds = 3600 }];
        NodeJobRecord[] gpu03 =
        [
            SomeJob.Record("12346", Start, Start.AddHours(1), SomeJob.Gpu(0, 0.9)) with { Account = "chemistry", User = "<script>alert(1)</script>" },
        ];
        var nodes = new Dictionary<string, IReadOnlyList<NodeJobRecord>> { ["gpu17"] = gpu17, ["gpu18"] = gpu18, ["gpu03"] = gpu03 };

        // And a 64-GPU job (8 nodes × 8 GPUs, utilization rising GPU by GPU) that ended the next day, to see a big job's page.
        for (var n = 0; n < 8; n++)
        {
            var node = n;
            nodes[$"big{node}"] = [SomeJob.Record("20000", Start.AddDays(1), Start.AddDays(1).AddHours(6), [.. Enumerable.Range(0, 8).Select(g => SomeJob.Gpu(g, ((node * 8) + g + 1) / 64.0, hours: 6))])];
        }

        await using var feed = await StandInJobsFeed.StartAsync(nodes);
        using var tree = new TempTree();
        await using var aggregator = await AgentProcess.StartExecutableAsync(
            AgentProcess.AggregatorPath, null, $"--storage.path={tree.Path("aggregator/store.db")}", $"--targets={string.Join(',', feed.Targets)}", "--poll.interval=1s");
        using var client = new HttpClient();
        await Eventually.UntilAsync(
            async () => await Nodes(client, aggregator, "12345") == 2 && await Nodes(client, aggregator, "12346") == 1 && await Nodes(client, aggregator, "20000") == 8,
            TimeSpan.FromSeconds(60), "the three jobs stored");

        // The job page: header, totals, the note, both charts, a row per GPU; worked out from the records.
        var jobUrl = new Uri(aggregator.BaseAddress, "jobs/12345");
        var dom = await Chromium.DumpDomAsync(jobUrl);
        var allocated = gpus.Sum(g => g.AllocatedSeconds);
        var busy = gpus.Sum(g => g.BusySeconds);
        var joules = gpus.Sum(g => g.EnergyJoules);
        foreach (var expected in new[]
        {
            "<h1>Job 12345<span class=\"badge ended\">ended</span></h1>",
            "<dt>User</dt><dd>alice</dd>", "<dt>Nodes</dt><dd>2</dd>", "<dt>GPUs</dt><dd>8</dd>", "<dt>Run time</dt><dd>2:00:01</dd>",
            $"<dt>GPU-hours</dt><dd>{F(allocated / 3600, "0.00")}</dd>", $"<dt>Busy GPU-hours</dt><dd>{F(busy / 3600, "0.00")}</dd>",
            $"<dt>Mean utilization</dt><dd>{F(busy / allocated * 100, "0.0")} %</dd>", $"<dt>Energy</dt><dd>{F(joules / 3.6e6, "0.000")} kWh</dd>",
            $"<dt>kWh per GPU-hour</dt><dd>{F(joules / 3.6e6 / (allocated / 3600), "0.000")}</dd>", "<dt>GPU memory peak</dt><dd>45.0 GB</dd>",
            "<dt>CPU-hours</dt><dd>3.00</dd>", "<dt>XID errors</dt><dd>1</dd>", "<dt>ECC errors</dt><dd>2</dd>",
            "<li class=\"critical\"><span class=\"sev\">critical</span>GPU 1 on node gpu17 reported 1 XID error during the job",
            "<li class=\"warning\"><span class=\"sev\">warning</span>GPU 2 on node gpu18 counted 2 ECC errors during the job.",
            "<a href=\"/api/v1/jobs/12345\">",
        })
        {
            Assert.Contains(expected, dom, StringComparison.Ordinal);
        }

        Assert.Equal(2, Regex.Count(dom, "<svg class=\"chart\""));
        for (var i = 0; i < gpus.Length; i++)
        {
            var node = i < 4 ? "gpu17" : "gpu18";
            Assert.Contains($"<tr><td>{node}</td><td class=\"n\">{i % 4}</td><td class=\"n\">2.00</td><td class=\"n\">{F(Utilization[i] * 100, "0.0")} %</td>", dom, StringComparison.Ordinal);
        }

        // Bars: utilization on a 0-100 % scale, then energy with the hungriest GPU at full length.
        var bars = PageMarkup.Bars(dom);
        Assert.Equal(16, bars.Count);
        var utilizationBars = bars.Take(8).Select(b => b.Width).ToList();
        var energyBars = bars.Skip(8).Select(b => b.Width).ToList();
        var maxJoules = gpus.Max(g => g.EnergyJoules);
        for (var i = 0; i < gpus.Length; i++)
        {
            Assert.Equal(Utilization[i] / Utilization[^1], utilizationBars[i] / utilizationBars[^1], 3);
            Assert.Equal(gpus[i].EnergyJoules / maxJoules, energyBars[i] / energyBars.Max(), 3);
        }

        Assert.DoesNotContain("<script", dom, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(PageMarkup.ExternalReferences(dom));
        Png(await Screenshot(jobUrl, "job-12345.png"), 1366, 900);
        Png(await Screenshot(jobUrl, "job-12345-full.png", height: 2400), 1366, 2400);

        // A user name that is markup is text in the browser, not an element.
        var other = await Chromium.DumpDomAsync(new Uri(aggregator.BaseAddress, "jobs/12346"));
        Assert.Contains("<dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>", other, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", other, StringComparison.OrdinalIgnoreCase);

        // The usage page of the day both jobs ended: one row per account, the total, the chart, and a CSV link that works.
        var usageUrl = new Uri(aggregator.BaseAddress, "usage?by=account&from=2026-12-01&to=2026-12-02");
        var usage = await Chromium.DumpDomAsync(usageUrl);
        Assert.Contains($"<tr><td>chemistry</td><td class=\"n\">1.00</td><td class=\"n\">0.90</td><td class=\"n\">90.0 %</td><td class=\"n\">0.350</td><td class=\"n\">0.00</td><td class=\"n\">1</td></tr>", usage, StringComparison.Ordinal);
        Assert.Contains($"<tr><td>physics</td><td class=\"n\">{F(allocated / 3600, "0.00")}</td><td class=\"n\">{F(busy / 3600, "0.00")}</td><td class=\"n\">{F(busy / allocated * 100, "0.0")} %</td><td class=\"n\">{F(joules / 3.6e6, "0.000")}</td><td class=\"n\">3.00</td><td class=\"n\">1</td></tr>", usage, StringComparison.Ordinal);
        Assert.Contains($"<td>total</td><td class=\"n\">{F((allocated + 3600) / 3600, "0.00")}</td>", usage, StringComparison.Ordinal);
        Assert.Equal(["alloc", "busy", "alloc", "busy"], PageMarkup.Bars(usage).Select(b => b.Class));
        Assert.Equal(1 / (allocated / 3600), PageMarkup.Bars(usage)[0].Width / PageMarkup.Bars(usage)[2].Width, 3);
        Png(await Screenshot(usageUrl, "usage-by-account.png"), 1366, 900);
        var csvLink = WebUtility.HtmlDecode(PageMarkup.References(usage).Single(r => r.Contains("format=csv", StringComparison.Ordinal)));
        var csv = await client.GetStringAsync(new Uri(aggregator.BaseAddress, csvLink));
        Assert.StartsWith("account,gpu_hours_allocated,gpu_hours_busy,energy_kwh,cpu_hours,jobs\r\nchemistry,1,0.9,0.35,0,1\r\n", csv, StringComparison.Ordinal);

        // The 64-GPU job: every GPU in both charts; a tall screenshot of the whole page.
        var bigUrl = new Uri(aggregator.BaseAddress, "jobs/20000");
        var big = await Chromium.DumpDomAsync(bigUrl);
        Assert.Equal(128, PageMarkup.Bars(big).Count);
        Assert.Contains("<dt>GPUs</dt><dd>64</dd>", big, StringComparison.Ordinal);
        Png(await Screenshot(bigUrl, "job-20000-64-gpus.png", height: 4200), 1366, 4200);

        // An unknown job is a page too, with 404.
        using var unknown = await client.GetAsync(new Uri(aggregator.BaseAddress, "jobs/99999"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("No node has reported job 99999.", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    private static async Task<string> Screenshot(Uri url, string name, int height = 900)
    {
        var path = Path.Join(Chromium.ScreenshotDirectory, name);
        await Chromium.ScreenshotAsync(url, path, 1366, height);
        return path;
    }

    /// <summary>Checks that <paramref name="path"/> is a PNG of the given size with more in it than a blank page.</summary>
    private static void Png(string path, int width, int height)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }), $"{path} is not a PNG");
        Assert.Equal((width, height), (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20))));

        // Measured: a blank 1366×900 page is a 5.6 KB PNG, one heading on it 7.3 KB; these pages are 50 to 100 KB.
        Assert.True(bytes.Length > 30_000, $"{path} is {bytes.Length} bytes: nearly blank?");
    }

    private static async Task<int?> Nodes(HttpClient client, AgentProcess aggregator, string id)
    {
        using var response = await client.GetAsync(new Uri(aggregator.BaseAddress, $"api/v1/jobs/{id}"));
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("nodes").GetInt32();
    }
}
