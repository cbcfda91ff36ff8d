namespace LstmPort.Fuzz.Mutators;

/// <summary>The integer values that break readers: edges of the field's width, the sign bit, the file's length nearby.</summary>
public static class Interesting
{
    public static ulong Max(int width) => width >= 8 ? ulong.MaxValue : (1UL << (8 * width)) - 1;

    /// <summary>A value for a <paramref name="width"/>-byte little-endian field now holding <paramref name="current"/>, with its description.</summary>
    public static (ulong Value, string What) For(Random r, int width, ulong current, long fileLength, IReadOnlyList<ulong>? candidates = null)
    {
        ulong max = Max(width), sign = 1UL << (8 * width - 1);
        int choice = r.Next(candidates is { Count: > 0 } ? 15 : 13);
        (ulong v, string what) = choice switch
        {
            0 => (0UL, "0"),
            1 => (1UL, "1"),
            2 => (max, "max"),
            3 => (sign - 1, "signed max"),
            4 => (sign, "signed min"),
            5 => (current ^ sign, "sign flipped"),
            6 => ((~current + 1) & max, "negated"),
            7 => (current + 1, "+1"),
            8 => (current - 1, "-1"),
            9 => ((ulong)fileLength + (ulong)r.Next(-16, 17), "file length ± small"),
            10 => (current << (1 + r.Next(8 * width - 1)), "shifted up"),
            11 => ((ulong)r.NextInt64() & max, "random"),
            12 => (1UL << r.Next(8 * width), "power of two"),
            _ => (candidates![r.Next(candidates.Count)], "address of another structure"),
        };
        return (v & max, what);
    }
}
