using System.Buffers.Binary;
using System.Numerics;

namespace LstmPort.Containers;

/// <summary>CRC-32C (Castagnoli) as TensorFlow uses it, and its "masked" form stored in files.</summary>
internal static class Crc32C
{
    public static uint Extend(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) c = BitOperations.Crc32C(c, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) c = BitOperations.Crc32C(c, data[i]);
        return ~c;
    }

    public static uint Value(ReadOnlySpan<byte> data) => Extend(0, data);

    // Masked so that a CRC over data that itself contains CRCs stays well distributed (crc32c.h).
    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;

    public static uint Unmask(uint masked)
    {
        uint rot = masked - 0xa282ead8u;
        return (rot >> 17) | (rot << 15);
    }
}

/// <summary>A read-only stream over another that keeps the CRC-32C of every byte read through it.</summary>
internal sealed class Crc32CStream(Stream inner) : Stream
{
    public uint Crc { get; private set; }
    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        Crc = Crc32C.Extend(Crc, buffer[..n]);
        return n;
    }
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>
/// The sorted string table TensorFlow writes as a checkpoint's <c>.index</c> (tensorflow/core/lib/io/table,
/// LevelDB's format): data blocks of prefix-compressed key/value entries with a restart array, each
/// followed by a 1-byte compression type (0 none, 1 snappy) and a masked CRC-32C; an index block
/// mapping keys to block handles; a 48-byte footer ending in the magic 0xdb4775248b80fb57.
/// Every handle, length and checksum is checked.
/// </summary>
internal static class SsTable
{
    const ulong Magic = 0xdb4775248b80fb57UL;
    const int FooterLength = 48, TrailerLength = 5;

    public static List<KeyValuePair<string, byte[]>> ReadAll(string path)
    {
        var file = File.ReadAllBytes(path);
        if (file.Length < FooterLength)
            throw Bad(path, ErrorIds.TruncatedFile, $"the file has {file.Length} bytes, less than the {FooterLength}-byte table footer");
        var footer = file.AsSpan(file.Length - FooterLength);
        if (BinaryPrimitives.ReadUInt64LittleEndian(footer[40..]) != Magic)
            throw Bad(path, ErrorIds.NotTensorBundle, "the footer does not end in the table magic number (truncated, or not a TensorFlow .index file)");
        int pos = 0;
        ReadHandle(path, footer, ref pos, file.Length); // metaindex: unused by TensorFlow bundles
        var index = ReadHandle(path, footer, ref pos, file.Length);

        var entries = new List<KeyValuePair<string, byte[]>>();
        byte[]? previous = null;
        foreach (var (_, handleBytes) in Entries(path, Block(path, file, index)))
        {
            int hp = 0;
            var handle = ReadHandle(path, handleBytes, ref hp, file.Length);
            foreach (var (key, value) in Entries(path, Block(path, file, handle)))
            {
                // A table's keys are unique and sorted bytewise; a repeated or unordered key is damage
                // (and every reader keys dictionaries by them).
                if (previous is not null && previous.AsSpan().SequenceCompareTo(key) >= 0)
                    throw Bad(path, ErrorIds.CorruptFile, $"the key '{System.Text.Encoding.UTF8.GetString(key)}' does not come after the key before it (keys must be unique and sorted)");
                previous = key;
                entries.Add(new(System.Text.Encoding.UTF8.GetString(key), value));
            }
        }
        return entries;
    }

    static (long Offset, long Size) ReadHandle(string path, ReadOnlySpan<byte> bytes, ref int pos, long fileLength)
    {
        long offset = (long)Varint(path, bytes, ref pos), size = (long)Varint(path, bytes, ref pos);
        if (offset < 0 || size < 0 || size > int.MaxValue || offset + size + TrailerLength > fileLength)
            throw Bad(path, ErrorIds.TruncatedFile, $"a block handle [{offset}, +{size}] points past the end of the {fileLength}-byte file");
        return (offset, size);
    }

    static byte[] Block(string path, byte[] file, (long Offset, long Size) h)
    {
        if (h.Offset + h.Size + TrailerLength > file.Length)
            throw Bad(path, ErrorIds.TruncatedFile, $"block [{h.Offset}, +{h.Size}] ends past the end of the {file.Length}-byte file");
        var data = file.AsSpan((int)h.Offset, (int)h.Size + 1);
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)(h.Offset + h.Size + 1), 4));
        if (Crc32C.Unmask(stored) != Crc32C.Value(data))
            throw Bad(path, ErrorIds.ChecksumMismatch, $"the block at offset {h.Offset} fails its CRC-32C check");
        var contents = data[..^1];
        switch (data[^1])
        {
            case 0: return contents.ToArray();
            case 1:
                try { return Snappier.Snappy.DecompressToArray(contents); }
                catch (Exception e) when (e is InvalidDataException or ArgumentException or IndexOutOfRangeException)
                { throw Bad(path, ErrorIds.CorruptFile, $"the snappy block at offset {h.Offset} does not decompress ({e.Message})"); }
            default:
                throw Bad(path, ErrorIds.UnsupportedCompression, $"block at offset {h.Offset} uses compression type {data[^1]} (only none and snappy exist)");
        }
    }

    static IEnumerable<(byte[] Key, byte[] Value)> Entries(string path, byte[] block)
    {
        if (block.Length < 4) throw Bad(path, ErrorIds.CorruptFile, "a block is shorter than its restart count");
        uint restarts = BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(block.Length - 4));
        long limit = block.Length - 4 - 4L * restarts;
        if (limit < 0) throw Bad(path, ErrorIds.CorruptFile, $"a block claims {restarts} restart points but has {block.Length} bytes");
        var result = new List<(byte[], byte[])>();
        var key = Array.Empty<byte>();
        int pos = 0;
        while (pos < limit)
        {
            ulong shared = Varint(path, block, ref pos), nonShared = Varint(path, block, ref pos), valueLength = Varint(path, block, ref pos);
            if (shared > (ulong)key.Length || (ulong)pos + nonShared + valueLength > (ulong)limit)
                throw Bad(path, ErrorIds.CorruptFile, "a table entry runs past its block");
            var next = new byte[(int)shared + (int)nonShared];
            key.AsSpan(0, (int)shared).CopyTo(next);
            block.AsSpan(pos, (int)nonShared).CopyTo(next.AsSpan((int)shared));
            pos += (int)nonShared;
            result.Add((next, block.AsSpan(pos, (int)valueLength).ToArray()));
            pos += (int)valueLength;
            key = next;
        }
        return result;
    }

    static ulong Varint(string path, ReadOnlySpan<byte> bytes, ref int pos)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= bytes.Length) throw Bad(path, ErrorIds.TruncatedFile, "a varint runs past the end of its block");
            byte b = bytes[pos++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
        throw Bad(path, ErrorIds.CorruptFile, "a varint is longer than 10 bytes");
    }

    static LstmPortException Bad(string path, string id, string what) =>
        new(id, $"'{path}' is not a valid TensorFlow checkpoint index: {what}.", path);
}
