using System.Globalization;
using System.Text;
using MetricsContract;

namespace ServiceDefaults.Metrics;

/// <summary>
/// Edits a rendered scrape (classic text or OpenMetrics) family by family: keeps only the families a client
/// asked for with name[] (as prometheus_client does: a family matches by its name or any of its sample names),
/// adds the eager histogram series OpenTelemetry has not created yet, at zero, and drops empty exemplars
/// (<c># {}</c>: measurements made outside any request, which exemplars cannot point anywhere from).
/// </summary>
public static class Exposition
{
    /// <summary>Adds the eager zero series the page lacks, and keeps the families asked for (all when <paramref name="names"/> is null).</summary>
    public static string Rewrite(string scrape, bool openMetrics, IReadOnlyList<EagerHistogramSeries> eager, IReadOnlySet<string>? names)
    {
        var (blocks, eof) = Split(scrape);
        AddMissingZeroSeries(blocks, eager, openMetrics);
        var output = new StringBuilder(scrape.Length + 1024);
        foreach (var block in blocks)
        {
            if (names is null || names.Contains(block.Family) || block.SampleNames().Any(names.Contains))
            {
                foreach (var line in block.Lines)
                {
                    output.Append(line).Append('\n');
                }
            }
        }
        if (eof)
        {
            output.Append("# EOF\n");
        }
        return output.ToString();
    }

    /// <summary>The eager series of the families asked for: built for the others, they would be dropped again.</summary>
    public static IReadOnlyList<EagerHistogramSeries> AskedOf(IReadOnlyList<EagerHistogramSeries> eager, IReadOnlySet<string> names) =>
        eager.Count == 0 ? eager : eager.Where(series => Asked(series.Family, names)).ToArray();

    /// <summary>A histogram family asked for by its name or one of its sample names.</summary>
    private static bool Asked(MetricFamily family, IReadOnlySet<string> names) =>
        names.Contains(family.Name) || names.Contains(family.Name + "_bucket") || names.Contains(family.Name + "_sum") || names.Contains(family.Name + "_count");

    /// <summary>
    /// The families of a page that were asked for, in one pass over its bytes: a family's lines (its # TYPE, # HELP and
    /// # UNIT lines and its samples) are kept when its name or one of its sample names is asked; # EOF stays.
    /// </summary>
    public static ReadOnlyMemory<byte> Filter(ReadOnlyMemory<byte> page, IReadOnlySet<string> names)
    {
        var span = page.Span;
        var output = new byte[page.Length];
        var written = 0;
        var (blockStart, keep) = (0, false);
        Range family = default, sample = default; // the current block's family and its last sample name, within the page
        for (var at = 0; at < span.Length;)
        {
            var length = span[at..].IndexOf((byte)'\n') is var newline and >= 0 ? newline + 1 : span.Length - at;
            var line = span.Slice(at, length).TrimEnd((byte)'\n');
            bool? newBlockKept = null;
            if (line.StartsWith("# TYPE "u8) || line.StartsWith("# HELP "u8) || line.StartsWith("# UNIT "u8))
            {
                var name = NameIn(line[7..], at + 7);
                if (!span[name].SequenceEqual(span[family]))
                {
                    (family, sample) = (name, default);
                    newBlockKept = Asked(span[name], names);
                }
            }
            else if (line.SequenceEqual("# EOF"u8))
            {
                newBlockKept = true;
            }
            else if (line.Length > 0 && !keep && NameIn(line, at) is var name && !span[name].SequenceEqual(span[sample]))
            {
                sample = name;
                keep = Asked(span[name], names);
            }
            if (newBlockKept is { } kept)
            {
                written += CopyIf(keep, span[blockStart..at], output.AsSpan(written));
                (blockStart, keep) = (at, kept);
            }
            at += length;
        }
        written += CopyIf(keep, span[blockStart..], output.AsSpan(written));
        return output.AsMemory(0, written);
    }

    /// <summary>The metric or sample name at the start of <paramref name="text"/> (up to '{' or ' '), as a range of the page.</summary>
    private static Range NameIn(ReadOnlySpan<byte> text, int offset) =>
        new(offset, offset + (text.IndexOfAny((byte)'{', (byte)' ') is var end and >= 0 ? end : text.Length));

    private static bool Asked(ReadOnlySpan<byte> name, IReadOnlySet<string> names) => names.Contains(Encoding.UTF8.GetString(name));

    private static int CopyIf(bool keep, ReadOnlySpan<byte> block, Span<byte> destination)
    {
        if (!keep)
        {
            return 0;
        }
        block.CopyTo(destination);
        return block.Length;
    }

    /// <summary>
    /// An OpenMetrics page less its empty exemplars, in one pass over its bytes: the page itself when it has none (the
    /// common case without --enable-exemplars), else a copy with each " # {} …" cut to the end of its line.
    /// </summary>
    public static ReadOnlyMemory<byte> WithoutEmptyExemplars(ReadOnlyMemory<byte> page)
    {
        var marker = " # {} "u8;
        var rest = page.Span;
        if (rest.IndexOf(marker) < 0)
        {
            return page;
        }
        var output = new byte[page.Length];
        var written = 0;
        while (rest.IndexOf(marker) is var at and >= 0)
        {
            rest[..at].CopyTo(output.AsSpan(written));
            written += at;
            var lineEnd = rest[at..].IndexOf((byte)'\n');
            rest = lineEnd < 0 ? [] : rest[(at + lineEnd)..];
        }
        rest.CopyTo(output.AsSpan(written));
        return output.AsMemory(0, written + rest.Length);
    }

