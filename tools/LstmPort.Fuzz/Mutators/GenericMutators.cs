using LstmPort.Fuzz.Formats;
using LstmPort.Fuzz.Seeds;

namespace LstmPort.Fuzz.Mutators;

/// <summary>A format-blind mutator: any bytes will do.</summary>
public abstract class GenericMutator : IBytesMutator
{
    public abstract string Name { get; }
    public virtual int Weight => 10;
    public bool Accepts(string name, byte[] data) => data.Length > 0;
    public abstract (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng);
}

/// <summary>Bit flips: 1 to 8 random bits anywhere in the file.</summary>
public sealed class BitFlip : GenericMutator
{
    public override string Name => "bitflip";
    public override (byte[] Data, string What)? Mutate(string file, byte[] data, Random rng)
    {
        if (data.Length == 0) return null;
        var d = (byte[])data.Clone();
        int n = 1 + rng.Next(8);
        var at = new List<string>();
        for (int i = 0; i < n; i++)
        {
            int pos = rng.Next(d.Length), bit = rng.Next(8);
            d[pos] ^= (byte)(1 << bit);
            at.Add($"{pos}.{bit}");
        }
        return (d, $"flipped bits {string.Join(",", at)}");
    }
}

/// <summary>Byte sets: 1 to 4 bytes set to 0x00, 0xFF, 0x7F, 0x80 or a random value.</summary>
public sealed class ByteSet : GenericMutator
{
    public override string Name => "byteset";
    static readonly byte[] Values = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE];
    public override (byte[] Data, string What)? Mutate(string file, byte[] data, Random rng)
    {
        if (data.Length == 0) return null;
        var d = (byte[])data.Clone();
        int n = 1 + rng.Next(4);
        var at = new List<string>();
        for (int i = 0; i < n; i++)
        {
            int pos = rng.Next(d.Length);
            d[pos] = rng.Chance(0.6) ? rng.Pick(Values) : (byte)rng.Next(256);
            at.Add($"{pos}=0x{d[pos]:x2}");
        }
        return (d, $"set bytes {string.Join(",", at)}");
    }
}

/// <summary>Truncation at a structure boundary (± a few bytes) or at a random point.</summary>
public sealed class Truncate : GenericMutator
{
    public override string Name => "truncate";
    public override int Weight => 12;
    public override (byte[] Data, string What)? Mutate(string file, byte[] data, Random rng)
    {
        if (data.Length == 0) return null;
        var marks = Landmarks.For(file, data);
        long at;
        string why;
        if (marks.Count > 0 && rng.Chance(0.6))
        {
            var m = rng.Pick(marks);
            at = Math.Clamp(m.Offset + rng.Next(-3, 4) * (rng.Chance(0.5) ? 0 : 1), 0, data.Length - 1);
            why = $"at {m.What}";
        }
        else
        {
            at = rng.Chance(0.3) ? rng.Skewed(data.Length) : rng.Next(data.Length);
            why = "at a random point";
        }
        return (data.AsSpan(0, (int)at).ToArray(), $"truncated to {at} of {data.Length} bytes {why}");
    }
}

/// <summary>A chunk of the file deleted, duplicated in place, or random/copied bytes inserted.</summary>
public sealed class Chunk : GenericMutator
{
    public override string Name => "chunk";
    public override (byte[] Data, string What)? Mutate(string file, byte[] data, Random rng)
    {
        if (data.Length < 2) return null;
        int at = rng.Next(data.Length);
        int len = 1 + rng.Skewed(Math.Min(data.Length - at, rng.Chance(0.5) ? 16 : 4096));
        switch (rng.Next(3))
        {
            case 0:
                return (Bytes.Splice(data, at, len, []), $"deleted {len} bytes at {at}");
            case 1:
                return (Bytes.Splice(data, at, 0, data.AsSpan(at, len)), $"duplicated {len} bytes at {at}");
            default:
                byte[] insert;
                string what;
                if (rng.Chance(0.5))
                {
                    insert = new byte[len];
                    rng.NextBytes(insert);
                    what = "random";
                }
                else
                {
                    int from = rng.Next(data.Length);
                    insert = data.AsSpan(from, Math.Min(len, data.Length - from)).ToArray();
                    what = $"copied from {from}";
                }
                return (Bytes.Splice(data, at, 0, insert), $"inserted {insert.Length} bytes ({what}) at {at}");
        }
    }
}

/// <summary>
/// A little-endian 2, 4 or 8-byte integer at a structure landmark or a random (often aligned) offset
/// set to 0, 1, max, sign-flipped, negated, the file length ± small, ...
/// </summary>
public sealed class IntSet : GenericMutator
{
    public override string Name => "intset";
    public override int Weight => 12;
    public override (byte[] Data, string What)? Mutate(string file, byte[] data, Random rng)
    {
        int width = rng.Pick(new[] { 2, 4, 8 });
        if (data.Length < width) return null;
        var marks = Landmarks.For(file, data);
        long at;
        if (marks.Count > 0 && rng.Chance(0.5)) at = Math.Min(rng.Pick(marks).Offset, data.Length - width);
        else
        {
            at = rng.Next(data.Length - width + 1);
            if (rng.Chance(0.5)) at -= at % width;
        }
        ulong current = Bytes.Read(data, at, width);
        var (value, what) = Interesting.For(rng, width, current, data.Length);
        var d = (byte[])data.Clone();
        Bytes.Write(d, at, width, value);
        return (d, $"{width}-byte integer at {at} set from {current} to {value} ({what})");
    }
}

/// <summary>For inputs of several files: a sibling removed or emptied (a missing shard, a missing config).</summary>
public sealed class SiblingFile : IMutator
{
    public string Name => "sibling";
    public int Weight => 4;
    public bool AppliesTo(SeedInput seed) => seed.Files.Count > 1;
    public Mutation? Mutate(SeedInput seed, Random rng)
    {
        var file = rng.Pick(seed.FileNames);
        return rng.Next(3) switch
        {
            0 => new Mutation(new Dictionary<string, byte[]?> { [file] = null }, $"{file}: removed"),
            1 => new Mutation(new Dictionary<string, byte[]?> { [file] = [] }, $"{file}: emptied"),
            _ => new Mutation(new Dictionary<string, byte[]?> { [file] = seed.Files[rng.Pick(seed.FileNames)] }, $"{file}: replaced by another file of the input"),
        };
    }
}
