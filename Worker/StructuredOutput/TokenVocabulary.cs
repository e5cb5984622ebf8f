using System.Text;
using System.Text.Json;

namespace Worker.StructuredOutput;

/// <summary>
/// Each token's bytes, as the tokenizer's decoder turns it into text, in the order a grammar walk wants them: sorted
/// by bytes, each with how many leading bytes it shares with the one before. Special tokens (added tokens marked
/// special) have no bytes and are never allowed by a grammar; the end-of-sequence tokens are allowed where a value is complete.
/// </summary>
internal sealed class TokenVocabulary
{
    private readonly byte[][] _bytes;
    private readonly IReadOnlyDictionary<int, string> _special;

    public TokenVocabulary(byte[][] bytesById, IReadOnlyList<int> endOfSequence, int size, IReadOnlyDictionary<int, string>? special = null)
    {
        _bytes = bytesById;
        _special = special ?? new Dictionary<int, string>();
        Size = size;
        EndOfSequence = endOfSequence.Where(id => id < size).ToArray();
        SortedTokens = Enumerable.Range(0, Math.Min(size, bytesById.Length)).Where(id => bytesById[id].Length > 0)
            .OrderBy(id => bytesById[id], ByteOrder.Instance).ToArray();
        SharedPrefix = new int[SortedTokens.Length];
        for (var i = 1; i < SortedTokens.Length; i++)
        {
            SharedPrefix[i] = bytesById[SortedTokens[i - 1]].AsSpan().CommonPrefixLength(bytesById[SortedTokens[i]]);
        }
        LongestToken = SortedTokens.Length == 0 ? 0 : SortedTokens.Max(id => bytesById[id].Length);
    }

    /// <summary>Token ids the logits cover (the model's vocabulary size; may exceed the tokenizer's).</summary>
    public int Size { get; }

    public IReadOnlyList<int> EndOfSequence { get; }

    /// <summary>Tokens with bytes, in byte order.</summary>
    public int[] SortedTokens { get; }

    /// <summary>For each entry of <see cref="SortedTokens"/>, the leading bytes it shares with the entry before.</summary>
    public int[] SharedPrefix { get; }

    public int LongestToken { get; }

    public ReadOnlySpan<byte> BytesOf(int token) => token >= 0 && token < _bytes.Length ? _bytes[token] : [];

    /// <summary>A token as text: a special token's name, else its bytes as UTF-8 (a piece of a character reads as U+FFFD).</summary>
    public string TextOf(int token) => _special.TryGetValue(token, out var name) ? name : Encoding.UTF8.GetString(BytesOf(token));

    /// <summary>
    /// Reads a Hugging Face tokenizer.json: byte-level BPE (GPT-2's byte-to-character map) or SentencePiece-style
    /// vocabularies ("▁" for a space, "&lt;0xNN&gt;" byte fallback).
    /// </summary>
    public static TokenVocabulary Load(string tokenizerJson, IReadOnlyList<int> endOfSequence, int size)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(tokenizerJson));
        var root = document.RootElement;
        var model = root.GetProperty("model");
        var byteLevel = IsByteLevel(root.TryGetProperty("decoder", out var decoder) ? decoder : default);
        var vocab = model.GetProperty("vocab");
        var pieces = new Dictionary<int, string>();
        if (vocab.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in vocab.EnumerateObject())
            {
                pieces[entry.Value.GetInt32()] = entry.Name;
            }
        }
        else
        {
            // Unigram: [[piece, score], ...] by id.
            var id = 0;
            foreach (var entry in vocab.EnumerateArray())
            {
                pieces[id++] = entry[0].GetString()!;
            }
        }
        var special = new Dictionary<int, string>();
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in added.EnumerateArray())
            {
                var id = token.GetProperty("id").GetInt32();
                if (token.TryGetProperty("special", out var isSpecial) && isSpecial.GetBoolean())
                {
                    special[id] = token.GetProperty("content").GetString()!;
                }
                else
                {
                    pieces[id] = token.GetProperty("content").GetString()!; // added, not special: plain text
                }
            }
        }
        var count = pieces.Count == 0 ? 0 : pieces.Keys.Max() + 1;
        var bytes = new byte[count][];
        for (var id = 0; id < count; id++)
        {
            bytes[id] = special.ContainsKey(id) || !pieces.TryGetValue(id, out var piece) ? []
                : byteLevel ? ByteLevelBytes(piece) : SentencePieceBytes(piece);
        }
        return new TokenVocabulary(bytes, endOfSequence, size, special);
    }

    private static bool IsByteLevel(JsonElement decoder)
    {
        if (decoder.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        if (decoder.TryGetProperty("type", out var type) && type.GetString() == "ByteLevel")
        {
            return true;
        }
        return decoder.TryGetProperty("decoders", out var chain) && chain.EnumerateArray().Any(IsByteLevel);
    }

    /// <summary>GPT-2's byte-to-character map read back; an added token written as plain text is its UTF-8.</summary>
    private static byte[] ByteLevelBytes(string piece) =>
        ModelBuilder.ByteLevel.TryDecode(piece, out var bytes) ? bytes : Encoding.UTF8.GetBytes(piece);

    private static byte[] SentencePieceBytes(string piece)
    {
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>')
        {
            return [Convert.ToByte(piece[3..5], 16)];
        }
        return Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
