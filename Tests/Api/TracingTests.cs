using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Tests.Support;

namespace Tests.Api;

/// <summary>One request, one id: the response, its trace's spans and its log lines all carry it.</summary>
public class TracingTests
{
    [Fact]
    public async Task Request_HasQueuePrefillAndDecodeSpansUnderItsServerSpan_AndLogsUnderItsId()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Worker" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        var logs = new FakeLogCollector();
        await using var worker = new LoggingWorker(logs);
        await worker.WaitUntilHealthyAsync();
        using var client = worker.CreateClient();
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "ignore_eos": true}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Request-Id", "trace-me");
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith($"00-{traceId}-", response.Headers.GetValues("traceparent").Single());
        var phases = spans.Where(s => s.GetTagItem("request_id") as string == "chatcmpl-trace-me" && s.Source.Name == "Worker").ToArray();
        Assert.Equal(["decode", "prefill", "queue"], phases.Select(s => s.OperationName).Order());
        Assert.All(phases, s => Assert.Equal(traceId, s.TraceId));
        // The server span ends when the host disposes the request, a moment after the client has the whole body.
        await Eventually.ReadUntilAsync(() => spans.Any(IsServerSpan), ended => ended, TimeSpan.FromSeconds(5));
        var server = spans.Single(IsServerSpan);
        Assert.All(phases, s => Assert.Equal(server.SpanId, s.ParentSpanId));
        Assert.Equal("chatcmpl-trace-me", server.GetTagItem("request_id"));
        var queue = phases.Single(s => s.OperationName == "queue");
        var decode = phases.Single(s => s.OperationName == "decode");
        Assert.True(queue.StartTimeUtc <= decode.StartTimeUtc && decode.Duration > TimeSpan.Zero);

        var finished = logs.GetSnapshot().Single(r => r.Message.StartsWith("Request chatcmpl-trace-me sequence 0 finished (length)", StringComparison.Ordinal));
        Assert.Contains(finished.Scopes.OfType<IEnumerable<KeyValuePair<string, object>>>().SelectMany(s => s), kv => kv.Key == "RequestId" && (string)kv.Value == "chatcmpl-trace-me");

        bool IsServerSpan(Activity span) => span.Source.Name == "Microsoft.AspNetCore" && span.TraceId == traceId;
    }

    private sealed class LoggingWorker(FakeLogCollector logs) : WorkerApp
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services => services.AddLogging(logging => logging.AddProvider(new FakeLoggerProvider(logs))));
        }
    }
}
