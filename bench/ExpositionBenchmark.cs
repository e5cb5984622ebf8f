using System.Diagnostics;
using System.Globalization;

namespace Bench;

/// <summary>
/// What a scrape costs the worker, as /proc counts it: the CPU time of the worker process (utime + stime)
/// across N scrapes over one keep-alive connection, divided by N, for the full page (text and OpenMetrics) and a
/// router's filtered poll; and, in the same run, Python's prometheus_client rendering the same full page (the
/// worker's own, parsed into its registry), timed with process_time over as many renders.
/// </summary>
internal static class ExpositionBenchmark
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        var baseUrl = args.String("base-url").TrimEnd('/');
        var pid = args.Int("pid", 0);
        var count = args.Int("count", 2000);
        var filter = args.String("filter", "vllm:num_requests_waiting,vllm:num_requests_running,vllm:kv_cache_usage_perc");
        using var http = ScrapePoller.OneConnectionClient();
        var filtered = "/metrics?" + string.Join('&', filter.Split(',').Select(n => "name%5B%5D=" + Uri.EscapeDataString(n)));
        var cases = new (string Name, string Path, bool OpenMetrics)[]
        {
            ("filtered poll", filtered, false),
            ("full page, text", "/metrics", false),
            ("full page, OpenMetrics", "/metrics", true),
        };
        string? fullPage = null;
        foreach (var (name, path, openMetrics) in cases)
        {
            var page = await ScrapeAsync(http, baseUrl + path, openMetrics); // warm: the path's tiers of JIT and first allocations
            for (var i = 0; i < count / 2; i++)
            {
                await ScrapeAsync(http, baseUrl + path, openMetrics);
            }
            var cpuBefore = WorkerCpuNs(pid);
            var wall = Stopwatch.StartNew();
            var latencies = new List<double>(count);
            for (var i = 0; i < count; i++)
            {
                var started = Stopwatch.GetTimestamp();
                page = await ScrapeAsync(http, baseUrl + path, openMetrics);
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            var cpuMs = (WorkerCpuNs(pid) - cpuBefore) / 1e6 / count;
            var lines = page.Split('\n');
            var families = lines.Count(l => l.StartsWith("# TYPE ", StringComparison.Ordinal));
            var samples = lines.Count(l => l.Length > 0 && !l.StartsWith('#'));
            var latency = Distribution.Of(latencies);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: worker CPU {cpuMs:F3} ms/scrape; latency p50 {latency.Median:F3} ms, p99 {latency.P99:F3} ms; {families} families, {samples} samples, {page.Length} bytes ({count} scrapes in {wall.Elapsed.TotalSeconds:F1} s)"));
            if (name == "full page, text")
            {
                fullPage = page;
            }
        }
        if (args.Optional("python") is { } python && fullPage is not null)
        {
            Console.WriteLine(await PrometheusClientAsync(python, fullPage, count));
        }
        return 0;
    }

    private static async Task<string> ScrapeAsync(HttpClient http, string url, bool openMetrics)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (openMetrics)
        {
            request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
        }
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>
    /// CPU time of the whole process so far, threads that have ended included, in nanoseconds: /proc/PID/stat's utime and
    /// stime, in clock ticks (a sum over /proc/PID/task would drop the time of a thread pool thread that retires meanwhile).
    /// </summary>
    private static long WorkerCpuNs(int pid)
    {
        if (pid == 0)
        {
            return 0;
        }
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // after "pid (comm) ": fields from the 3rd on
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks * 1_000_000_000 / ClockTicksPerSecond;
    }

    /// <summary>USER_HZ, the unit of /proc's CPU times: 100 on Linux's supported architectures.</summary>
    private const long ClockTicksPerSecond = 100;

    /// <summary>
    /// prometheus_client renders the same families and samples: the page is parsed into metric families, registered
    /// through a collector, and generate_latest is timed (CPU, process_time) over <paramref name="count"/> renders.
    /// </summary>
    private static async Task<string> PrometheusClientAsync(string python, string page, int count)
    {
        const string script = """
            import sys, time
            from prometheus_client import CollectorRegistry, generate_latest
            from prometheus_client.parser import text_string_to_metric_families
            page = sys.stdin.read()
            families = list(text_string_to_metric_families(page))
            class Page:
                def collect(self):
                    return families
            registry = CollectorRegistry()
            registry.register(Page())
            count = int(sys.argv[1])
            for _ in range(count // 10):
                generate_latest(registry)
            started = time.process_time()
            for _ in range(count):
                out = generate_latest(registry)
            cpu = (time.process_time() - started) * 1000 / count
            samples = sum(len(f.samples) for f in families)
            print(f"prometheus_client rendering the same page: {cpu:.3f} ms CPU/render; {len(families)} families, {samples} samples, {len(out)} bytes")
            """;
        var start = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(count.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(page);
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output.TrimEnd() : $"prometheus_client: failed ({error.Trim()})";
    }
}
