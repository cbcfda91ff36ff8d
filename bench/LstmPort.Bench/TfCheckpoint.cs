using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace LstmPort.Bench;

/// <summary>
/// Writes the benchmark's model as a TF2 object-based checkpoint, as Keras <c>save_weights</c> in TF
/// format does (TensorFlow is not installed here): <c>&lt;prefix&gt;.data-00000-of-00001</c> with the raw
/// little-endian float32 tensors, streamed, and <c>&lt;prefix&gt;.index</c>, a LevelDB table (one data block,
/// no compression, a restart point at every entry, masked CRC-32C trailers, 48-byte footer) holding the
/// BundleHeaderProto under "", one BundleEntryProto per variable (with the masked CRC-32C of its data) and
/// the TrackableObjectGraph under <c>_CHECKPOINTABLE_OBJECT_GRAPH</c>: root -> layer_with_weights-N ->
/// forward_layer / backward_layer -> cell -> kernel, recurrent_kernel, bias (Bidirectional LSTM), and
/// layer_with_weights-N -> kernel, bias (Dense). Values: a seeded xorshift, uniform in [-0.05, 0.05).
/// </summary>
static class TfCheckpoint
{
    const string Value = "/.ATTRIBUTES/VARIABLE_VALUE";

    /// <summary>
    /// A SavedModel directory as Keras <c>model.save</c> in TF format makes it: the checkpoint at
    /// <c>variables/variables</c>, <c>keras_metadata.pb</c> (SavedMetadata: nodes = 1; SavedObject:
    /// node_path = 3, metadata = 5, JSON) naming the layers and giving their configs, and a
    /// <c>saved_model.pb</c> holding only its schema version (the graph is not needed to read weights).
    /// Without the metadata a checkpoint's layers are named by their object paths and take the oldest
    /// tf.keras defaults (hard_sigmoid), which ConvertTo-TorchLayout refuses without -Force.
    /// </summary>
    public static void WriteSavedModel(string dir, int units, int inputSize, int layers, ulong seed = 1234)
    {
        Directory.CreateDirectory(Path.Combine(dir, "variables"));
        Write(Path.Combine(dir, "variables", "variables"), units, inputSize, layers, seed);
        File.WriteAllBytes(Path.Combine(dir, "saved_model.pb"), Msg(m => Field(m, 1, 1)));
        File.WriteAllBytes(Path.Combine(dir, "keras_metadata.pb"), Msg(m =>
        {
            void Node(string path, string json) => Field(m, 1, Msg(n => { Field(n, 3, path); Field(n, 5, json); }));
            Node("root", """{"name": "sequential", "class_name": "Sequential", "keras_version": "2.11.0"}""");
            for (int l = 0; l < layers; l++)
            {
                var name = l == 0 ? "bidirectional" : $"bidirectional_{l}";
                var lstm = l == 0 ? "lstm" : $"lstm_{l}";
                Node($"root.layer_with_weights-{l}", "{\"name\": \"" + name + "\", \"class_name\": \"Bidirectional\", \"config\": {\"name\": \"" + name + "\", \"merge_mode\": \"concat\", " +
                    "\"layer\": {\"class_name\": \"LSTM\", \"config\": {\"name\": \"" + lstm + "\", \"units\": " + units + ", \"activation\": \"tanh\", \"recurrent_activation\": \"sigmoid\", \"use_bias\": true, \"return_sequences\": true}}}}");
            }
            Node($"root.layer_with_weights-{layers}", """{"name": "dense", "class_name": "Dense", "config": {"name": "dense", "units": 1, "activation": "linear", "use_bias": true}}""");
        }));
    }

