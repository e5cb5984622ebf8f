using Worker.Hosting;
using Worker.Metrics;
using Worker.Runner;
using Worker.StructuredOutput;

namespace Worker.Api;

/// <summary>
/// Turns a request's constraint into the grammar its sequences sample under: compiled (or found in the cache) over the
/// served model's vocabulary, counted and timed; a constraint that cannot be compiled is a 400 naming the keyword.
/// </summary>
public sealed class StructuredOutputs(EngineHost host, StructuredOutputMetrics metrics, Microsoft.Extensions.Options.IOptions<Options.ServeOptions> options)
{
    private readonly Options.StructuredOutputsConfig _config = Options.StructuredOutputsConfig.Parse(options.Value.StructuredOutputsConfig);

    internal Grammar Compile(StructuredOutputRequest request, LoadedModel model)
    {
        metrics.Requested(request.Label);
        if (_config.DisableAnyWhitespace)
        {
            request = request with { AnyWhitespace = false };
        }
        try
        {
            var compiled = host.Grammars(model).Compile(request);
            if (!compiled.CacheHit)
            {
                metrics.Compiled(compiled.CompileSeconds);
            }
            return compiled.Grammar;
        }
        catch (UnsupportedSchemaException e)
        {
            metrics.Refused(e.Reason);
            throw new ApiException(400, e.Message, request.Parameter, e.Reason);
        }
    }
}
