using System.Buffers.Binary;
using LstmPort.Fuzz.Formats;

namespace LstmPort.Fuzz.Seeds;

/// <summary>
/// Writes TensorFlow V2 checkpoints from the published format (TensorFlow is not installable here):
/// data shards of raw little-endian tensors, and an .index SSTable (LevelDB block format with
/// prefix-compressed keys, restart points every 4 entries, optional snappy blocks, masked CRC-32C
/// trailers, 48-byte footer) holding a BundleHeaderProto under "" and one BundleEntryProto per key.
/// Used by the TensorFlow tests and as the fuzz suite's checkpoint seeds.
/// </summary>
public sealed class TfCheckpointWriter
{
    public sealed record Variable(string Name, long[] Shape, float[] Values, int Shard = 0);

    public bool Snappy { get; init; }
    public int Shards { get; init; } = 1;
    /// <summary>Entries per data block (small, so that several blocks and an index with several handles are exercised).</summary>
    public int EntriesPerBlock { get; init; } = 3;
    /// <summary>Extra raw entries (key to encoded value) for hand-made damage.</summary>
    public Dictionary<string, byte[]> RawEntries { get; } = [];
    /// <summary>String scalars (e.g. the object graph), written with TF's length-checksum layout.</summary>
    public Dictionary<string, byte[]> Strings { get; } = [];

    public void Write(string prefix, IEnumerable<Variable> variables)
    {
        foreach (var (suffix, bytes) in Files(variables))
            File.WriteAllBytes(prefix + suffix, bytes);
    }

    /// <summary>The checkpoint's files by suffix (".index", ".data-00000-of-00001", ...).</summary>
    public Dictionary<string, byte[]> Files(IEnumerable<Variable> variables)
    {
        var entries = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var shards = Enumerable.Range(0, Shards).Select(_ => new MemoryStream()).ToArray();
        foreach (var v in variables)
        {
            var bytes = new byte[v.Values.Length * 4];
            for (int i = 0; i < v.Values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), v.Values[i]);
            var shard = shards[v.Shard];
            entries[v.Name] = Entry(1, v.Shape, v.Shard, shard.Position, bytes.Length, Checksums.Mask(Checksums.Crc32C(bytes)));
            shard.Write(bytes);
        }
        foreach (var (key, value) in Strings.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var shard = shards[0];
            var (data, crc) = ScalarString(value);
            entries[key] = Entry(7, [], 0, shard.Position, data.Length, crc);
            shard.Write(data);
        }
        foreach (var (k, v) in RawEntries) entries[k] = v;
        entries[""] = Header(Shards);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        for (int i = 0; i < Shards; i++) files[$".data-{i:D5}-of-{Shards:D5}"] = shards[i].ToArray();
        files[".index"] = SsTable.Write(entries, new SsTable.WriteOptions { Snappy = Snappy, EntriesPerBlock = EntriesPerBlock });
        return files;
    }

    /// <summary>A scalar string tensor as TF stores it: varint length, masked CRC-32C of the length as a uint32, the bytes; and the entry's masked CRC.</summary>
    public static (byte[] Data, uint MaskedCrc) ScalarString(byte[] value)
    {
        var data = new MemoryStream();
        Bytes.Varint(data, (ulong)value.Length);
        var fixedLen = BitConverter.GetBytes((uint)value.Length);
        uint lengthCrc = Checksums.Crc32C(fixedLen);
        var masked = BitConverter.GetBytes(Checksums.Mask(lengthCrc));
        data.Write(masked);
        data.Write(value);
        uint crc = Checksums.Crc32C(value, Checksums.Crc32C(masked, lengthCrc));
        return (data.ToArray(), Checksums.Mask(crc));
    }

    public static byte[] Entry(int dtype, long[] shape, int shard, long offset, long size, uint maskedCrc) =>
        EntryMessage(dtype, shape, shard, offset, size, maskedCrc).ToBytes();

    /// <summary>BundleEntryProto: dtype = 1, shape = 2, shard_id = 3, offset = 4, size = 5, crc32c = 6 (fixed32).</summary>
    public static ProtoMessage EntryMessage(int dtype, long[] shape, int shard, long offset, long size, uint maskedCrc)
    {
        var m = new ProtoMessage().Varint(1, (ulong)dtype).Message(2, Shape(shape));
        if (shard != 0) m.Varint(3, (ulong)shard);
        if (offset != 0) m.Varint(4, (ulong)offset);
        return m.Varint(5, (ulong)size).Fixed32(6, maskedCrc);
    }

    /// <summary>TensorShapeProto: dim = 2 (size = 1).</summary>
    public static ProtoMessage Shape(long[] dims)
    {
        var m = new ProtoMessage();
        foreach (var d in dims) m.Message(2, new ProtoMessage().Varint(1, (ulong)d));
        return m;
    }

    /// <summary>BundleHeaderProto: num_shards = 1, endianness = 2 (0 little), version = 3 (producer = 1).</summary>
    static byte[] Header(int shards) =>
        new ProtoMessage().Varint(1, (ulong)shards).Varint(2, 0).Message(3, new ProtoMessage().Varint(1, 1)).ToBytes();
}
