using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelBuilder;

/// <summary>Writes a vocabulary as the HF tokenizer files ONNX Runtime GenAI reads.</summary>
internal static class TokenizerFiles
{
    /// <summary>
    /// Renders "role: content" lines and ends with "assistant:", the shape of the corpus's dialogues. The model's
    /// replies begin with a space, so an assistant message sent back verbatim renders exactly as it was generated
    /// and the next turn's prompt extends the cached tokens of the last one.
    /// </summary>
    public const string ChatTemplate =
        "{% for message in messages %}{{ message['role'] + ':' }}{% if not message['content'].startswith(' ') %}{{ ' ' }}{% endif %}" +
        "{{ message['content'] + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}";

    public static void Write(BpeVocabulary vocabulary, string directory)
    {
        var vocab = new JsonObject();
        for (var id = 0; id < vocabulary.Count; id++)
        {
            vocab[vocabulary.Tokens[id]] = id;
        }

        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(
                AddedToken(BpeVocabulary.EndOfText, vocabulary.EndOfTextId),
                AddedToken(BpeVocabulary.Pad, vocabulary.PadId)),
            ["normalizer"] = null,
            ["pre_tokenizer"] = ByteLevelSection(addPrefixSpace: false),
            ["post_processor"] = null,
            ["decoder"] = ByteLevelSection(addPrefixSpace: true),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(vocabulary.Merges.Select(m => (JsonNode)JsonValue.Create(m.Left + " " + m.Right)).ToArray()),
            },
        };

        var config = new JsonObject
        {
            ["tokenizer_class"] = "GPT2Tokenizer",
            ["model_max_length"] = 1_000_000,
            ["add_bos_token"] = false,
            ["add_prefix_space"] = false,
            ["bos_token"] = BpeVocabulary.EndOfText,
            ["eos_token"] = BpeVocabulary.EndOfText,
            ["unk_token"] = BpeVocabulary.EndOfText,
            ["pad_token"] = BpeVocabulary.Pad,
            ["clean_up_tokenization_spaces"] = false,
            ["added_tokens_decoder"] = new JsonObject
            {
                [vocabulary.EndOfTextId.ToString()] = AddedToken(BpeVocabulary.EndOfText),
                [vocabulary.PadId.ToString()] = AddedToken(BpeVocabulary.Pad),
            },
            ["chat_template"] = ChatTemplate,
        };

        JsonFiles.Write(Path.Combine(directory, "tokenizer.json"), tokenizer);
        JsonFiles.Write(Path.Combine(directory, "tokenizer_config.json"), config);
    }

    private static JsonObject ByteLevelSection(bool addPrefixSpace) => new()
    {
        ["type"] = "ByteLevel",
        ["add_prefix_space"] = addPrefixSpace,
        ["trim_offsets"] = true,
        ["use_regex"] = true,
    };

    /// <summary>A special token as tokenizer.json lists it (with its id) or tokenizer_config.json does (keyed by id).</summary>
    private static JsonObject AddedToken(string content, int? id = null)
    {
        var token = new JsonObject();
        if (id is { } value)
        {
            token["id"] = value;
        }
        token["content"] = content;
        token["single_word"] = false;
        token["lstrip"] = false;
        token["rstrip"] = false;
        token["normalized"] = false;
        token["special"] = true;
        return token;
    }
}

internal static class JsonFiles
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Write(string path, JsonNode node) => File.WriteAllText(path, node.ToJsonString(Indented) + "\n");
}
