using System.Text;
using System.Text.RegularExpressions;

namespace ModelBuilder;

/// <summary>
/// GPT-2's byte-level conventions, as the HF tokenizers "ByteLevel" pre-tokenizer and decoder apply them:
/// every byte maps to a printable character, and text is split by the GPT-2 regex before merging. Public for what reads
/// such vocabularies back (structured output's token bytes).
/// </summary>
public static partial class ByteLevel
{
    /// <summary>Byte value → the printable character that stands for it in the vocabulary.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    private static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")]
    private static partial Regex PreTokenizer();

    /// <summary>Splits text into pre-tokens and maps each one's UTF-8 bytes to vocabulary characters.</summary>
    public static IEnumerable<string> PreTokenize(string text)
    {
        foreach (Match match in PreTokenizer().Matches(text))
        {
            yield return Encode(match.Value);
        }
    }

    public static string Encode(string text) =>
        string.Concat(Encoding.UTF8.GetBytes(text).Select(b => ByteToChar[b]));

    public static byte[] Decode(string symbols) => symbols.Select(c => CharToByte[c]).ToArray();

    /// <summary>The bytes the symbols stand for; false when some character is not a byte's symbol (text of an added token).</summary>
    public static bool TryDecode(string symbols, out byte[] bytes)
    {
        bytes = new byte[symbols.Length];
        for (var i = 0; i < symbols.Length; i++)
        {
            if (!CharToByte.TryGetValue(symbols[i], out bytes[i]))
            {
                return false;
            }
        }
        return true;
    }

    private static char[] BuildByteToChar()
    {
        // Printable Latin-1 bytes stand for themselves; the rest are shifted above 255 in byte order.
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }
}
