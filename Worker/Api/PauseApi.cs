using Worker.Engine;
using Worker.Hosting;

namespace Worker.Api;

/// <summary>
/// vLLM's generation pause (vllm/entrypoints/serve/rlhf/api_router.py, dev mode only): POST /pause?mode=abort|wait|keep,
/// POST /resume, GET /is_paused. Operators pause a worker for a weight update; tests freeze steps with mode=keep so
/// that work in flight stays in flight for exactly as long as they need.
/// </summary>
public static class PauseApi
{
    public static IEndpointRouteBuilder MapPauseApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/pause", async (EngineHost host, string? mode, bool? wait_for_inflight_requests, bool? clear_cache) =>
        {
            // wait_for_inflight_requests=true is vLLM's deprecated spelling of mode=wait.
            var requested = mode ?? (wait_for_inflight_requests == true ? "wait" : "abort");
            if (!Enum.TryParse<PauseMode>(requested, ignoreCase: true, out var pauseMode) || !Enum.IsDefined(pauseMode) || int.TryParse(requested, out _))
            {
                return ApiException.BadRequest($"'mode' must be abort, wait or keep; got '{requested}'.", "mode").ToResult();
            }
            if (host.Engine is not { } engine)
            {
                return OpenAiApi.NotLoaded().ToResult();
            }
            try
            {
                await engine.PauseAsync(pauseMode, clear_cache ?? true);
            }
            catch (EngineStoppedException e)
            {
                return new ApiException(503, e.Message, code: e.Why.Code).ToResult();
            }
            return Results.Json(new { status = "paused" });
        }).WithName("Pause").WithSummary("Pauses generation: abort (default), wait for, or keep the requests in flight; new requests wait for /resume.");

        routes.MapPost("/resume", (EngineHost host) =>
        {
            host.Engine?.Resume();
            return Results.Json(new { status = "resumed" });
        }).WithName("Resume").WithSummary("Resumes generation after /pause.");

        routes.MapGet("/is_paused", (EngineHost host) => Results.Json(new { is_paused = host.Engine?.Snapshot.Paused ?? false }))
            .WithName("IsPaused").WithSummary("Whether generation is paused.");
        return routes;
    }
}
