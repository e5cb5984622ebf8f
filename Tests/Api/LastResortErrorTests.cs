using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Tests.Support;

namespace Tests.Api;

/// <summary>
/// No exception reaches Kestrel (a bare 500 with an empty body): whatever no handler expected is answered with an
/// OpenAI-style error naming the request id, logged under the request's id and trace, and counted.
/// </summary>
public class LastResortErrorTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AnUnexpectedException_Gets500WithAnOpenAiError_IsLoggedWithItsTrace_AndCounted()
    {
        var logs = new FakeLogCollector();
        await using var worker = new FaultyWorker(logs);
        await worker.WaitUntilHealthyAsync();
        using var client = worker.CreateClient();
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Get, FaultyWorker.ThrowsPath);
        request.Headers.Add("X-Request-Id", "fault-1");
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");

        using var response = await client.SendAsync(request, Cancel);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var error = (await response.JsonAsync()).GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.Equal("internal_error", error.GetProperty("code").GetString());
        Assert.Contains("fault-1", error.GetProperty("message").GetString());
        Assert.Equal("fault-1", response.Headers.GetValues("X-Request-Id").Single());

        var logged = logs.GetSnapshot().Single(r => r.Exception?.Message == FaultyWorker.Failure);
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.Contains(logged.Scopes.OfType<IEnumerable<KeyValuePair<string, object>>>().SelectMany(s => s), kv => kv.Key == "RequestId" && (string)kv.Value == "fault-1");
        Assert.Contains(logged.Scopes.OfType<IEnumerable<KeyValuePair<string, object>>>().SelectMany(s => s), kv => kv.Key == "TraceId" && kv.Value.ToString() == traceId.ToString());
        var metrics = await client.MetricsAsync();
        Assert.Equal(1, metrics["vellum_worker_unhandled_errors_total"].Value());
    }

    [Fact]
    public async Task AStreamThatFailsAfterItStarted_EndsWithAnErrorEvent()
    {
        await using var worker = new FaultyWorker(new FakeLogCollector());
        await worker.WaitUntilHealthyAsync();
        using var client = worker.CreateClient();

        using var response = await client.GetAsync(FaultyWorker.StreamThrowsPath, HttpCompletionOption.ResponseHeadersRead, Cancel);
        var events = await Sse.ReadAllAsync(response, Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, events.Count);
        Assert.Equal("internal_error", events[^1].Json.GetProperty("error").GetProperty("code").GetString());
    }

    /// <summary>The real worker, with two routes whose handlers fail as a bug would, inside the worker's own pipeline.</summary>
    private sealed class FaultyWorker(FakeLogCollector logs) : WorkerApp
    {
        public const string ThrowsPath = "/test/throws";
        public const string StreamThrowsPath = "/test/stream-throws";
        public const string Failure = "a bug no handler expected";

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services =>
            {
                services.AddLogging(logging => logging.AddProvider(new FakeLoggerProvider(logs)).Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId));
                services.AddSingleton<IStartupFilter, FaultRoutes>();
            });
        }

        /// <summary>Runs after the worker's own middleware: what it throws passes through them as a handler's would.</summary>
        private sealed class FaultRoutes : IStartupFilter
        {
            public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
            {
                next(app);
                app.Run(async http =>
                {
                    if (http.Request.Path == StreamThrowsPath)
                    {
                        http.Response.ContentType = "text/event-stream";
                        await http.Response.WriteAsync("data: {\"started\": true}\n\n");
                        await http.Response.Body.FlushAsync();
                    }
                    throw new InvalidOperationException(Failure);
                });
            };
        }
    }
}
