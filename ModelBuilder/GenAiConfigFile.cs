using System.Text.Json.Nodes;

namespace ModelBuilder;

/// <summary>Writes genai_config.json for one decoder, as ONNX Runtime GenAI's model builder lays it out.</summary>
internal static class GenAiConfigFile
{
    public static void Write(string directory, ModelShape shape, BpeVocabulary vocabulary)
    {
        var config = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["type"] = "llama",
                ["bos_token_id"] = vocabulary.EndOfTextId,
                ["eos_token_id"] = vocabulary.EndOfTextId,
                // GenAI skips trailing pad tokens when it picks the last logits row: pad must never end a prompt.
                ["pad_token_id"] = vocabulary.PadId,
                ["vocab_size"] = vocabulary.Count,
                ["context_length"] = shape.ContextLength,
                ["decoder"] = new JsonObject
                {
                    ["filename"] = "model.onnx",
                    ["session_options"] = new JsonObject { ["log_id"] = "onnxruntime-genai", ["provider_options"] = new JsonArray() },
                    ["head_size"] = shape.HeadSize,
                    ["hidden_size"] = shape.Hidden,
                    ["num_attention_heads"] = shape.Heads,
                    ["num_key_value_heads"] = shape.KvHeads,
                    ["num_hidden_layers"] = shape.Layers,
                    ["inputs"] = new JsonObject
                    {
                        ["input_ids"] = "input_ids",
                        ["attention_mask"] = "attention_mask",
                        ["position_ids"] = "position_ids",
                        ["past_key_names"] = "past_key_values.%d.key",
                        ["past_value_names"] = "past_key_values.%d.value",
                    },
                    ["outputs"] = new JsonObject
                    {
                        ["logits"] = "logits",
                        ["present_key_names"] = "present.%d.key",
                        ["present_value_names"] = "present.%d.value",
                    },
                },
            },
            ["search"] = new JsonObject
            {
                ["do_sample"] = false,
                ["max_length"] = shape.ContextLength,
                ["min_length"] = 0,
                ["num_beams"] = 1,
                ["num_return_sequences"] = 1,
                ["past_present_share_buffer"] = false,
                ["temperature"] = 1.0,
                ["top_k"] = 1,
                ["top_p"] = 1.0,
                ["repetition_penalty"] = 1.0,
                ["no_repeat_ngram_size"] = 0,
            },
        };
        JsonFiles.Write(Path.Combine(directory, "genai_config.json"), config);
    }
}
