namespace Worker.StructuredOutput;

/// <summary>What a request constrains its output to, as vLLM's StructuredOutputsParams names the kinds.</summary>
public enum StructuredOutputType
{
    /// <summary>A JSON Schema (response_format json_schema, structured_outputs.json, guided_json).</summary>
    Json,
    /// <summary>Any JSON object (response_format json_object, structured_outputs.json_object).</summary>
    JsonObject,
    /// <summary>A regular expression the whole output matches (structured_outputs.regex, guided_regex).</summary>
    Regex,
    /// <summary>Exactly one of a list of strings (structured_outputs.choice, guided_choice).</summary>
    Choice,
}

/// <summary>
/// One request's constraint: its kind and its text (the schema's JSON, the regex, or the choices' JSON array), which
/// is also the key compiled grammars are cached under.
/// </summary>
/// <param name="Parameter">The request field it came from, named by errors about it.</param>
/// <param name="AnyWhitespace">JSON may have whitespace between tokens (vLLM's default); false: vLLM's disable_any_whitespace.</param>
public sealed record StructuredOutputRequest(StructuredOutputType Type, string Text, string Parameter, bool AnyWhitespace = true)
{
    /// <summary>The type label value of vellum_structured_output_requests_total (vLLM's field names), in the enum's order.</summary>
    public string Label => MetricsContract.MetricCatalog.StructuredOutputRequests.EnumeratedLabels["type"][(int)Type];
}
