using System.Buffers.Binary;

namespace LstmPort.Fuzz.Formats;

/// <summary>Little-endian integer access of any width on a byte array, and splicing.</summary>
public static class Bytes
{
    public static ulong Read(ReadOnlySpan<byte> b, long at, int width) => width switch
    {
        1 => b[(int)at],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(b[(int)at..]),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(b[(int)at..]),
        8 => BinaryPrimitives.ReadUInt64LittleEndian(b[(int)at..]),
        _ => throw new ArgumentOutOfRangeException(nameof(width)),
    };

    /// <summary>Writes the low <paramref name="width"/> bytes of <paramref name="value"/>.</summary>
    public static void Write(Span<byte> b, long at, int width, ulong value)
    {
        switch (width)
        {
            case 1: b[(int)at] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(b[(int)at..], (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(b[(int)at..], (uint)value); break;
            case 8: BinaryPrimitives.WriteUInt64LittleEndian(b[(int)at..], value); break;
            default: throw new ArgumentOutOfRangeException(nameof(width));
        }
    }

    public static bool Fits(byte[] b, long at, int width) => at >= 0 && width > 0 && at + width <= b.LongLength;

    public static byte[] Splice(byte[] data, long at, long remove, ReadOnlySpan<byte> insert)
    {
        at = Math.Clamp(at, 0, data.LongLength);
        remove = Math.Clamp(remove, 0, data.LongLength - at);
        var result = new byte[data.LongLength - remove + insert.Length];
        data.AsSpan(0, (int)at).CopyTo(result);
        insert.CopyTo(result.AsSpan((int)at));
        data.AsSpan((int)(at + remove)).CopyTo(result.AsSpan((int)at + insert.Length));
        return result;
    }

    public static void Varint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    public static byte[] Varint(ulong v)
    {
        var ms = new MemoryStream();
        Varint(ms, v);
        return ms.ToArray();
    }

    /// <summary>Reads a varint; returns false when it runs past the end or beyond 10 bytes.</summary>
    public static bool TryVarint(ReadOnlySpan<byte> b, ref int pos, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (pos >= b.Length) return false;
            byte x = b[pos++];
            if (shift < 64) value |= (ulong)(x & 0x7f) << shift;
            if (x < 0x80) return true;
        }
        return false;
    }
}
