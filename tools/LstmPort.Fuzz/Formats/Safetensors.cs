using System.Buffers.Binary;

namespace LstmPort.Fuzz.Formats;

/// <summary>The safetensors layout: an 8-byte little-endian header length, the JSON header, the data.</summary>
public static class Safetensors
{
    public static (byte[] Header, byte[] Data)? Split(byte[] file)
    {
        if (file.Length < 8) return null;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (n > (ulong)(file.Length - 8) || n == 0 || file[8] != (byte)'{') return null;
        return (file.AsSpan(8, (int)n).ToArray(), file.AsSpan(8 + (int)n).ToArray());
    }

    /// <summary>Length, header, data; <paramref name="claimed"/> replaces the true header length.</summary>
    public static byte[] Join(byte[] header, byte[] data, ulong? claimed = null)
    {
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, claimed ?? (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }
}