    private sealed class Block(string family)
    {
        public string Family { get; } = family;

        public List<string> Lines { get; } = [];

        public IEnumerable<string> SampleNames() => Lines.Where(l => !l.StartsWith('#')).Select(l => l[..l.IndexOfAny(['{', ' '])]);
    }

    private static (List<Block> Blocks, bool Eof) Split(string scrape)
    {
        var blocks = new List<Block>();
        var eof = false;
        foreach (var line in scrape.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }
            if (line == "# EOF")
            {
                eof = true;
                continue;
            }
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal) || line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# UNIT ", StringComparison.Ordinal))
            {
                var family = line.Split(' ')[2];
                if (blocks.Count == 0 || blocks[^1].Family != family)
                {
                    blocks.Add(new Block(family));
                }
            }
            else if (blocks.Count == 0)
            {
                blocks.Add(new Block(line[..line.IndexOfAny(['{', ' '])]));
            }
            blocks[^1].Lines.Add(line);
        }
        return (blocks, eof);
    }

    /// <summary>
    /// The page with the eager series appended at zero as families of their own (before # EOF), without parsing it:
    /// for when none of their families is on the page at all, which is how OpenTelemetry renders a histogram before its
    /// first observation. The lines are those <see cref="Rewrite"/> would add, where it would add them (after the rest).
    /// </summary>
    public static ReadOnlyMemory<byte> AppendZeroFamilies(ReadOnlyMemory<byte> page, IReadOnlyList<EagerHistogramSeries> missing, bool openMetrics)
    {
        var added = new StringBuilder();
        foreach (var family in missing.GroupBy(series => series.Family))
        {
            foreach (var line in FamilyHeader(family.Key).Concat(family.SelectMany(series => ZeroSeries(series, openMetrics))))
            {
                added.Append(line).Append('\n');
            }
        }
        var body = page.Span;
        var lines = added.ToString();
        var end = body.EndsWith("# EOF\n"u8) ? body.Length - "# EOF\n"u8.Length : body.Length;
        var output = new byte[body.Length + Encoding.UTF8.GetByteCount(lines)];
        body[..end].CopyTo(output);
        var written = end + Encoding.UTF8.GetBytes(lines, output.AsSpan(end));
        body[end..].CopyTo(output.AsSpan(written));
        return output;
    }

    /// <summary>Whether the page has any line of the series' family (its # TYPE line).</summary>
    public static bool HasFamily(ReadOnlySpan<byte> page, EagerHistogramSeries series) => page.IndexOf(series.TypeLine) >= 0;

    private static void AddMissingZeroSeries(List<Block> blocks, IEnumerable<EagerHistogramSeries> eager, bool openMetrics)
    {
        foreach (var series in eager)
        {
            var block = blocks.FirstOrDefault(b => b.Family == series.Family.Name);
            if (block is null)
            {
                block = new Block(series.Family.Name);
                block.Lines.AddRange(FamilyHeader(series.Family));
                blocks.Add(block);
            }
            else if (block.Lines.Any(l => l.StartsWith(CountSample(series.Family, series.Labels), StringComparison.Ordinal)))
            {
                continue;
            }
            block.Lines.AddRange(ZeroSeries(series, openMetrics));
        }
    }

    /// <summary>A histogram family's # TYPE and # HELP lines, as OpenTelemetry's exporter writes them.</summary>
    private static string[] FamilyHeader(MetricFamily family) =>
        [$"{TypeLine(family)}histogram", $"# HELP {family.Name} {EscapeHelp(family.Description)}"];

    /// <summary>The start of a family's # TYPE line: how a rendered page is searched for the family.</summary>
    public static string TypeLine(MetricFamily family) => $"# TYPE {family.Name} ";

    /// <summary>A histogram series' lines at zero: its buckets, +Inf, sum and count.</summary>
    private static IEnumerable<string> ZeroSeries(EagerHistogramSeries series, bool openMetrics)
    {
        var name = series.Family.Name;
        foreach (var bound in series.Bounds)
        {
            yield return $"{name}_bucket{Labels(series.Labels, Buckets.FormatBound(bound, openMetrics))} 0";
        }
        yield return $"{name}_bucket{Labels(series.Labels, "+Inf")} 0";
        yield return $"{name}_sum{Labels(series.Labels, le: null)} 0";
        yield return $"{name}_count{Labels(series.Labels, le: null)} 0";
    }

    /// <summary>The start of a histogram series' _count line, as OpenTelemetry writes it in both formats.</summary>
    public static string CountSample(MetricFamily family, IReadOnlyDictionary<string, string> labels) => $"{family.Name}_count{Labels(labels, le: null)} ";

    /// <summary>Labels sorted by name with le last, as OpenTelemetry's exporter writes them.</summary>
    private static string Labels(IReadOnlyDictionary<string, string> labels, string? le)
    {
        var pairs = labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}=\"{EscapeLabel(l.Value)}\"").ToList();
        if (le is not null)
        {
            pairs.Add($"le=\"{le}\"");
        }
        return pairs.Count == 0 ? "" : "{" + string.Join(',', pairs) + "}";
    }

    private static string EscapeLabel(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    private static string EscapeHelp(string value) => value.Replace("\\", "\\\\").Replace("\n", "\\n");
}
