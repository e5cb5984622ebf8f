namespace Worker.StructuredOutput;

/// <summary>A set of byte values, the alphabet a grammar's terminals read: 256 bits.</summary>
internal readonly struct ByteSet : IEquatable<ByteSet>
{
    private readonly ulong _w0, _w1, _w2, _w3;

    private ByteSet(ulong w0, ulong w1, ulong w2, ulong w3) => (_w0, _w1, _w2, _w3) = (w0, w1, w2, w3);

    public static ByteSet Empty => default;

    public static ByteSet Of(byte value) => Range(value, value);

    public static ByteSet Range(int first, int last)
    {
        var set = Empty;
        for (var b = first; b <= last; b++)
        {
            set = set.With((byte)b);
        }
        return set;
    }

    public static ByteSet Of(string asciiChars)
    {
        var set = Empty;
        foreach (var c in asciiChars)
        {
            set = set.With((byte)c);
        }
        return set;
    }

    public ByteSet With(byte value) => (value >> 6) switch
    {
        0 => new(_w0 | 1UL << value, _w1, _w2, _w3),
        1 => new(_w0, _w1 | 1UL << value, _w2, _w3),
        2 => new(_w0, _w1, _w2 | 1UL << value, _w3),
        _ => new(_w0, _w1, _w2, _w3 | 1UL << value),
    };

    public ByteSet Union(ByteSet other) => new(_w0 | other._w0, _w1 | other._w1, _w2 | other._w2, _w3 | other._w3);

    public ByteSet Except(ByteSet other) => new(_w0 & ~other._w0, _w1 & ~other._w1, _w2 & ~other._w2, _w3 & ~other._w3);

    public bool Contains(byte value) => ((value >> 6) switch { 0 => _w0, 1 => _w1, 2 => _w2, _ => _w3 } & 1UL << value) != 0;

    public bool IsEmpty => (_w0 | _w1 | _w2 | _w3) == 0;

    public bool Equals(ByteSet other) => _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3;

    public override bool Equals(object? obj) => obj is ByteSet other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_w0, _w1, _w2, _w3);
}
