using Worker.Options;

namespace Worker.Api;

/// <summary>
/// What one request may ask for, so that a small body cannot make the server do or hold much: each limit is a flag
/// (README "Limits and errors"), and a request past one gets a 400 that names the field.
/// </summary>
internal sealed record RequestLimits(int MaxSequences, int MaxStopSequences, int MaxStopSequenceLength, int MaxStopTokenIds)
{
    public static RequestLimits From(ServeOptions options) =>
        new(options.MaxSequencesPerRequest, options.MaxStopSequences, options.MaxStopSequenceLength, options.MaxStopTokenIds);
}
