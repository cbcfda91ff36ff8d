using System.Buffers.Binary;
using Google.Protobuf;
using LstmPort.Containers;

namespace LstmPort.Tests;

/// <summary>
/// Writes TensorFlow V2 checkpoints from the published format (TensorFlow is not installable here):
/// data shards of raw little-endian tensors, and an .index SSTable (LevelDB block format with
/// prefix-compressed keys, restart points every 4 entries, optional snappy blocks, masked CRC-32C
/// trailers, 48-byte footer) holding a BundleHeaderProto under "" and one BundleEntryProto per key.
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
        var entries = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var shards = Enumerable.Range(0, Shards).Select(_ => new MemoryStream()).ToArray();
        foreach (var v in variables)
        {
            var bytes = new byte[v.Values.Length * 4];
            for (int i = 0; i < v.Values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), v.Values[i]);
            var shard = shards[v.Shard];
            entries[v.Name] = Entry(1, v.Shape, v.Shard, shard.Position, bytes.Length, Crc32C.Mask(Crc32C.Value(bytes)));
            shard.Write(bytes);
        }
        foreach (var (key, value) in Strings)
        {
            var shard = shards[0];
            var data = new MemoryStream();
            var lengths = new MemoryStream();
            var co = new CodedOutputStream(lengths);
            co.WriteUInt64((ulong)value.Length);
            co.Flush();
            data.Write(lengths.ToArray());
            var fixedLen = BitConverter.GetBytes((uint)value.Length);
            uint lengthCrc = Crc32C.Value(fixedLen);
            var masked = BitConverter.GetBytes(Crc32C.Mask(lengthCrc));
            data.Write(masked);
            data.Write(value);
            uint crc = Crc32C.Extend(Crc32C.Extend(lengthCrc, masked), value);
            entries[key] = Entry(7, [], 0, shard.Position, data.Length, Crc32C.Mask(crc));
            shard.Write(data.ToArray());
        }
        foreach (var (k, v) in RawEntries) entries[k] = v;
        entries[""] = Header(Shards);
        for (int i = 0; i < Shards; i++) File.WriteAllBytes($"{prefix}.data-{i:D5}-of-{Shards:D5}", shards[i].ToArray());
        File.WriteAllBytes(prefix + ".index", Table(entries.ToList()));
    }

    public static byte[] Entry(int dtype, long[] shape, int shard, long offset, long size, uint maskedCrc)
    {
        var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        o.WriteTag(1, WireFormat.WireType.Varint); o.WriteEnum(dtype);
        o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(Shape(shape)));
        if (shard != 0) { o.WriteTag(3, WireFormat.WireType.Varint); o.WriteInt32(shard); }
        if (offset != 0) { o.WriteTag(4, WireFormat.WireType.Varint); o.WriteInt64(offset); }
        o.WriteTag(5, WireFormat.WireType.Varint); o.WriteInt64(size);
        o.WriteTag(6, WireFormat.WireType.Fixed32); o.WriteFixed32(maskedCrc);
        o.Flush();
        return ms.ToArray();
    }

    static byte[] Shape(long[] dims)
    {
        var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        foreach (var d in dims)
        {
            var dim = new MemoryStream();
            var od = new CodedOutputStream(dim);
            od.WriteTag(1, WireFormat.WireType.Varint); od.WriteInt64(d);
            od.Flush();
            o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(dim.ToArray()));
        }
        o.Flush();
        return ms.ToArray();
    }

    static byte[] Header(int shards)
    {
        var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt32(shards);
        o.WriteTag(2, WireFormat.WireType.Varint); o.WriteEnum(0);
        o.Flush();
        return ms.ToArray();
    }

    byte[] Table(List<KeyValuePair<string, byte[]>> entries)
    {
        var file = new MemoryStream();
        var index = new List<KeyValuePair<string, byte[]>>();
        for (int i = 0; i < entries.Count; i += EntriesPerBlock)
        {
            var chunk = entries.Skip(i).Take(EntriesPerBlock).ToList();
            var handle = WriteBlock(file, BlockBytes(chunk));
            index.Add(new(chunk[^1].Key, handle));
        }
        var meta = WriteBlock(file, BlockBytes([]));
        var indexHandle = WriteBlock(file, BlockBytes(index));
        var footer = new byte[48];
        meta.CopyTo(footer, 0);
        indexHandle.CopyTo(footer, meta.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(40), 0xdb4775248b80fb57UL);
        file.Write(footer);
        return file.ToArray();
    }

    byte[] WriteBlock(MemoryStream file, byte[] contents)
    {
        long offset = file.Position;
        byte type = 0;
        if (Snappy) { contents = Snappier.Snappy.CompressToArray(contents); type = 1; }
        file.Write(contents);
        file.WriteByte(type);
        uint crc = Crc32C.Extend(Crc32C.Value(contents), [type]);
        Span<byte> c = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(c, Crc32C.Mask(crc));
        file.Write(c);
        var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        o.WriteUInt64((ulong)offset); o.WriteUInt64((ulong)contents.Length);
        o.Flush();
        return ms.ToArray();
    }

    static byte[] BlockBytes(List<KeyValuePair<string, byte[]>> entries)
    {
        var ms = new MemoryStream();
        void Varint(ulong v) { while (v >= 0x80) { ms.WriteByte((byte)(v | 0x80)); v >>= 7; } ms.WriteByte((byte)v); }
        var restarts = new List<uint>();
        byte[] last = [];
        for (int i = 0; i < entries.Count; i++)
        {
            var key = System.Text.Encoding.UTF8.GetBytes(entries[i].Key);
            int shared = 0;
            if (i % 4 == 0) restarts.Add((uint)ms.Position);
            else while (shared < last.Length && shared < key.Length && last[shared] == key[shared]) shared++;
            Varint((ulong)shared); Varint((ulong)(key.Length - shared)); Varint((ulong)entries[i].Value.Length);
            ms.Write(key, shared, key.Length - shared);
            ms.Write(entries[i].Value);
            last = key;
        }
        if (restarts.Count == 0) restarts.Add(0);
        Span<byte> u = stackalloc byte[4];
        foreach (var r in restarts) { BinaryPrimitives.WriteUInt32LittleEndian(u, r); ms.Write(u); }
        BinaryPrimitives.WriteUInt32LittleEndian(u, (uint)restarts.Count); ms.Write(u);
        return ms.ToArray();
    }
}
