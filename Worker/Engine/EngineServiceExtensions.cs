using Worker.Options;

namespace Worker.Engine;

public static class EngineServiceExtensions
{
    /// <summary>Binds the serving options and runs the engine host, whose readiness gates /health.</summary>
    public static WebApplicationBuilder AddEngine(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ServeOptions>()
            .Bind(builder.Configuration.GetSection(ServeOptions.Section))
            .Validate(o => o.MaxNumSeqs >= 1, "--max-num-seqs must be at least 1.")
            .Validate(o => o.Device is "cpu" or "cuda", "--device must be cpu or cuda.")
            .ValidateOnStart();
        builder.Services.AddSingleton<EngineHost>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EngineHost>());
        builder.Services.AddHealthChecks().AddCheck<EngineHost>("model");
        return builder;
    }
}
