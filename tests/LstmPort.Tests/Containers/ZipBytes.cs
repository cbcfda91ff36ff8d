using System.Buffers.Binary;
using System.Text;

namespace LstmPort.Tests;

/// <summary>
/// Zip archives written byte by byte for the hostile-zip tests: stored records, and any central
/// directory field replaced by 0xFFFFFFFF with the value in a zip64 extra field (as a damaged or
/// hostile file can claim it), which System.IO.Compression's writer cannot produce.
/// </summary>
static class ZipBytes
{
    public sealed record Record(string Name, byte[] Data)
    {
        /// <summary>Zip64 values for the central directory: each non-null one replaces its 32-bit field.</summary>
        public ulong? Size { get; init; }
        public ulong? CompressedSize { get; init; }
        public ulong? LocalHeaderOffset { get; init; }
    }

    /// <param name="zip64Count">When set, a zip64 end record (and locator) claiming this many entries.</param>
    public static byte[] Build(IReadOnlyList<Record> records, ulong? zip64Count = null)
    {
        var ms = new MemoryStream();
        var offsets = new List<long>();
        foreach (var r in records)
        {
            offsets.Add(ms.Position);
            var name = Encoding.UTF8.GetBytes(r.Name);
            U32(ms, 0x04034b50); U16(ms, 20); U16(ms, 0); U16(ms, 0); U32(ms, 0);
            U32(ms, Crc(r.Data)); U32(ms, (uint)r.Data.Length); U32(ms, (uint)r.Data.Length);
            U16(ms, (ushort)name.Length); U16(ms, 0);
            ms.Write(name); ms.Write(r.Data);
        }
        long cdStart = ms.Position;
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i];
            var name = Encoding.UTF8.GetBytes(r.Name);
            var extra = new MemoryStream();
            foreach (var v in new[] { r.Size, r.CompressedSize, r.LocalHeaderOffset })
                if (v is { } x) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, x); extra.Write(b); }
            byte[] extraBytes = extra.Length == 0 ? [] : [.. LE16(1), .. LE16((ushort)extra.Length), .. extra.ToArray()];
            U32(ms, 0x02014b50); U16(ms, 45); U16(ms, 45); U16(ms, 0); U16(ms, 0); U32(ms, 0);
            U32(ms, Crc(r.Data));
            U32(ms, r.CompressedSize is null ? (uint)r.Data.Length : 0xFFFFFFFF);
            U32(ms, r.Size is null ? (uint)r.Data.Length : 0xFFFFFFFF);
            U16(ms, (ushort)name.Length); U16(ms, (ushort)extraBytes.Length); U16(ms, 0); U16(ms, 0); U16(ms, 0); U32(ms, 0);
            U32(ms, r.LocalHeaderOffset is null ? (uint)offsets[i] : 0xFFFFFFFF);
            ms.Write(name); ms.Write(extraBytes);
        }
        long cdSize = ms.Position - cdStart;
        if (zip64Count is { } count)
        {
            long rec = ms.Position;
            U32(ms, 0x06064b50); U64(ms, 44); U16(ms, 45); U16(ms, 45); U32(ms, 0); U32(ms, 0);
            U64(ms, count); U64(ms, count); U64(ms, (ulong)cdSize); U64(ms, (ulong)cdStart);
            U32(ms, 0x07064b50); U32(ms, 0); U64(ms, (ulong)rec); U32(ms, 1);
        }
        U32(ms, 0x06054b50); U16(ms, 0); U16(ms, 0);
        U16(ms, zip64Count is null ? (ushort)records.Count : (ushort)0xFFFF); U16(ms, zip64Count is null ? (ushort)records.Count : (ushort)0xFFFF);
        U32(ms, (uint)cdSize); U32(ms, (uint)cdStart); U16(ms, 0);
        return ms.ToArray();
    }

    static uint Crc(byte[] b) => System.IO.Hashing.Crc32.HashToUInt32(b);
    static byte[] LE16(ushort v) { var b = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); return b; }
    static void U16(Stream s, ushort v) => s.Write(LE16(v));
    static void U32(Stream s, uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); s.Write(b); }
    static void U64(Stream s, ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); s.Write(b); }
}
