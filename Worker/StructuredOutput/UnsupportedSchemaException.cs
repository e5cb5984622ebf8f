namespace Worker.StructuredOutput;

/// <summary>
/// A schema or pattern this compiler refuses: the keyword it stopped at and why (a 400 names both). <paramref name="invalid"/>:
/// the schema itself is malformed or allows nothing, rather than using what is not supported.
/// </summary>
internal sealed class UnsupportedSchemaException(string keyword, string message, bool invalid = false)
    : Exception(message.Contains($"'{keyword}'", StringComparison.Ordinal) ? message : $"'{keyword}': {message}")
{
    public string Keyword { get; } = keyword;

    /// <summary>The reason label of vellum_structured_output_invalid_schemas_total (the catalog's values, in its order).</summary>
    public string Reason => Reasons[Keyword == "pattern" ? 2 : invalid ? 1 : 0];

    private static IReadOnlyList<string> Reasons => MetricsContract.MetricCatalog.StructuredOutputInvalidSchemas.EnumeratedLabels["reason"];
}