    public static void Write(string prefix, int units, int inputSize, int layers, ulong seed = 1234)
    {
        int h = units;
        var variables = new List<(string Key, long[] Shape)>();
        for (int l = 0; l < layers; l++)
        {
            int input = l == 0 ? inputSize : 2 * h;
            foreach (var half in new[] { "forward_layer", "backward_layer" })
            {
                var cell = $"layer_with_weights-{l}/{half}/cell";
                variables.Add(($"{cell}/kernel", [input, 4 * h]));
                variables.Add(($"{cell}/recurrent_kernel", [h, 4 * h]));
                variables.Add(($"{cell}/bias", [4 * h]));
            }
        }
        variables.Add(($"layer_with_weights-{layers}/kernel", [2 * h, 1]));
        variables.Add(($"layer_with_weights-{layers}/bias", [1]));

        var entries = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        ulong state = seed | 1;
        using (var data = new FileStream(prefix + ".data-00000-of-00001", FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var buffer = new byte[1 << 22];
            foreach (var (key, shape) in variables)
            {
                long count = shape.Aggregate(1L, (a, b) => a * b), offset = data.Position;
                uint crc = 0;
                for (long done = 0; done < count;)
                {
                    int n = (int)Math.Min(count - done, buffer.Length / 4);
                    for (int i = 0; i < n; i++)
                    {
                        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                        BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * i), (float)((state >> 40) / (double)(1UL << 24) - 0.5) * 0.1f);
                    }
                    crc = Crc32C(crc, buffer.AsSpan(0, 4 * n));
                    data.Write(buffer, 0, 4 * n);
                    done += n;
                }
                entries[key + Value] = Entry(1, shape, offset, 4 * count, Mask(crc));
            }
            // The object graph as a scalar DT_STRING: varint length, masked CRC-32C of the length as uint32, bytes.
            var graph = ObjectGraph(variables.Select(v => v.Key).ToList());
            var lengthBytes = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(lengthBytes, (uint)graph.Length);
            uint lengthCrc = Crc32C(0, lengthBytes);
            var maskedLength = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(maskedLength, Mask(lengthCrc));
            var scalar = new MemoryStream();
            Varint(scalar, (ulong)graph.Length);
            scalar.Write(maskedLength);
            scalar.Write(graph);
            long stringOffset = data.Position;
            data.Write(scalar.ToArray());
            entries["_CHECKPOINTABLE_OBJECT_GRAPH"] = Entry(7, [], stringOffset, scalar.Length, Mask(Crc32C(Crc32C(lengthCrc, maskedLength), graph)));
        }
        // BundleHeaderProto: num_shards = 1, endianness = 2 (little), version = 3 (producer = 1).
        entries[""] = Msg(m => { Field(m, 1, 1); Field(m, 2, 0); Field(m, 3, Msg(v => Field(v, 1, 1))); });
        File.WriteAllBytes(prefix + ".index", Table(entries));
    }

    /// <summary>BundleEntryProto: dtype = 1, shape = 2 (dim = 2: size = 1), shard_id = 3, offset = 4, size = 5, crc32c = 6 (fixed32).</summary>
    static byte[] Entry(int dtype, long[] shape, long offset, long size, uint maskedCrc) => Msg(m =>
    {
        Field(m, 1, (ulong)dtype);
        Field(m, 2, Msg(s => { foreach (var d in shape) Field(s, 2, Msg(x => Field(x, 1, (ulong)d))); }));
        if (offset != 0) Field(m, 4, (ulong)offset);
        Field(m, 5, (ulong)size);
        Varint(m, (6 << 3) | 5);
        Span<byte> c = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(c, maskedCrc);
        m.Write(c);
    });

    /// <summary>TrackableObjectGraph: nodes = 1; TrackableObject: children = 1 (node_id = 1, local_name = 2), attributes = 2 (name = 1, full_name = 2, checkpoint_key = 3).</summary>
    static byte[] ObjectGraph(List<string> variables)
    {
        var nodes = new List<(List<(int Id, string Name)> Children, string? Key)> { ([], null) };
        var byPath = new Dictionary<string, int>(StringComparer.Ordinal) { [""] = 0 };
        foreach (var v in variables)
        {
            var parts = v.Split('/');
            for (int i = 0; i < parts.Length; i++)
            {
                var path = string.Join('/', parts[..(i + 1)]);
                if (byPath.ContainsKey(path)) continue;
                nodes.Add(([], i == parts.Length - 1 ? v + Value : null));
                byPath[path] = nodes.Count - 1;
                nodes[byPath[string.Join('/', parts[..i])]].Children.Add((nodes.Count - 1, parts[i]));
            }
        }
        return Msg(g =>
        {
            foreach (var (children, key) in nodes)
                Field(g, 1, Msg(n =>
                {
                    foreach (var (id, name) in children) Field(n, 1, Msg(r => { Field(r, 1, (ulong)id); Field(r, 2, name); }));
                    if (key is not null) Field(n, 2, Msg(a => { Field(a, 1, "VARIABLE_VALUE"); Field(a, 2, key.Split('/')[^3]); Field(a, 3, key); }));
                }));
        });
    }

    /// <summary>A LevelDB table: one data block (every entry a restart point), the index block, an empty metaindex block, the footer.</summary>
    static byte[] Table(SortedDictionary<string, byte[]> entries)
    {
        var file = new MemoryStream();
        var dataBlock = Block(entries.Select(e => (Encoding.UTF8.GetBytes(e.Key), e.Value)).ToList());
        var dataHandle = WriteBlock(file, dataBlock);
        var metaHandle = WriteBlock(file, Block([]));
        // The index's key for a block is at least its last key: the last key itself.
        var indexHandle = WriteBlock(file, Block([(Encoding.UTF8.GetBytes(entries.Keys.Last()), dataHandle)]));
        var footer = new MemoryStream();
        footer.Write(metaHandle);
        footer.Write(indexHandle);
        footer.SetLength(40);
        footer.Position = 40;
        Span<byte> magic = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(magic, 0xdb4775248b80fb57UL);
        footer.Write(magic);
        file.Write(footer.ToArray());
        return file.ToArray();
    }

    static byte[] Block(List<(byte[] Key, byte[] Value)> entries)
    {
        var b = new MemoryStream();
        var restarts = new List<uint>();
        foreach (var (key, value) in entries)
        {
            restarts.Add((uint)b.Position);
            Varint(b, 0); Varint(b, (ulong)key.Length); Varint(b, (ulong)value.Length);
            b.Write(key); b.Write(value);
        }
        if (restarts.Count == 0) restarts.Add(0);
        Span<byte> u = stackalloc byte[4];
        foreach (var r in restarts) { BinaryPrimitives.WriteUInt32LittleEndian(u, r); b.Write(u); }
        BinaryPrimitives.WriteUInt32LittleEndian(u, (uint)restarts.Count); b.Write(u);
        return b.ToArray();
    }

    static byte[] WriteBlock(MemoryStream file, byte[] block)
    {
        long offset = file.Position;
        file.Write(block);
        file.WriteByte(0); // no compression
        Span<byte> u = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(u, Mask(Crc32C(Crc32C(0, block), [0])));
        file.Write(u);
        var handle = new MemoryStream();
        Varint(handle, (ulong)offset); Varint(handle, (ulong)block.Length);
        return handle.ToArray();
    }

    static uint Crc32C(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) c = BitOperations.Crc32C(c, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) c = BitOperations.Crc32C(c, data[i]);
        return ~c;
    }

    static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;

    static byte[] Msg(Action<MemoryStream> write) { var m = new MemoryStream(); write(m); return m.ToArray(); }
    static void Field(MemoryStream m, int number, ulong value) { Varint(m, (ulong)(number << 3)); Varint(m, value); }
    static void Field(MemoryStream m, int number, string value) => Field(m, number, Encoding.UTF8.GetBytes(value));
    static void Field(MemoryStream m, int number, byte[] value) { Varint(m, (ulong)(number << 3 | 2)); Varint(m, (ulong)value.Length); m.Write(value); }

    static void Varint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }
}
