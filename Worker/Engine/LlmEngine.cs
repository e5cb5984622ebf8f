using System.Collections.Concurrent;
using System.Diagnostics;
using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// The engine loop, vLLM V1's: on its own thread it takes new requests and aborts, asks the scheduler for the step's
/// plan, has the proposer guess (speculative decoding), the runner execute the plan in one batched forward pass
/// (plus a pass per prefill chunk), then samples each row, accepts or rejects guesses, advances or finishes
/// sequences, records the turn's stats, and only then hands the results to each request's output channel: by the
/// time a client has its response, the metrics count it and its exemplars could still take its span (a span that
/// has ended cannot be made current again). Nothing outside this thread touches a sequence while it runs.
/// </summary>
public sealed partial class LlmEngine : IDisposable
{
    private readonly LoadedModel _model;
    private readonly IModelRunner _runner;
    private readonly EngineOptions _options;
    private readonly Scheduler _scheduler;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<IEngineStatsSink> _statsSinks;
    private readonly StepStatsBuilder _stats = new();
    private readonly KvBlockSampler? _blockSampler;
    private readonly ConcurrentQueue<EngineRequest> _submitted = new();
    private readonly ConcurrentQueue<EngineRequest> _aborted = new();
    private readonly ConcurrentQueue<(Sequence Sequence, int KeptTokens, string? StopString)> _checks = new();
    private readonly HashSet<EngineRequest> _active = [];
    private readonly HashSet<EngineRequest> _queued = [];
    private readonly List<(EngineRequest Request, SequenceOutput Output)> _outbox = [];
    private readonly Dictionary<string, long> _finished = Enum.GetValues<FinishReason>().ToDictionary(r => r.ToApiString(), _ => 0L);
    private readonly ConcurrentDictionary<string, long> _rejected = new() { ["max_num_queued_requests"] = 0, ["max_num_queued_tokens"] = 0 };
    private readonly Lock _admission = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Thread _thread;
    private int _queuedRequests;
    private long _queuedTokens;
    private long _steps;
    private volatile int _disposed;
    private EngineError _stopError = new(EngineError.EngineShutdown, "The server is shutting down; the request was aborted.");
    private volatile EngineSnapshot _snapshot;

    /// <param name="runner">Executes the steps and owns the KV arena; the engine disposes it (and the proposer) when it stops.</param>
    /// <param name="statsSinks">Who turns each step's stats into metrics and log lines; none with --disable-log-stats.</param>
    internal LlmEngine(LoadedModel model, IModelRunner runner, EngineOptions options, ILogger<LlmEngine> logger, IReadOnlyList<IEngineStatsSink>? statsSinks = null)
    {
        _model = model;
        _runner = runner;
        _options = options;
        _statsSinks = statsSinks ?? [];
        _blockSampler = options.KvBlockSampleRate > 0 ? new KvBlockSampler(options.KvBlockSampleRate, new Random()) : null;
        _scheduler = new Scheduler(options.Limits, options.Cache, runner.Cache, model.MaxModelLength, _blockSampler, options.Speculation, options.KvConnector);
        options.KvConnector?.OnProgress(() => _wake.Release());
        _logger = logger;
        _snapshot = TakeSnapshot();
        _thread = new Thread(Run) { Name = "engine-loop", IsBackground = true };
        _thread.Start();
    }

    public LoadedModel Model => _model;

    /// <summary>The runner and its KV arena; read outside the loop only for what is safe to race (resident memory).</summary>
    internal IModelRunner Runner => _runner;

    public EngineOptions Options => _options;

    /// <summary>The counts after the latest step; refusals happen on request threads and are read live.</summary>
    public EngineSnapshot Snapshot => _snapshot with { Rejected = new Dictionary<string, long>(_rejected) };

    /// <summary>Queues a request, or refuses it when the queue limits are reached.</summary>
    /// <exception cref="EngineOverloadedException">A queue limit is reached.</exception>
    /// <exception cref="EngineStoppedException">The engine has been stopped (sleep, shutdown).</exception>
    public void Submit(EngineRequest request)
    {
        // n samples are n queued sequences, as vLLM's engine fans a request with n > 1 out into n requests.
        var sequences = request.Parameters.N;
        var tokens = (long)request.PromptTokens.Length * sequences;
        lock (_admission)
        {
            // Under the lock that Stop takes too: a request is either refused here or seen by the loop's last turn.
            if (_disposed == 1)
            {
                throw new EngineStoppedException(_stopError);
            }
            if (_options.MaxNumQueuedRequests is { } maxRequests && _queuedRequests + sequences > maxRequests)
            {
                throw Reject("max_num_queued_requests", $"The server has {_queuedRequests} sequences queued; {sequences} more would pass its limit (--max-num-queued-requests {maxRequests}).");
            }
            if (_options.MaxNumQueuedTokens is { } maxTokens && _queuedTokens + tokens > maxTokens)
            {
                throw Reject("max_num_queued_tokens", $"The server has {_queuedTokens} prompt tokens queued; {tokens} more would pass its limit (--max-num-queued-tokens {maxTokens}).");
            }
            _queuedRequests += sequences;
            _queuedTokens += tokens;
        }
        _submitted.Enqueue(request);
        _wake.Release();
    }

