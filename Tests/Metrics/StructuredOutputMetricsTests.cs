using System.Net;
using Tests.Support;

namespace Tests.Metrics;

/// <summary>
/// vellum_structured_output_*: requests by kind, refusals by reason, compiles timed once per distinct constraint (the
/// grammar cache serves the rest), and the mask time of every constrained row per step.
/// </summary>
public class StructuredOutputMetricsTests(DedicatedWorkerFixture fixture) : IClassFixture<DedicatedWorkerFixture>
{
    private readonly HttpClient _client = fixture.Worker.CreateClient();

    private static readonly (string, string) Model = ("model_name", WorkerApp.ModelName);

    [Fact]
    public async Task RequestsRefusalsCompilesAndMasks_AreCountedWhereTheyHappen()
    {
        var before = await _client.MetricsAsync();
        foreach (var seed in new[] { 1, 2, 3 })
        {
            using var ok = await _client.PostJsonAsync("/v1/completions", new { prompt = "Pick:", max_tokens = 8, seed, temperature = 1.0, guided_choice = new[] { "left", "right" } });
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        using (var regex = await _client.PostJsonAsync("/v1/completions", new { prompt = "Code:", max_tokens = 8, structured_outputs = new { regex = "[0-9]{3}" } }))
        {
            Assert.Equal(HttpStatusCode.OK, regex.StatusCode);
        }
        using (var refused = await _client.PostJsonAsync("/v1/completions", new { prompt = "x", guided_json = new { type = "integer", multipleOf = 3 } }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }
        using (var badPattern = await _client.PostJsonAsync("/v1/completions", new { prompt = "x", guided_regex = "a(?=b)" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badPattern.StatusCode);
        }
        var after = await _client.MetricsAsync();

        double Delta(string family, string suffix = "", params (string, string)[] labels) =>
            after[family].Of(suffix, [Model, .. labels]) - before[family].Of(suffix, [Model, .. labels]);
        Assert.Equal(3, Delta("vellum_structured_output_requests_total", "", ("type", "choice")));
        Assert.Equal(2, Delta("vellum_structured_output_requests_total", "", ("type", "regex")));
        Assert.Equal(1, Delta("vellum_structured_output_requests_total", "", ("type", "json")));
        Assert.Equal(0, Delta("vellum_structured_output_requests_total", "", ("type", "json_object")));
        Assert.Equal(1, Delta("vellum_structured_output_invalid_schemas_total", "", ("reason", "unsupported_keyword")));
        Assert.Equal(1, Delta("vellum_structured_output_invalid_schemas_total", "", ("reason", "unsupported_pattern")));
        Assert.Equal(0, Delta("vellum_structured_output_invalid_schemas_total", "", ("reason", "invalid_schema")));
        // The choice compiled once for three requests; the regex once.
        Assert.Equal(2, Delta("vellum_structured_output_compile_seconds", "_count"));
        Assert.True(Delta("vellum_structured_output_compile_seconds", "_sum") > 0);
        // Every constrained output token was masked: at least one row-step per token generated under a constraint.
        Assert.True(Delta("vellum_structured_output_mask_seconds", "_count", ("engine", "0")) >= 3 * 4 + 3);
    }
}
