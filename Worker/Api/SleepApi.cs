using Worker.Engine;
using Worker.Hosting;

namespace Worker.Api;

/// <summary>vLLM's sleep-mode endpoints: free the model's memory while idle, restore it on demand.</summary>
public static class SleepApi
{
    public static IEndpointRouteBuilder MapSleepApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/sleep", async (EngineHost host, int? level) =>
        {
            if (level is not (null or 1 or 2))
            {
                return ApiException.BadRequest($"'level' must be 1 (keep the weights in memory) or 2 (discard everything); got {level}.", "level").ToResult();
            }
            if (host.Engine is null && !host.IsSleeping)
            {
                return OpenAiApi.NotLoaded().ToResult();
            }
            await host.SleepAsync(level ?? 1);
            return Results.Ok();
        }).WithName("Sleep").WithSummary("Unloads the model (level 1 keeps its weights in memory for a fast wake-up; level 2 discards them).");

        routes.MapPost("/wake_up", async (EngineHost host) =>
        {
            await host.WakeUpAsync();
            return Results.Ok();
        }).WithName("WakeUp").WithSummary("Reloads the model after /sleep.");

        routes.MapGet("/is_sleeping", (EngineHost host) => Results.Json(new { is_sleeping = host.IsSleeping }))
            .WithName("IsSleeping").WithSummary("Whether the engine sleeps.");
        return routes;
    }
}
