namespace Worker.Engine;

/// <summary>
/// Pausing generation (vLLM's POST /pause and /resume): while paused the loop runs no step but still takes aborts and
/// stop-string checks, so a client that leaves frees what it held. New requests queue (counted as waiting) until the
/// engine resumes, as vLLM blocks them.
/// </summary>
public sealed partial class LlmEngine
{
    private readonly Lock _pauseLock = new();
    private PendingPause? _pause; // asked for and not resumed; guarded by _pauseLock
    private bool _holdingSubmissions; // loop-owned: a mode=wait pause is draining; new requests are not taken yet
    private bool _paused; // loop-owned: the pause is in effect
    private TaskCompletionSource? _pauseToAnnounce; // loop-owned: applied this turn, told once the turn's snapshot is published

    /// <summary>
    /// Pauses generation; the task completes once the pause is in effect: at once for <see cref="PauseMode.Keep"/> and
    /// <see cref="PauseMode.Abort"/> (after the running step), after the last request in flight for <see cref="PauseMode.Wait"/>.
    /// A pause asked for while one is pending or in effect joins it.
    /// </summary>
    /// <param name="clearCache">Also drop the kept prefixes once nothing runs (not with Keep, whose requests still hold theirs).</param>
    public Task PauseAsync(PauseMode mode, bool clearCache)
    {
        Task applied;
        lock (_pauseLock)
        {
            _pause ??= new PendingPause(mode, clearCache, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            applied = _pause.Applied.Task;
        }
        _wake.Release();
        return applied;
    }

    /// <summary>Ends a pause (or one still draining): held and new requests go on from the next turn.</summary>
    public void Resume()
    {
        PendingPause? pause;
        lock (_pauseLock)
        {
            pause = _pause;
            _pause = null;
        }
        pause?.Applied.TrySetResult(); // a waiting pause cut short by a resume has ended too
        _wake.Release();
    }

    /// <summary>At the end of taking a turn's commands: the pause asked for is applied once its condition holds.</summary>
    private void TakePause()
    {
        PendingPause? pause;
        lock (_pauseLock)
        {
            pause = _pause;
        }
        if (pause is null)
        {
            _paused = _holdingSubmissions = false;
            return;
        }
        if (_paused)
        {
            return;
        }
        if (pause.Mode == PauseMode.Abort)
        {
            foreach (var request in _active.ToArray())
            {
                EndRequest(request, FinishReason.Abort, new EngineError(EngineError.EnginePaused, "Generation was paused (POST /pause); the request was aborted."));
            }
        }
        // Draining (mode=wait): the requests in flight finish first, and new ones stay in the submission queue meanwhile.
        _holdingSubmissions = pause.Mode == PauseMode.Wait && _active.Count > 0;
        if (_holdingSubmissions)
        {
            return;
        }
        if (pause.ClearCache && pause.Mode != PauseMode.Keep)
        {
            _scheduler.Cache.ClearPrefixes();
        }
        _paused = true;
        _pauseToAnnounce = pause.Applied;
    }

    /// <summary>At shutdown: a pause no longer holds anything back, and whoever waits for one is told why.</summary>
    private void EndPause()
    {
        PendingPause? pause;
        lock (_pauseLock)
        {
            pause = _pause;
            _pause = null;
        }
        _holdingSubmissions = _paused = false;
        pause?.Applied.TrySetException(new EngineStoppedException(_stopError));
    }

    private sealed record PendingPause(PauseMode Mode, bool ClearCache, TaskCompletionSource Applied);
}