    /// <summary>Aborts a request wherever it is; its KV slots and blocks are released before the next step.</summary>
    public void Abort(EngineRequest request)
    {
        // Marked as well as queued: an abort taken before its submission (the two queues are drained one after the
        // other) still ends the request when the submission is taken.
        request.AbortRequested = true;
        _aborted.Enqueue(request);
        _wake.Release();
    }

    /// <summary>
    /// The output processor has checked a sequence's oldest unchecked output for stop strings: it keeps
    /// <paramref name="keptTokens"/> of its tokens, and <paramref name="stopString"/> ends the sequence there when set.
    /// </summary>
    public void Checked(Sequence sequence, int keptTokens, string? stopString)
    {
        _checks.Enqueue((sequence, keptTokens, stopString));
        _wake.Release();
    }

    private EngineOverloadedException Reject(string reason, string message)
    {
        _rejected.AddOrUpdate(reason, 1, (_, count) => count + 1);
        return new EngineOverloadedException(reason, message);
    }

    private void Run()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            TakeCommands();
            if (_paused || !_scheduler.HasWork)
            {
                EndTurn();
                try
                {
                    _wake.Wait(token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                continue;
            }
            var ran = Step();
            EndTurn();
            if (!ran)
            {
                // Nothing could be scheduled (a head that does not fit while nothing runs): wait for a command rather than spin.
                _wake.Wait(TimeSpan.FromMilliseconds(5));
            }
        }
        Shutdown();
    }

    /// <summary>Stats and snapshot first, outputs last (see the class summary).</summary>
    private void EndTurn()
    {
        EmitStats();
        _snapshot = TakeSnapshot();
        foreach (var (request, output) in _outbox)
        {
            request.Output.TryWrite(output);
        }
        _outbox.Clear();
        AnnouncePause();
    }

    private void TakeCommands()
    {
        var now = Stopwatch.GetTimestamp();
        while (!_holdingSubmissions && _submitted.TryDequeue(out var request))
        {
            _active.Add(request);
            _queued.Add(request);
            _scheduler.Add(request, now);
            if (request.AbortRequested)
            {
                EndRequest(request, FinishReason.Abort);
            }
        }
        while (_aborted.TryDequeue(out var request))
        {
            if (_active.Contains(request))
            {
                EndRequest(request, FinishReason.Abort);
            }
        }
        while (_checks.TryDequeue(out var check))
        {
            TakeCheck(check.Sequence, check.KeptTokens, check.StopString);
        }
        _scheduler.TakeTransfers(now);
        TakePause();
    }

    /// <summary>
    /// Counts a checked output's tokens as generated, stamped with the step that produced them; a stop string ends the
    /// sequence after the kept tokens (what the engine computed past them is dropped, as vLLM drops it). A sequence the
    /// engine had already ended (EOS, length) is finished once its last output is checked.
    /// </summary>
    private void TakeCheck(Sequence sequence, int keptTokens, string? stopString)
    {
        if (sequence.Finish is not null || !sequence.Unchecked.TryDequeue(out var output))
        {
            return; // ended meanwhile (aborted): nothing left to count
        }
        if (stopString is not null)
        {
            sequence.TruncateOutput(sequence.CountedOutputTokens + keptTokens);
            sequence.Unchecked.Clear();
            CountGenerated(sequence, output.StepEnded, keptTokens);
            _scheduler.Finish(sequence);
            CompleteSequence(sequence, FinishReason.Stop, stopString);
            return;
        }
        CountGenerated(sequence, output.StepEnded, output.Tokens);
        if (sequence.Unchecked.Count == 0 && sequence.PendingFinish is { } reason)
        {
            CompleteSequence(sequence, reason, stopReason: null);
        }
    }

