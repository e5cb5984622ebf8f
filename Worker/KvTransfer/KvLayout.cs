using System.Security.Cryptography;
using System.Text.Json;
using Worker.Runner;

namespace Worker.KvTransfer;

/// <summary>
/// What two workers must share for one to use the other's KV as its own: the model (a fingerprint of its
/// configuration, tokenizer and weight files) and the cache's layout (layers, KV heads, head size, element bytes,
/// block size). The handshake compares them before any block moves.
/// </summary>
public sealed record KvLayout(string Model, int Layers, int KvHeads, int HeadSize, int ElementBytes, int BlockSize)
{
    /// <summary>Bytes of one block: every layer's keys and values for <see cref="BlockSize"/> tokens.</summary>
    public long BlockBytes => 2L * Layers * KvHeads * HeadSize * ElementBytes * BlockSize;

    /// <summary>Contiguous memory regions per block: one per layer, keys or values, and KV head.</summary>
    public int DescriptorsPerBlock => 2 * Layers * KvHeads;

    /// <summary>Why the two cannot exchange KV, or null when they can.</summary>
    public string? Mismatch(KvLayout other) =>
        Model != other.Model ? $"the models differ (fingerprint {Model[..12]} here, {other.Model[..12]} there)"
        : this != other ? $"the KV layouts differ ({Describe()} here, {other.Describe()} there)"
        : null;

    public string Describe() =>
        $"{Layers} layers × {KvHeads} KV heads × head size {HeadSize} × {ElementBytes} bytes, blocks of {BlockSize}";

    internal static KvLayout Of(ModelFolder folder, KvArena arena, int blockSize) =>
        new(Fingerprint(folder), arena.Layers, arena.KvHeads, arena.HeadSize, arena.ElementBytes, blockSize);

    /// <summary>
    /// SHA-256 over the model's configuration and tokenizer files and, for each weight file, its name, size and its first
    /// and last 64 KiB: cheap at start-up for a model of many GiB, and different for any two models in practice.
    /// </summary>
    private static string Fingerprint(ModelFolder folder)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var name in new[] { "genai_config.json", "config.json", "tokenizer.json", "tokenizer_config.json" })
        {
            var path = Path.Combine(folder.Path, name);
            if (File.Exists(path))
            {
                hash.AppendData(File.ReadAllBytes(path));
            }
        }
        foreach (var file in folder.WeightFiles().Order(StringComparer.Ordinal))
        {
            using var stream = File.OpenRead(file);
            hash.AppendData(JsonSerializer.SerializeToUtf8Bytes(new { name = Path.GetFileName(file), stream.Length }));
            var edge = new byte[(int)Math.Min(64 * 1024, stream.Length)];
            stream.ReadExactly(edge);
            hash.AppendData(edge);
            stream.Seek(-edge.Length, SeekOrigin.End);
            stream.ReadExactly(edge);
            hash.AppendData(edge);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
