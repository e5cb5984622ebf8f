using Worker.Options;

namespace Worker.Api;

/// <summary>
/// What one request may ask for, so that a small body cannot make the server do or hold much: each limit is a flag
/// (README "Limits and errors"), and a request past one gets a 400 that names the field.
/// </summary>
/// <param name="MaxLogprobs">--max-logprobs; -1: as many as the vocabulary has.</param>
/// <param name="LogprobsMode">--logprobs-mode: a server setting every request's logprobs follow.</param>
internal sealed record RequestLimits(int MaxSequences, int MaxStopSequences, int MaxStopSequenceLength, int MaxStopTokenIds, int MaxLogprobs = 20,
    Runner.LogprobsMode LogprobsMode = Runner.LogprobsMode.RawLogprobs)
{
    public static RequestLimits From(ServeOptions options) =>
        new(options.MaxSequencesPerRequest, options.MaxStopSequences, options.MaxStopSequenceLength, options.MaxStopTokenIds, options.MaxLogprobs,
            LogprobsModes.TryParse(options.LogprobsMode, out var mode) ? mode : Runner.LogprobsMode.RawLogprobs);
}
