using Microsoft.ML.OnnxRuntimeGenAI;
using Worker.Engine;
using Worker.Runner;

namespace Worker.Output;

/// <summary>
/// vLLM's output processor for one API request: turns each engine output into a <see cref="ChoiceDelta"/> on the
/// request's own thread, never the engine's. Per choice it detokenizes incrementally and looks for stop strings. Outputs
/// flow one way; the engine hears back once per stop-string sequence (<see cref="LlmEngine.Checked"/>, sent as vLLM's
/// output processor sends an abort): where a stop string ended the text, or that the engine's own finish stands.
/// Either way the engine counts exactly the tokens kept, so usage and vllm:generation_tokens agree.
/// </summary>
internal sealed class OutputProcessor : IDisposable
{
    private readonly LlmEngine _engine;
    private readonly Choice[] _choices;

    public OutputProcessor(LlmEngine engine, LoadedModel model, IReadOnlyList<EngineRequest> requests)
    {
        _engine = engine;
        _choices = requests
            .SelectMany(request =>
            {
                var stops = StopStrings.For(request.Parameters.Stop);
                return request.Sequences.Select(sequence => new Choice(sequence, model.CreateTokenizerStream(), new StopStringMatcher(stops)));
            })
            .OrderBy(choice => choice.Sequence.Choice)
            .ToArray();
    }

    /// <summary>The client's view of an engine output, or null when it shows nothing (tokens past a stop string).</summary>
    public ChoiceDelta? Process(SequenceOutput output)
    {
        var choice = _choices[output.Choice];
        if (choice.StoppedByString)
        {
            // The engine still sends what it computed before it learnt of the stop; only its finish matters.
            return output.Finish is { } finish ? new ChoiceDelta(output.Choice, "", 0, finish, output.StopReason, output.Error) : null;
        }

        var text = new System.Text.StringBuilder();
        var kept = 0;
        var shown = output.EndsWithStopToken ? output.Tokens.Length - 1 : output.Tokens.Length;
        for (; kept < output.Tokens.Length; kept++)
        {
            if (kept < shown)
            {
                text.Append(choice.Stops.Add(choice.Detokenizer.Decode(output.Tokens[kept])));
            }
            if (choice.Stops.Matched is not null)
            {
                choice.StoppedByString = true;
                kept++;
                break;
            }
        }
        choice.KeptTokens += kept;
        if (choice.StoppedByString || output.AwaitsCheck)
        {
            _engine.Checked(choice.Sequence, choice.KeptTokens, choice.Stops.Matched);
        }
        if (output.Finish is not null)
        {
            text.Append(choice.Stops.Flush()); // the sequence ended without a stop string: release what was held back
        }
        return new ChoiceDelta(output.Choice, text.ToString(), kept, output.Finish, output.StopReason, output.Error, output.Logprobs?.Take(kept).ToArray(),
            output.PromptLogprobs);
    }

    public void Dispose()
    {
        foreach (var choice in _choices)
        {
            choice.Detokenizer.Dispose();
        }
    }

    private sealed class Choice(Sequence sequence, TokenizerStream detokenizer, StopStringMatcher stops)
    {
        public Sequence Sequence { get; } = sequence;

        public TokenizerStream Detokenizer { get; } = detokenizer;

        public StopStringMatcher Stops { get; } = stops;

        public bool StoppedByString { get; set; }

        /// <summary>Output tokens shown or counted so far: those up to and including the one that completed a stop string.</summary>
        public int KeptTokens { get; set; }
    }
}
