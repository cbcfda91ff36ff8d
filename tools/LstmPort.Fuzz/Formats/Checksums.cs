using System.Buffers.Binary;
using System.Numerics;

namespace LstmPort.Fuzz.Formats;

/// <summary>
/// The checksums the formats carry, written here from their specifications (not borrowed from the
/// engine), so a mutator can repair a checksum after an edit and reach the code behind it.
/// </summary>
public static class Checksums
{
    /// <summary>CRC-32C (Castagnoli), as TensorFlow's tables and bundles use it.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data, uint crc = 0)
    {
        uint c = ~crc;
        foreach (var b in data) c = BitOperations.Crc32C(c, b);
        return ~c;
    }

    /// <summary>TensorFlow's masked CRC (crc32c.h): rotate right by 15 and add a constant.</summary>
    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;

    /// <summary>The zip CRC-32.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data) => System.IO.Hashing.Crc32.HashToUInt32(data);

    /// <summary>Bob Jenkins' lookup3 hashlittle with initval 0, HDF5's metadata checksum (H5_checksum_lookup3).</summary>
    public static uint Lookup3(ReadOnlySpan<byte> k)
    {
        uint a, b, c;
        a = b = c = 0xdeadbeef + (uint)k.Length;
        int length = k.Length, p = 0;
        while (length > 12)
        {
            a += BinaryPrimitives.ReadUInt32LittleEndian(k[p..]);
            b += BinaryPrimitives.ReadUInt32LittleEndian(k[(p + 4)..]);
            c += BinaryPrimitives.ReadUInt32LittleEndian(k[(p + 8)..]);
            Mix(ref a, ref b, ref c);
            length -= 12;
            p += 12;
        }
        if (length == 0) return c;
        // The tail, byte by byte (hashlittle's fall-through switch).
        if (length >= 12) c += (uint)k[p + 11] << 24;
        if (length >= 11) c += (uint)k[p + 10] << 16;
        if (length >= 10) c += (uint)k[p + 9] << 8;
        if (length >= 9) c += k[p + 8];
        if (length >= 8) b += (uint)k[p + 7] << 24;
        if (length >= 7) b += (uint)k[p + 6] << 16;
        if (length >= 6) b += (uint)k[p + 5] << 8;
        if (length >= 5) b += k[p + 4];
        if (length >= 4) a += (uint)k[p + 3] << 24;
        if (length >= 3) a += (uint)k[p + 2] << 16;
        if (length >= 2) a += (uint)k[p + 1] << 8;
        a += k[p];
        Final(ref a, ref b, ref c);
        return c;
    }

    static uint Rot(uint x, int k) => (x << k) | (x >> (32 - k));

    static void Mix(ref uint a, ref uint b, ref uint c)
    {
        a -= c; a ^= Rot(c, 4); c += b;
        b -= a; b ^= Rot(a, 6); a += c;
        c -= b; c ^= Rot(b, 8); b += a;
        a -= c; a ^= Rot(c, 16); c += b;
        b -= a; b ^= Rot(a, 19); a += c;
        c -= b; c ^= Rot(b, 4); b += a;
    }

    static void Final(ref uint a, ref uint b, ref uint c)
    {
        c ^= b; c -= Rot(b, 14);
        a ^= c; a -= Rot(c, 11);
        b ^= a; b -= Rot(a, 25);
        c ^= b; c -= Rot(b, 16);
        a ^= c; a -= Rot(c, 4);
        b ^= a; b -= Rot(a, 14);
        c ^= b; c -= Rot(b, 24);
    }
}
