using System.Collections.Concurrent;
using System.Diagnostics;
using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// The engine loop, vLLM V1's: on its own thread it takes new requests and aborts, asks the scheduler for the step's
/// plan (schedule), has the proposer guess (speculative decoding), the runner apply the plan's cache operations,
/// execute its rows in one batched forward pass (plus a pass per prefill chunk), sample them and verify the guesses
/// (execute_model), then takes each row's tokens, checks stops and advances or finishes sequences
/// (update_from_output), and queues the turn's stats, snapshot and outputs for the <see cref="TurnPublisher"/>, which
/// records and delivers them off this thread. Nothing outside this thread touches a sequence while it runs.
/// </summary>
public sealed partial class LlmEngine : IDisposable
{
    private readonly LoadedModel _model;
    private readonly IModelRunner _runner;
    private readonly StepRunner _stepRunner;
    private readonly EngineOptions _options;
    private readonly Scheduler _scheduler;
    private readonly ILogger _logger;
    private readonly TurnPublisher _publisher;
    private readonly StepStatsBuilder _stats = new();
    private readonly KvBlockSampler? _blockSampler;
    private readonly ConcurrentQueue<EngineRequest> _submitted = new();
    private readonly ConcurrentQueue<EngineRequest> _aborted = new();
    private readonly ConcurrentQueue<int> _unloadedAdapters = new();
    private LoraAdapterStates? _recordedLora;
    private readonly ConcurrentQueue<(Sequence Sequence, int KeptTokens, string? StopString)> _checks = new();
    private readonly HashSet<EngineRequest> _active = [];
    private readonly HashSet<EngineRequest> _queued = [];
    private List<(EngineRequest Request, SequenceOutput Output)> _outbox = [];
    private readonly Dictionary<string, long> _finished = Enum.GetValues<FinishReason>().ToDictionary(r => r.ToApiString(), _ => 0L);
    private IReadOnlyDictionary<string, long>? _finishedCopy; // what snapshots share until a sequence finishes
    private readonly AdmissionRejections _rejections;
    private readonly Lock _admission = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Thread _thread;
    private int _queuedRequests;
    private long _queuedTokens;
    private long _steps;
    private volatile int _disposed;
    private EngineError _stopError = new(EngineError.EngineShutdown, "The server is shutting down; the request was aborted.");

    /// <param name="runner">Executes the steps and owns the KV arena; the engine disposes it (and the proposer) when it stops.</param>
    /// <param name="statsSinks">Who turns each step's stats into metrics and log lines; none with --disable-log-stats.</param>
    /// <param name="rejections">Where refusals are counted: the host's, which outlives this engine; a fresh one when null.</param>
    internal LlmEngine(LoadedModel model, IModelRunner runner, EngineOptions options, ILogger<LlmEngine> logger, IReadOnlyList<IEngineStatsSink>? statsSinks = null,
        AdmissionRejections? rejections = null)
    {
        _rejections = rejections ?? new AdmissionRejections();
        _model = model;
        _runner = runner;
        _stepRunner = new StepRunner(runner, options.Speculation?.Proposer.DraftCache);
        _options = options;
        _blockSampler = options.KvBlockSampleRate > 0 ? new KvBlockSampler(options.KvBlockSampleRate, new Random()) : null;
        _scheduler = new Scheduler(options.Limits, options.Cache, model.MaxModelLength, _blockSampler, options.Speculation, options.KvConnector,
            options.MaxLoras is { } maxLoras ? new LoraResidency(maxLoras) : null);
        options.KvConnector?.OnProgress(() => _wake.Release());
        _logger = logger;
        _publisher = new TurnPublisher(statsSinks ?? [], TakeSnapshot(_scheduler.LoraStates()));
        _thread = new Thread(Run) { Name = "engine-loop", IsBackground = true };
        _thread.Start();
    }

    public LoadedModel Model => _model;

    /// <summary>The runner and its KV arena; read outside the loop only for what is safe to race (resident memory).</summary>
    internal IModelRunner Runner => _runner;

    public EngineOptions Options => _options;

    /// <summary>The counts as of the latest turn published; refusals happen on request threads and are read live.</summary>
    public EngineSnapshot Snapshot => _publisher.Snapshot;

