using System.Diagnostics;
using System.Text.Json;
using static Worker.StructuredOutput.GrammarNode;

namespace Worker.StructuredOutput;

/// <summary>
/// Compiles requests' constraints over the served model's vocabulary and keeps the most recently used grammars (LRU,
/// bounded), so that the same schema is compiled once and its automaton and masks are shared by every request using it.
/// </summary>
internal sealed class GrammarCompiler(TokenVocabulary vocabulary, int capacity = GrammarCompiler.DefaultCapacity)
{
    public const int DefaultCapacity = 128;

    private readonly Lock _lock = new();
    private readonly Dictionary<StructuredOutputRequest, LinkedListNode<(StructuredOutputRequest Request, Grammar Grammar)>> _byKey = [];
    private readonly LinkedList<(StructuredOutputRequest Request, Grammar Grammar)> _recent = new();

    internal TokenVocabulary Vocabulary => vocabulary;

    /// <summary>Grammars held now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byKey.Count;
            }
        }
    }

    /// <exception cref="UnsupportedSchemaException">The constraint cannot be compiled: the keyword and why.</exception>
    public CompiledConstraint Compile(StructuredOutputRequest request)
    {
        var key = request with { Parameter = "" }; // where it came from does not change the grammar
        lock (_lock)
        {
            if (_byKey.TryGetValue(key, out var known))
            {
                _recent.Remove(known);
                _recent.AddFirst(known);
                return new CompiledConstraint(known.Value.Grammar, CacheHit: true, CompileSeconds: 0);
            }
        }
        var started = Stopwatch.GetTimestamp();
        var grammar = new Grammar(Root(request), vocabulary);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        lock (_lock)
        {
            if (!_byKey.ContainsKey(key))
            {
                _byKey[key] = _recent.AddFirst((key, grammar));
                while (_byKey.Count > capacity)
                {
                    var oldest = _recent.Last!;
                    _recent.RemoveLast();
                    _byKey.Remove(oldest.Value.Request);
                }
            }
        }
        return new CompiledConstraint(grammar, CacheHit: false, seconds);
    }

    private static GrammarNode Root(StructuredOutputRequest request)
    {
        switch (request.Type)
        {
            case StructuredOutputType.JsonObject:
                return JsonGrammar.AnyObject(request.AnyWhitespace);
            case StructuredOutputType.Regex:
                return RegexGrammar.Compile(request.Text, inJsonString: false);
            case StructuredOutputType.Choice:
                using (var choices = JsonDocument.Parse(request.Text))
                {
                    return Choice(choices.RootElement.EnumerateArray().Select(c => Literal(c.GetString()!)).ToArray());
                }
            default:
                using (var schema = JsonDocument.Parse(request.Text))
                {
                    return JsonSchemaGrammar.Compile(schema.RootElement, request.AnyWhitespace);
                }
        }
    }
}

/// <summary>A compiled grammar, and whether it came from the cache or how long compiling it took.</summary>
internal sealed record CompiledConstraint(Grammar Grammar, bool CacheHit, double CompileSeconds);