    /// <summary>Tokens that count: generation stats, and the timeline's first and last token, at the step that made them.</summary>
    private void CountGenerated(Sequence sequence, long stepEnded, int tokens)
    {
        _stats.TokensGenerated(sequence, stepEnded, tokens);
        sequence.CountedOutputTokens += tokens;
        if (sequence.Timeline.FirstToken == 0)
        {
            sequence.Timeline.FirstToken = stepEnded;
        }
        sequence.Timeline.LastToken = stepEnded;
    }

    /// <returns>False when the plan was empty: nothing could run this turn.</returns>
    private bool Step()
    {
        var plan = _scheduler.Schedule(Stopwatch.GetTimestamp());
        LeaveQueue();
        if (plan.Rows.Count == 0)
        {
            return false;
        }
        var drafted = Stopwatch.GetTimestamp();
        int[][] guesses;
        RunnerRow[] rows;
        float[] logits;
        long started;
        try
        {
            guesses = Propose(plan);
            started = Stopwatch.GetTimestamp();
            rows = plan.Rows.Select((row, i) => new RunnerRow(row.Sequence.Slot, [.. row.Tokens, .. guesses[i]], row.Samples ? 1 + guesses[i].Length : 0)).ToArray();
            logits = _runner.Execute(rows);
        }
        catch (Exception e)
        {
            // A failed forward pass (or draft pass) leaves every row's cache in doubt: each of the step's requests fails.
            foreach (var request in plan.Rows.Select(r => r.Sequence.Request).Distinct().ToArray())
            {
                Log.SequenceFailed(_logger, request.Id, e);
                EndRequest(request, FinishReason.Error, new EngineError(EngineError.GenerationFailed, $"Generation failed: {e.Message}"));
            }
            return true;
        }
        _steps++;

        // One timestamp for the whole step's outputs, as vLLM stamps each batch of engine outputs.
        var stepDone = Stopwatch.GetTimestamp();
        var draftSeconds = Stopwatch.GetElapsedTime(drafted, started).TotalSeconds;
        var verifySeconds = Stopwatch.GetElapsedTime(started, stepDone).TotalSeconds;
        var vocab = _runner.VocabSize;
        var offset = 0;
        for (var i = 0; i < plan.Rows.Count; i++)
        {
            var row = plan.Rows[i];
            var sequence = row.Sequence;
            var rowLogits = logits.AsMemory(offset, rows[i].LogitsRows * vocab);
            offset += rowLogits.Length;
            if (sequence.Finish is not null)
            {
                continue; // ended with its request earlier in this loop (a sibling's failure)
            }
            _stats.ForwardPass(rows[i].Tokens.Length, _runner.Cache.Length(sequence.Slot));
            if (!row.Samples)
            {
                continue; // a prefill chunk that does not finish the prompt: nothing to sample yet
            }
            int[] emitted;
            try
            {
                emitted = SampleAndVerify(sequence, rowLogits.Span, guesses[i]);
            }
            catch (NonFiniteLogitsException e)
            {
                Log.SequenceFailed(_logger, sequence.Request.Id, e);
                EndRequest(sequence.Request, FinishReason.Error, new EngineError(EngineError.GenerationFailed, $"Generation failed: {e.Message}"));
                continue;
            }
            var accepted = emitted.Length - 1;
            if (guesses[i].Length > 0)
            {
                _stats.SpeculativeRound(sequence, guesses[i].Length, accepted, draftSeconds, verifySeconds);
                sequence.Speculation.Add(guesses[i].Length, accepted);
                sequence.SpeculativeK = _options.Speculation!.NextK(sequence.SpeculativeK, guesses[i].Length, accepted);
            }
            // The cache keeps the fed tokens and the accepted guesses; the last emitted token is fed next step.
            var committed = _runner.Cache.Length(sequence.Slot) - guesses[i].Length + accepted;
            _runner.Cache.Truncate(sequence.Slot, committed);
            _options.Speculation?.Proposer.Commit(sequence, committed);
            Advance(sequence, emitted, stepDone);
        }
        return true;
    }

    /// <summary>Asks the proposer for the guesses the plan allows each decoding sequence; none for the others.</summary>
    private int[][] Propose(StepPlan plan)
    {
        var guesses = new int[plan.Rows.Count][];
        Array.Fill(guesses, []);
        if (_options.Speculation is not { } speculation)
        {
            return guesses;
        }
        var speculating = Enumerable.Range(0, plan.Rows.Count).Where(i => plan.Rows[i].Guesses > 0).ToArray();
        if (speculating.Length == 0)
        {
            return guesses;
        }
        var proposals = speculation.Proposer.Propose(speculating.Select(i => plan.Rows[i].Sequence).ToArray(), speculating.Select(i => plan.Rows[i].Guesses).ToArray());
        for (var r = 0; r < speculating.Length; r++)
        {
            guesses[speculating[r]] = proposals[r]; // at most the row's guesses, as the proposer promises
        }
        return guesses;
    }