    /// <summary>Steps run so far, read live: the published snapshot may trail the loop by the turns still being published.</summary>
    internal long StepsRun => Interlocked.Read(ref _steps);

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
                throw Reject(AdmissionRejections.MaxNumQueuedRequests, $"The server has {_queuedRequests} sequences queued; {sequences} more would pass its limit (--max-num-queued-requests {maxRequests}).");
            }
            if (_options.MaxNumQueuedTokens is { } maxTokens && _queuedTokens + tokens > maxTokens)
            {
                throw Reject(AdmissionRejections.MaxNumQueuedTokens, $"The server has {_queuedTokens} prompt tokens queued; {tokens} more would pass its limit (--max-num-queued-tokens {maxTokens}).");
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
    /// The output processor's word on a stop-string sequence, sent once, as an abort is: <paramref name="stopString"/>
    /// ended its text after <paramref name="keptTokens"/> output tokens (the engine stops it there and drops the rest),
    /// or, when null, the engine's own finish on the output marked <see cref="SequenceOutput.AwaitsCheck"/> stands.
    /// </summary>
    public void Checked(Sequence sequence, int keptTokens, string? stopString)
    {
        _checks.Enqueue((sequence, keptTokens, stopString));
        _wake.Release();
    }

    /// <summary>
    /// An adapter is no longer served (vLLM's remove_lora): its slot and weights go now, or, while requests still run
    /// under it, once it is idle, by least recent use.
    /// </summary>
    public void RemoveLora(int loraId)
    {
        _unloadedAdapters.Enqueue(loraId);
        _wake.Release();
    }

    private EngineOverloadedException Reject(string reason, string message)
    {
        _rejections.Count(reason);
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

    /// <summary>Hands the turn to the publisher: stats and snapshot first, outputs last (see <see cref="TurnPublisher"/>).</summary>
    private void EndTurn()
    {
        // What finished this turn gives its slots' memory back now, not at the next step.
        _stepRunner.Apply(_scheduler.Cache.TakeOperations());
        var lora = _scheduler.LoraStates();
        var stats = TakeStats(lora);
        _publisher.Publish(stats, TakeSnapshot(lora), _outbox, _pauseToAnnounce);
        _outbox = [];
        _pauseToAnnounce = null;
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
        while (_unloadedAdapters.TryDequeue(out var loraId))
        {
            var running = _scheduler.RunningLoraIds();
            _scheduler.Loras?.Evict(loraId, running);
            if (!running.Contains(loraId))
            {
                _runner.ForgetAdapter(loraId);
            }
        }
        _scheduler.TakeTransfers(now);
        TakePause();
    }

    /// <summary>
    /// Ends a stop-string sequence where the output processor says its text ended, and only then counts its tokens: a
    /// stop string drops what the engine computed past the kept tokens (as vLLM drops the steps after it), so
    /// generation_tokens, usage and the sequence's own tokens agree. Ended meanwhile (aborted): counted then.
    /// </summary>
    private void TakeCheck(Sequence sequence, int keptTokens, string? stopString)
    {
        if (sequence.Finish is not null || (stopString is null && sequence.PendingFinish is null))
        {
            return;
        }
        if (stopString is not null)
        {
            sequence.TruncateOutput(Math.Min(keptTokens, sequence.OutputTokenCount));
            if (sequence.PendingFinish is null)
            {
                _scheduler.Finish(sequence); // still computing: its slot goes now
            }
        }
        _stats.TokensGenerated(sequence, sequence.OutputTokenCount);
        var (reason, stopReason) = stopString is not null ? (FinishReason.Stop, stopString) : (sequence.PendingFinish!.Reason, sequence.PendingFinish.StopReason);
        CompleteSequence(sequence, reason, stopReason);
    }

    /// <summary>A step's output for the sequence: timing stats, and the timeline's first and last token, at the step that made it.</summary>
    private void StampOutput(Sequence sequence, long stepEnded)
    {
        _stats.OutputEmitted(sequence, stepEnded);
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
        if (plan.Pulls.Count > 0 || plan.Rows.Count == 0)
        {
            // KV reads write into slots that the plan's operations place and reserve: those are applied first.
            _stepRunner.Apply(plan.CacheOperations);
            plan.CacheOperations = [];
            _scheduler.StartPulls(plan);
        }
        if (plan.Rows.Count == 0)
        {
            return false;
        }
        var drafted = Stopwatch.GetTimestamp();
        int[][] guesses;
        RowOutput[] outputs;
        long started;
        try
        {
            guesses = Propose(plan);
            started = Stopwatch.GetTimestamp();
            outputs = _stepRunner.Execute(Input(plan, guesses));
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
        for (var i = 0; i < plan.Rows.Count; i++)
        {
            UpdateFromOutput(plan.Rows[i], guesses[i], outputs[i], stepDone, draftSeconds, verifySeconds);
        }
        return true;
    }

    /// <summary>The plan as the runner takes it: plain data per row, no live sequence.</summary>
    private StepInput Input(StepPlan plan, int[][] guesses)
    {
        var rows = new StepRow[plan.Rows.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var (sequence, tokens, _, samples) = plan.Rows[i];
            rows[i] = new StepRow(sequence.Request.Id, sequence.Slot, tokens, guesses[i],
                samples ? new RowSampling(sequence.Request.Parameters, sequence.Random, sequence.Grammar) : null, sequence.Request.Lora,
                PromptTargets(sequence, tokens.Length));
        }
        return new StepInput(plan.CacheOperations, rows, _options.CheckLogitsForNaN);
    }

    /// <summary>
    /// The prompt tokens whose logprobs a row feeding <paramref name="fed"/> tokens computes: position p predicts prompt
    /// token p + 1, for the positions this step feeds that no earlier step gave (a recompute after preemption repeats none).
    /// </summary>
    private static PromptTargets? PromptTargets(Sequence sequence, int fed)
    {
        if (sequence.PromptLogprobs is not { } done || sequence.Request.Parameters.PromptLogprobs is not { } top)
        {
            return null;
        }
        var prompt = sequence.Request.PromptTokens;
        var first = Math.Max(sequence.ComputedTokens, done.Count);
        var end = Math.Min(sequence.ComputedTokens + fed, prompt.Length - 1);
        return first < end ? new PromptTargets(first - sequence.ComputedTokens, prompt[(first + 1)..(end + 1)], top) : null;
    }

    /// <summary>
    /// Takes one row's result (vLLM's update_from_output): the computed tokens move on by what was fed and accepted,
    /// the speculative round is counted, and the emitted tokens are checked for stops and handed on.
    /// </summary>
    private void UpdateFromOutput(ScheduledSequence row, int[] guesses, RowOutput output, long stepDone, double draftSeconds, double verifySeconds)
    {
        var sequence = row.Sequence;
        if (sequence.Finish is not null)
        {
            return; // ended with its request earlier in this loop (a sibling's failure)
        }
        var fed = row.Tokens.Length + guesses.Length;
        _stats.ForwardPass(fed, sequence.ComputedTokens + fed);
        if (output.Failure is { } failure)
        {
            Log.RowFailed(_logger, sequence.Request.Id, failure);
            EndRequest(sequence.Request, FinishReason.Error, new EngineError(EngineError.GenerationFailed, $"Generation failed: {failure}"));
            return;
        }
        sequence.SawNaN |= output.SawNaN;
        sequence.PromptLogprobs?.AddRange(output.PromptLogprobs ?? []);
        sequence.ComputedTokens += row.Tokens.Length + output.AcceptedGuesses;
        if (!row.Samples)
        {
            return; // a prefill chunk that does not finish the prompt: nothing to sample yet
        }
        if (sequence.Grammar is not null)
        {
            _stats.GrammarMasked(output.MaskSeconds);
        }
        if (guesses.Length > 0)
        {
            _stats.SpeculativeRound(sequence, guesses.Length, output.AcceptedGuesses, draftSeconds, verifySeconds);
            sequence.Speculation.Add(guesses.Length, output.AcceptedGuesses);
            sequence.SpeculativeK = _options.Speculation!.NextK(sequence.SpeculativeK, guesses.Length, output.AcceptedGuesses);
        }
        Advance(sequence, output.Tokens, output.Logprobs, stepDone);
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

    /// <summary>Appends a step's emitted tokens to the sequence and hands them on: counted now, or, with stop strings, once checked.</summary>
    private void Advance(Sequence sequence, int[] emitted, TokenLogprobs[]? emittedLogprobs, long stepDone)
    {
        var (tokens, stop) = AcceptTokens(sequence, emitted);
        var logprobs = emittedLogprobs?[..tokens.Length];
        // The first output carries the prompt's logprobs, all computed by the time the prompt's last position sampled.
        var promptLogprobs = sequence.HasOutput ? null : sequence.PromptLogprobs?.ToArray();
        _stats.TokensComputed(sequence, tokens.Length);
        sequence.HasOutput = true;
        StampOutput(sequence, stepDone);
        if (sequence.HasStopStrings)
        {
            // The outputs flow one way; only an output that ends the sequence waits for the processor's word (TakeCheck).
            if (stop is not null)
            {
                sequence.PendingFinish = stop;
                EndCompute(sequence, stop.Reason);
            }
            _outbox.Add((sequence.Request, new SequenceOutput(sequence.Choice, tokens, EndsWithStopToken: stop?.IsStopToken == true, AwaitsCheck: stop is not null,
                Logprobs: logprobs, PromptLogprobs: promptLogprobs)));
            return;
        }
        _stats.TokensGenerated(sequence, tokens.Length);
        if (stop is not null)
        {
            EndCompute(sequence, stop.Reason);
            CompleteSequence(sequence, stop.Reason, stop.StopReason, tokens, stop.IsStopToken, logprobs: logprobs, promptLogprobs: promptLogprobs);
        }
        else
        {
            _outbox.Add((sequence.Request, new SequenceOutput(sequence.Choice, tokens, Logprobs: logprobs, PromptLogprobs: promptLogprobs)));
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
    private (int[] Tokens, StopCheck? Stop) AcceptTokens(Sequence sequence, int[] tokens)
    {
        for (var t = 0; t < tokens.Length; t++)
        {
            if (sequence.AcceptToken(tokens[t], _model.Folder.EosTokenIds, _model.MaxModelLength) is { } stop)
            {
                return (tokens[..(t + 1)], stop);
            }
        }
        return (tokens, null);
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
    private void CompleteSequence(Sequence sequence, FinishReason reason, object? stopReason, int[]? tokens = null, bool endsWithStopToken = false,
        EngineError? error = null, TokenLogprobs[]? logprobs = null, IReadOnlyList<TokenLogprobs>? promptLogprobs = null)
    {
        sequence.Finish = reason;
        sequence.StopReason = stopReason;
        _stats.SequenceFinished(sequence, Stopwatch.GetTimestamp());
        _finished[reason.ToApiString()]++;
        _finishedCopy = null;
        if (sequence.Request.IsFinished)
        {
            _active.Remove(sequence.Request);
        }
        _outbox.Add((sequence.Request, new SequenceOutput(sequence.Choice, tokens ?? [], reason, stopReason, error, endsWithStopToken,
            Finished: FinishedSequence.Of(sequence), Logprobs: logprobs, PromptLogprobs: promptLogprobs)));
    }

    /// <summary>
    /// Ends every unfinished sequence of a request with the same reason. A stop-string sequence's tokens, not counted
    /// yet, count now: they were computed and may have been shown.
    /// </summary>
    private void EndRequest(EngineRequest request, FinishReason reason, EngineError? error = null)
    {
        foreach (var sequence in request.Sequences.Where(s => s.Finish is null))
        {
            if (sequence.HasStopStrings && sequence.OutputTokenCount > 0)
            {
                _stats.TokensGenerated(sequence, sequence.OutputTokenCount);
            }
            _scheduler.Finish(sequence, keepCache: reason != FinishReason.Error);
            CompleteSequence(sequence, reason, stopReason: null, error: error);
        }
        LeaveQueue();
    }

    /// <summary>What this loop turn did, for the sinks: the step's own stats and the scheduler's; null when there is nothing to record.</summary>
    private StepStats? TakeStats(LoraAdapterStates? lora)
    {
        var scheduled = _scheduler.TakeStepCounts();
        foreach (var (requestId, why) in scheduled.Connector.Failures)
        {
            Log.KvReadFailed(_logger, requestId, why);
        }
        var kvBlockEvents = _blockSampler?.Drain() ?? [];
        // A turn that only changed which adapters run or wait (a request finished between steps) is still an update.
        var loraChanged = lora is not null && !lora.SameAdapters(_recordedLora);
        if (_stats.IsEmpty && scheduled.IsEmpty && kvBlockEvents.Count == 0 && !loraChanged)
        {
            return null;
        }
        _recordedLora = lora;
        // Built (and so cleared) even with no sinks (--disable-log-stats): the builder must not grow turn after turn.
        return _stats.Build(Stopwatch.GetTimestamp(), scheduled, _options.KvConnector is null ? null : scheduled.Connector, kvBlockEvents) with { Lora = lora };
    }

    private EngineSnapshot TakeSnapshot(LoraAdapterStates? lora)
    {
        var cache = _scheduler.Cache;
        var blocks = cache.Blocks;
        return new EngineSnapshot(
            _scheduler.Running.Count, _scheduler.WaitingCount, _active.Count,
            cache.SlotsInUse, _steps,
            blocks.TotalBlocks, blocks.UsedBlocks, blocks.CachedBlocks, blocks.FreeBlocks, cache.Prefixes.Count,
            _scheduler.PrefixQueries, _scheduler.PrefixHits, _scheduler.Preemptions,
            _finishedCopy ??= new Dictionary<string, long>(_finished), _rejections.Counts, _scheduler.DeferredCount, cache.HeldCount, _paused, lora,
            _scheduler.WaitingTokens.Tokens, _scheduler.WaitingTokens.Uncached, _options.KvConnector is { Config.Consumes: true } ? _scheduler.KvFetches() : null);
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
        _publisher.Complete();
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

        [LoggerMessage(3, LogLevel.Error, "Request {RequestId} failed in the model step: {Why}")]
        public static partial void RowFailed(ILogger logger, string requestId, string why);

        [LoggerMessage(2, LogLevel.Warning, "Request {RequestId} could not read its prompt's KV from the prefill worker ({Why}); it computes its prompt here.")]
        public static partial void KvReadFailed(ILogger logger, string requestId, string why);
    }
}
