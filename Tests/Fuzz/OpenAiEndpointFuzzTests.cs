using System.Text.Json;
using CsCheck;
using Tests.Support;

namespace Tests.Fuzz;

/// <summary>
/// Property-based fuzzing of the OpenAI endpoints: valid requests and hostile mutations of them. Every answer is below
/// 500; every refusal by the API is an OpenAI error object whose type fits its status and whose param names a field
/// that was sent (or a required one); every success is a well-formed completion. Afterwards the engine is idle, holds
/// nothing, and each sequence a success carried was counted exactly once in vllm:request_success_total.
/// CI runs a bounded number of cases; a longer run is one command (README "Tests"):
/// <c>VELLUM_FUZZ_CASES=20000 dotnet test --filter FullyQualifiedName~Fuzz</c>.
/// </summary>
public class OpenAiEndpointFuzzTests(OpenAiFuzzTarget target) : IClassFixture<OpenAiFuzzTarget>
{
    private const int DefaultCases = 400;

    private static readonly (string, string)[] Series = [("model_name", OpenAiFuzzTarget.ModelName), ("engine", "0")];

    private static readonly Dictionary<int, string> TypeByStatus = new()
    {
        [400] = "invalid_request_error",
        [404] = "not_found_error",
        [413] = "invalid_request_error",
        [415] = "invalid_request_error",
    };

    /// <summary>Refusals Kestrel makes before a request reaches the API (HTTP framing, header limits): they carry no OpenAI body.</summary>
    private static readonly HashSet<int> ServerRefusals = [431];

    [Fact]
    public async Task HostileRequests_NeverGetA5xx_AlwaysGetAnOpenAiError_AndLeaveTheEngineIdleWithBalancedCounters()
    {
        var cancel = TestContext.Current.CancellationToken;
        var cases = int.TryParse(Environment.GetEnvironmentVariable("VELLUM_FUZZ_CASES"), out var configured) ? configured : DefaultCases;
        Assert.True(cases > 0, $"VELLUM_FUZZ_CASES={cases} would check nothing");
        var before = await SuccessCountAsync();
        long servedSequences = 0;
        long sent = 0;
        long refused = 0;

        await Check.SampleAsync(OpenAiRequestGen.Request, async request =>
        {
            var (status, contentType, body) = await target.SendAsync(request, cancel);
            Interlocked.Increment(ref sent);
            Assert.True(status < 500, $"{status} for {request}: {body}");
            // Only a client that broke off its own upload may be left without an answer.
            Assert.True(status != OpenAiFuzzTarget.ConnectionDropped || request.DeclaredLength is not null, $"no answer for {request}");
            if (status == OpenAiFuzzTarget.ConnectionDropped)
            {
                return;
            }
            if (status is >= 200 and < 300)
            {
                Interlocked.Add(ref servedSequences, SequencesIn(contentType, body, request));
            }
            else if (!ServerRefusals.Contains(status))
            {
                AssertOpenAiError(status, contentType, body, request);
                Interlocked.Increment(ref refused);
            }
        }, iter: cases, threads: 4, print: request => request.ToString());

        // Both halves of the property were exercised: requests were served, and requests were refused with an error body.
        Assert.Equal(cases, Interlocked.Read(ref sent));
        Assert.True(servedSequences > 0 && refused > 0, $"{servedSequences} sequences served, {refused} refusals checked in {cases} cases");
        var idle = await target.Worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(30));
        WorkerApp.AssertHoldsNothing(idle);
        var metrics = await target.Client.MetricsAsync();
        Assert.Equal(servedSequences, await SuccessCountAsync() - before);
        Assert.Equal(0, metrics["vellum_worker_unhandled_errors_total"].Value());
        TestContext.Current.SendDiagnosticMessage($"fuzz: {Interlocked.Read(ref sent)} requests sent, {servedSequences} sequences served");
    }

    private async Task<double> SuccessCountAsync() =>
        (await target.Client.MetricsAsync())["vllm:request_success_total"].Samples.Where(s => s.Labels["model_name"] == OpenAiFuzzTarget.ModelName).Sum(s => s.Value);

    private static void AssertOpenAiError(int status, string? contentType, string body, FuzzRequest request)
    {
        Assert.True(contentType == "application/json", $"{status} with {contentType} for {request}: {body}");
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), body);
        Assert.True(TypeByStatus.TryGetValue(status, out var type) && error.GetProperty("type").GetString() == type, $"{status} typed {error.GetProperty("type")} for {request}");
        Assert.True(error.GetProperty("code").ValueKind is JsonValueKind.String or JsonValueKind.Null);
        var param = error.GetProperty("param");
        Assert.True(param.ValueKind is JsonValueKind.String or JsonValueKind.Null);
        if (param.ValueKind == JsonValueKind.String)
        {
            var field = param.GetString()!.Split('.', '[')[0];
            Assert.True(field is "prompt" or "messages" or "X-Request-Id" || SentFields(request).Contains(field), $"param '{param}' names nothing that was sent: {request}");
        }
    }

    /// <summary>The top-level keys of the body, as far as it parses.</summary>
    private static HashSet<string> SentFields(FuzzRequest request)
    {
        try
        {
            using var document = JsonDocument.Parse(request.Body);
            return document.RootElement.EnumerateObject().Select(p => p.Name).ToHashSet();
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary>How many sequences a success carried, checking its shape on the way.</summary>
    private static int SequencesIn(string? contentType, string body, FuzzRequest request)
    {
        if (contentType == "text/event-stream")
        {
            var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToArray();
            Assert.True(events[^1] == "[DONE]", $"a stream without [DONE] for {request}");
            var finished = events[..^1].Select(e => JsonDocument.Parse(e).RootElement)
                .Where(e => e.TryGetProperty("choices", out _))
                .SelectMany(e => e.GetProperty("choices").EnumerateArray())
                .Where(c => c.GetProperty("finish_reason").ValueKind == JsonValueKind.String)
                .Select(c => c.GetProperty("index").GetInt32())
                .ToArray();
            Assert.Equal(finished.Length, finished.Distinct().Count());
            return finished.Length;
        }
        var choices = JsonDocument.Parse(body).RootElement.GetProperty("choices");
        Assert.All(choices.EnumerateArray(), c => Assert.Equal(JsonValueKind.String, c.GetProperty("finish_reason").ValueKind));
        return choices.GetArrayLength();
    }
}