    /// <summary>
    /// Samples each position from the target's own logits with the sequence's sampler, in order: a guess equal to the
    /// sampled token is accepted and the next position checked; the first that differs is replaced by the sampled
    /// token (after all are accepted, the next sampled token is a bonus). Every emitted token is the one the target
    /// alone would have sampled with the same random draws, so output is unchanged by speculation, greedy or seeded.
    /// </summary>
    private int[] SampleAndVerify(Sequence sequence, ReadOnlySpan<float> logits, int[] guesses)
    {
        var vocab = _runner.VocabSize;
        var emitted = new List<int>(guesses.Length + 1);
        for (var position = 0; position <= guesses.Length; position++)
        {
            var row = logits.Slice(position * vocab, vocab);
            if (_options.CheckLogitsForNaN && !sequence.SawNaN)
            {
                sequence.SawNaN = HasNaN(row);
            }
            var token = Sampler.Sample(row, sequence.Request.Parameters, sequence.Random);
            emitted.Add(token);
            if (position == guesses.Length || token != guesses[position])
            {
                break;
            }
        }
        return emitted.ToArray();
    }

    private static bool HasNaN(ReadOnlySpan<float> values)
    {
        foreach (var value in values)
        {
            if (float.IsNaN(value))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Appends a step's emitted tokens to the sequence and hands them on: counted now, or once checked for stop strings.</summary>
    private void Advance(Sequence sequence, int[] emitted, long stepDone)
    {
        var (tokens, finish, isStopToken) = AcceptTokens(sequence, emitted);
        _stats.TokensComputed(sequence, tokens.Length);
        sequence.HasOutput = true;
        if (sequence.AwaitsChecks)
        {
            // Counted, and ended, once the output processor has checked the tokens for stop strings.
            sequence.Unchecked.Enqueue(new UncheckedOutput(stepDone, tokens.Length));
            if (finish is { } pending)
            {
                sequence.PendingFinish = pending;
                EndCompute(sequence, pending);
            }
            _outbox.Add((sequence.Request, new SequenceOutput(sequence.Choice, tokens, EndsWithStopToken: isStopToken, AwaitsCheck: true)));
            return;
        }
        CountGenerated(sequence, stepDone, tokens.Length);
        if (finish is { } reason)
        {
            EndCompute(sequence, reason);
            CompleteSequence(sequence, reason, stopReason: null, tokens, isStopToken);
        }
        else
        {
            _outbox.Add((sequence.Request, new SequenceOutput(sequence.Choice, tokens)));
        }
    }

    /// <summary>
    /// A sequence needs no more compute: its slot is released, or, for a prefill a decode worker will continue (vLLM's
    /// do_remote_decode, ended length-capped as the prefill leg's max_tokens 1 makes it), held for that worker to read.
    /// </summary>
    private void EndCompute(Sequence sequence, FinishReason reason)
    {
        if (reason == FinishReason.Length && sequence.Request.KvTransfer is { DoRemoteDecode: true } && sequence.Request.Parameters.N == 1)
        {
            sequence.HeldKv = _scheduler.Hold(sequence);
            return;
        }
        _scheduler.Finish(sequence);
    }

    /// <summary>Takes a step's tokens in order until one ends the sequence; one output carries them all.</summary>
    private (int[] Tokens, FinishReason? Finish, bool IsStopToken) AcceptTokens(Sequence sequence, int[] tokens)
    {
        for (var t = 0; t < tokens.Length; t++)
        {
            var (finish, isStopToken) = sequence.AcceptToken(tokens[t], _model.Folder.EosTokenIds, _model.MaxModelLength);
            if (finish is not null)
            {
                return (tokens[..(t + 1)], finish, isStopToken);
            }
        }
        return (tokens, null, false);
    }

    /// <summary>Requests whose every sequence has been scheduled (or ended) no longer count against the queue limits.</summary>
    private void LeaveQueue()
    {
        _queued.RemoveWhere(request =>
        {
            if (request.IsQueued)
            {
                return false;
            }
            lock (_admission)
            {
                _queuedRequests -= request.Parameters.N;
                _queuedTokens -= (long)request.PromptTokens.Length * request.Parameters.N;
            }
            return true;
        });
    }

    /// <summary>
    /// The sequence's end as clients and metrics see it: counted by reason, its stats recorded, and its last output
    /// queued (carrying the step's last tokens, if any). Its compute is already released.
    /// </summary>
    private void CompleteSequence(Sequence sequence, FinishReason reason, string? stopReason, int[]? tokens = null, bool endsWithStopToken = false,
        EngineError? error = null)
    {
        sequence.Finish = reason;
        sequence.StopReason = stopReason;
        _stats.SequenceFinished(sequence, Stopwatch.GetTimestamp());
        _finished[reason.ToApiString()]++;
        if (sequence.Request.IsFinished)
        {
            _active.Remove(sequence.Request);
        }
        _outbox.Add((sequence.Request, new SequenceOutput(sequence.Choice, tokens ?? [], reason, stopReason, error, endsWithStopToken,
            Finished: FinishedSequence.Of(sequence))));
    }

    /// <summary>
    /// Ends every unfinished sequence of a request with the same reason. Outputs still waiting for their check count as
    /// generated: they were computed and may have been shown.
    /// </summary>
    private void EndRequest(EngineRequest request, FinishReason reason, EngineError? error = null)
    {
        foreach (var sequence in request.Sequences.Where(s => s.Finish is null))
        {
            while (sequence.Unchecked.TryDequeue(out var output))
            {
                CountGenerated(sequence, output.StepEnded, output.Tokens);
            }
            _scheduler.Finish(sequence, keepCache: reason != FinishReason.Error);
            CompleteSequence(sequence, reason, stopReason: null, error: error);
        }
        LeaveQueue();
    }

    /// <summary>Hands what this loop turn did to the sinks: the step's own stats and the scheduler's for the same turn.</summary>
    private void EmitStats()
    {
        var scheduled = _scheduler.TakeStepCounts();
        foreach (var (requestId, why) in scheduled.Connector.Failures)
        {
            Log.KvReadFailed(_logger, requestId, why);
        }
        if (_statsSinks.Count == 0)
        {
            return;
        }
        var kvBlockEvents = _blockSampler?.Drain() ?? [];
        if (_stats.IsEmpty && scheduled.IsEmpty && kvBlockEvents.Count == 0)
        {
            return;
        }
        var stats = _stats.Build(Stopwatch.GetTimestamp(), scheduled, _options.KvConnector is null ? null : scheduled.Connector, kvBlockEvents);
        foreach (var sink in _statsSinks)
        {
            sink.Record(stats);
        }
    }

    private EngineSnapshot TakeSnapshot()
    {
        var blocks = _scheduler.Blocks;
        return new EngineSnapshot(
            _scheduler.Running.Count, _scheduler.WaitingCount, _active.Count,
            _scheduler.SlotsInUse, _steps,
            blocks.TotalBlocks, blocks.UsedBlocks, blocks.CachedBlocks, blocks.FreeBlocks, _scheduler.Prefixes.Count,
            _scheduler.PrefixQueries, _scheduler.PrefixHits, _scheduler.Preemptions,
            new Dictionary<string, long>(_finished), new Dictionary<string, long>(_rejected), _scheduler.DeferredCount, _scheduler.HeldCount, _paused);
    }

    private void Shutdown()
    {
        EndPause();
        TakeCommands();
        foreach (var request in _active.ToArray())
        {
            EndRequest(request, FinishReason.Abort, _stopError);
        }
        _scheduler.Clear();
        EndTurn();
        // Nothing may read or write the arena once the runner frees it: the connector's threads stop first.
        _options.KvConnector?.Dispose();
        _runner.Dispose();
        (_options.Speculation?.Proposer as IDisposable)?.Dispose();
    }

    /// <summary>
    /// Stops the loop and waits for it: what is left is aborted (counted as finished_reason="abort") and its clients
    /// are told <paramref name="why"/>. Safe to call more than once, from any thread; the first reason is kept.
    /// </summary>
    public void Stop(EngineError why)
    {
        lock (_admission)
        {
            if (_disposed == 1)
            {
                return;
            }
            _disposed = 1;
            _stopError = why;
        }
        // The token source and semaphore stay undisposed: clients may still abort or check late, harmlessly.
        _stopping.Cancel();
        _thread.Join();
    }

    /// <summary>Stops the loop as a shutdown (see <see cref="Stop"/>).</summary>
    public void Dispose() => Stop(_stopError);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Request {RequestId} failed in the model step.")]
        public static partial void SequenceFailed(ILogger logger, string requestId, Exception exception);

        [LoggerMessage(2, LogLevel.Warning, "Request {RequestId} could not read its prompt's KV from the prefill worker ({Why}); it computes its prompt here.")]
        public static partial void KvReadFailed(ILogger logger, string requestId, string why);
    }
}
