using System.Collections.Concurrent;
using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// The engine loop: on its own thread it takes new requests and aborts, lets the scheduler choose the running
/// set, advances every running sequence by one token (in parallel), and hands the results to each request's
/// output channel. Nothing outside this thread touches a sequence.
/// </summary>
public sealed partial class LlmEngine : IDisposable
{
    private readonly LoadedModel _model;
    private readonly Scheduler _scheduler;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<EngineRequest> _submitted = new();
    private readonly ConcurrentQueue<EngineRequest> _aborted = new();
    private readonly HashSet<EngineRequest> _active = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Thread _thread;
    private volatile EngineSnapshot _snapshot = new(0, 0, 0, 0, 0);
    private long _steps;

    public LlmEngine(LoadedModel model, int maxNumSeqs, ILogger<LlmEngine> logger)
    {
        _model = model;
        _scheduler = new Scheduler(maxNumSeqs);
        _logger = logger;
        _thread = new Thread(Run) { Name = "engine-loop", IsBackground = true };
        _thread.Start();
    }

    public LoadedModel Model => _model;

    public EngineSnapshot Snapshot => _snapshot;

    public void Submit(EngineRequest request)
    {
        _submitted.Enqueue(request);
        _wake.Release();
    }

    /// <summary>Aborts a request wherever it is; its resources are released before the next step.</summary>
    public void Abort(EngineRequest request)
    {
        _aborted.Enqueue(request);
        _wake.Release();
    }

    private void Run()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            TakeCommands();
            if (!_scheduler.HasWork)
            {
                PublishSnapshot();
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
            Step();
            PublishSnapshot();
        }
        Shutdown();
    }

    private void TakeCommands()
    {
        while (_submitted.TryDequeue(out var request))
        {
            _active.Add(request);
            _scheduler.Add(request);
        }
        while (_aborted.TryDequeue(out var request))
        {
            if (_active.Contains(request))
            {
                EndRequest(request, FinishReason.Abort);
            }
        }
    }

    private void Step()
    {
        foreach (var admitted in _scheduler.Schedule())
        {
            admitted.Detokenizer = _model.CreateTokenizerStream();
        }

        var running = _scheduler.Running.ToArray();
        var tokens = new int[running.Length];
        var errors = new Exception?[running.Length];
        void Compute(int i)
        {
            try
            {
                tokens[i] = running[i].ComputeNextToken(_model);
            }
            catch (Exception e)
            {
                errors[i] = e;
            }
        }

        if (running.Length == 1)
        {
            Compute(0);
        }
        else
        {
            Parallel.For(0, running.Length, Compute);
        }
        _steps++;

        for (var i = 0; i < running.Length; i++)
        {
            var sequence = running[i];
            if (errors[i] is { } error)
            {
                Log.SequenceFailed(_logger, sequence.Request.Id, error);
                EndRequest(sequence.Request, FinishReason.Error, error.Message);
                continue;
            }
            if (sequence.Finish is not null)
            {
                continue; // ended with its request during this loop
            }
            var output = sequence.AcceptToken(tokens[i], _model.Folder.EosTokenIds, _model.MaxModelLength);
            sequence.Request.Output.TryWrite(output);
            if (output.Finish is not null)
            {
                FinishSequence(sequence);
            }
        }
    }

    private void FinishSequence(Sequence sequence)
    {
        sequence.ReleaseResources();
        _scheduler.Remove(sequence);
        if (sequence.Request.IsFinished)
        {
            _active.Remove(sequence.Request);
        }
    }

    /// <summary>Ends every unfinished sequence of a request with the same reason.</summary>
    private void EndRequest(EngineRequest request, FinishReason reason, string? error = null)
    {
        foreach (var sequence in request.Sequences.Where(s => s.Finish is null))
        {
            request.Output.TryWrite(sequence.End(reason, error));
            FinishSequence(sequence);
        }
    }

    private void PublishSnapshot() =>
        _snapshot = new EngineSnapshot(_scheduler.Running.Count, _scheduler.WaitingCount, _active.Count, _model.LiveGenerators, _steps);

    private void Shutdown()
    {
        TakeCommands();
        foreach (var request in _active.ToArray())
        {
            EndRequest(request, FinishReason.Abort);
        }
        PublishSnapshot();
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _thread.Join();
        _stopping.Dispose();
        _wake.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Request {RequestId} failed in the model step.")]
        public static partial void SequenceFailed(ILogger logger, string requestId, Exception exception);
    }
}
