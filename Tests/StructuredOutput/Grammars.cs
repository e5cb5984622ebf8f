using System.Text;
using System.Text.Json;
using Tests.Support;
using Worker.Runner;
using Worker.StructuredOutput;

namespace Tests.StructuredOutput;

/// <summary>Grammars over the tiny model's real vocabulary (its tokenizer.json), compiled as the worker compiles them.</summary>
internal static class Grammars
{
    private static readonly Lazy<TokenVocabulary> TinyVocabulary = new(() =>
    {
        var folder = ModelFolder.Read(TinyModel.Directory);
        return TokenVocabulary.Load(Path.Combine(folder.Path, "tokenizer.json"), folder.EosTokenIds, folder.VocabSize);
    });

    public static TokenVocabulary Vocabulary => TinyVocabulary.Value;

    public static Grammar Schema(string schema, bool anyWhitespace = true) =>
        Compile(new StructuredOutputRequest(StructuredOutputType.Json, schema, "response_format", anyWhitespace));

    public static Grammar Regex(string pattern) => Compile(new StructuredOutputRequest(StructuredOutputType.Regex, pattern, "structured_outputs.regex"));

    public static Grammar Compile(StructuredOutputRequest request) => new GrammarCompiler(Vocabulary).Compile(request).Grammar;

    /// <summary>The state after the whole text: complete means the grammar takes it as a whole value.</summary>
    public static GrammarState After(this Grammar grammar, string text) => grammar.Advance(grammar.Start, Encoding.UTF8.GetBytes(text));

    public static bool Accepts(this Grammar grammar, string text) => grammar.After(text).IsComplete;

    /// <summary>The token ids a mask allows.</summary>
    public static IEnumerable<int> Allowed(ulong[] mask, int size) => Enumerable.Range(0, size).Where(id => (mask[id >> 6] & 1UL << id) != 0);

    /// <summary>A JSON Schema validator independent of the compiler (JsonSchema.Net), formats asserted.</summary>
    public static bool Validates(string schema, string json, out string why)
    {
        var compiled = Json.Schema.JsonSchema.FromText(schema);
        using var document = JsonDocument.Parse(json);
        var result = compiled.Evaluate(document.RootElement, new Json.Schema.EvaluationOptions { RequireFormatValidation = true, OutputFormat = Json.Schema.OutputFormat.List });
        why = result.IsValid ? "" : string.Join("; ", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")));
        return result.IsValid;
    }
}
