using System.Buffers.Binary;
using System.Text;

namespace LstmPort.Containers;

/// <summary>
/// Writes an HDF5 file front to back without holding its data: every group, attribute and dataset
/// header comes first (their sizes do not depend on the data, so every address is known before a
/// byte is written), then each dataset's data, contiguous, in the order the datasets were added.
/// The layout is the one h5py writes by default and Keras files use: superblock version 0,
/// old-style groups (object header version 1 with a symbol table message, a version 1 B-tree of
/// symbol table nodes, a local heap of names), contiguous datasets without filters, attributes of
/// fixed-length strings. The caller streams each dataset's bytes in order through <see cref="Write"/>.
/// </summary>
public sealed class Hdf5Writer
{
    // What HDF5 and h5py use by default (superblock version 0 records them): a symbol table node holds
    // up to 2 * LeafK entries, a B-tree node up to 2 * InternalK children. Readers size nodes from these.
    const int LeafK = 4, InternalK = 16;
    const int EntrySize = 40;
    const int SnodSize = 8 + 2 * LeafK * EntrySize;
    const int BTreeSize = 24 + 2 * InternalK * 8 + (2 * InternalK + 1) * 8;
    const int SuperblockSize = 56 + EntrySize;
    const ulong Undefined = ulong.MaxValue;

    /// <summary>An element type of a dataset.</summary>
    public enum ElementType { Float16, Float32, Float64, Int8, Int16, Int32, Int64, UInt8 }

    public abstract class Node
    {
        internal readonly List<(string Name, byte[] Message)> Attributes = [];
        internal long Header;

        /// <summary>A fixed-length string attribute, null-padded to the longest item, as h5py writes numpy 'S' arrays.</summary>
        public void StringArray(string name, IReadOnlyList<string> values) => Attributes.Add((name, StringAttribute(name, values, scalar: false)));

        /// <summary>A scalar fixed-length string attribute (h5py reads it as bytes).</summary>
        public void String(string name, string value) => Attributes.Add((name, StringAttribute(name, [value], scalar: true)));

        /// <summary>A scalar variable-length UTF-8 string attribute, as h5py writes a Python str (read back as str).</summary>
        public void VariableString(Hdf5Writer file, string name, string value)
        {
            var (message, at) = VariableStringAttribute(name);
            int index = file._heapObjects.Count + 1;
            file._heapObjects.Add(Encoding.UTF8.GetBytes(value));
            BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(at), (uint)file._heapObjects[^1].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(at + 12), (uint)index);
            file._heapRefs.Add((message, at + 4));
            Attributes.Add((name, message));
        }
    }

    public sealed class Group : Node
    {
        internal readonly Dictionary<string, Node> Children = new(StringComparer.Ordinal);
        internal long Heap, HeapData, HeapSize;
        internal readonly List<long> Snods = [];
        internal readonly List<List<long>> BTreeLevels = [];
        internal List<(string Name, Node Node)> Sorted = [];

        /// <summary>The subgroup of that name, created when missing.</summary>
        public Group Subgroup(string name)
        {
            CheckName(name);
            if (Children.TryGetValue(name, out var n))
                return n as Group ?? throw new InvalidOperationException($"'{name}' is a dataset, not a group");
            var g = new Group();
            Children[name] = g;
            return g;
        }

        internal void Add(string name, Node node)
        {
            CheckName(name);
            if (!Children.TryAdd(name, node)) throw new InvalidOperationException($"'{name}' exists already");
        }
    }

    public sealed class Dataset : Node
    {
        public ElementType Type { get; }
        public long[] Shape { get; }
        public long Bytes { get; }
        internal long Data;

        internal Dataset(ElementType type, long[] shape)
        {
            Type = type;
            Shape = shape;
            Bytes = checked(shape.Aggregate(1L, (a, d) => a * d) * SizeOf(type));
        }
    }

    readonly List<Dataset> _datasets = [];
    // Variable-length strings live in one global heap collection; each attribute's reference gets its address at layout.
    readonly List<byte[]> _heapObjects = [];
    readonly List<(byte[] Message, int At)> _heapRefs = [];
    long _globalHeap, _globalHeapSize;
    public Group Root { get; } = new();

    /// <summary>Declares a dataset; its data is written, in declaration order, by <see cref="Write"/>.</summary>
    public Dataset AddDataset(Group parent, string name, ElementType type, long[] shape)
    {
        var d = new Dataset(type, shape);
        parent.Add(name, d);
        _datasets.Add(d);
        return d;
    }

    /// <summary>The file's size: metadata and data.</summary>
    public long Length { get; private set; }

    /// <summary>
    /// Writes the metadata, then asks <paramref name="fill"/> for each dataset's bytes in declaration
    /// order; it must write exactly <see cref="Dataset.Bytes"/> bytes, little-endian, row-major.
    /// </summary>
    public void Write(Stream output, Action<Dataset, Stream> fill)
    {
        var meta = Metadata();
        output.Write(meta);
        long at = meta.Length;
        foreach (var d in _datasets)
        {
            if (d.Data != at) throw new InvalidOperationException("dataset order does not match the layout");
            var counting = new CountingStream(output);
            fill(d, counting);
            if (counting.Count != d.Bytes)
                throw new InvalidOperationException($"a dataset of {d.Bytes} bytes got {counting.Count}");
            at += d.Bytes;
        }
    }

    /// <summary>Lays out every object and serialises everything but the data.</summary>
    internal byte[] Metadata()
    {
        var groups = new List<Group>();
        var sets = new List<Dataset>();
        void Collect(Group g)
        {
            groups.Add(g);
            g.Sorted = g.Children.Select(c => (c.Key, c.Value)).OrderBy(c => Encoding.UTF8.GetBytes(c.Key), ByteOrder.Instance).ToList();
            foreach (var (_, n) in g.Sorted)
                if (n is Group sub) Collect(sub);
                else sets.Add((Dataset)n);
        }
        Collect(Root);

        // Addresses: superblock, then per group its header, heap, B-tree and symbol table nodes, then dataset headers.
        long at = SuperblockSize;
        foreach (var g in groups)
        {
            g.Header = at; at += Align(GroupHeader(g).Length);
            g.Heap = at; at += 32;
            g.HeapData = at; g.HeapSize = HeapBytes(g).Length; at += g.HeapSize;
            g.Snods.Clear();
            // An empty group has a B-tree node without children, as HDF5 creates it.
            int snodCount = (g.Sorted.Count + 2 * LeafK - 1) / (2 * LeafK);
            g.BTreeLevels.Clear();
            // Nodes per level, leaves first: each holds up to 2K children.
            var counts = new List<int>();
            for (int n = snodCount; ; n = (n + 2 * InternalK - 1) / (2 * InternalK))
            {
                counts.Add(Math.Max(1, (n + 2 * InternalK - 1) / (2 * InternalK)));
                if (counts[^1] == 1) break;
            }
            // The root node (top level) first, so the symbol table message points at the start of the group's B-tree.
            for (int level = counts.Count - 1; level >= 0; level--)
            {
                var nodes = new List<long>();
                for (int i = 0; i < counts[level]; i++) { nodes.Add(at); at += BTreeSize; }
                g.BTreeLevels.Insert(0, nodes);
            }
            for (int i = 0; i < snodCount; i++) { g.Snods.Add(at); at += SnodSize; }
        }
        foreach (var d in sets) { d.Header = at; at += Align(DatasetHeader(d).Length); }
        if (_heapObjects.Count > 0)
        {
            // HDF5 reads a collection's first 4 KB before its size: a collection is at least that large.
            long used = 16 + _heapObjects.Sum(o => 16 + Align((long)o.Length));
            _globalHeap = at;
            _globalHeapSize = Math.Max(4096, used);
            at += _globalHeapSize;
            foreach (var (message, refAt) in _heapRefs) BinaryPrimitives.WriteUInt64LittleEndian(message.AsSpan(refAt), (ulong)_globalHeap);
        }
        long metaEnd = at;
        foreach (var d in _datasets) { d.Data = at; at += d.Bytes; }
        Length = at;

        var buf = new byte[metaEnd];
        Superblock(buf);
        foreach (var g in groups) WriteGroup(buf, g);
        foreach (var d in sets) DatasetHeader(d).CopyTo(buf, d.Header);
        if (_heapObjects.Count > 0) GlobalHeap(buf.AsSpan((int)_globalHeap, (int)_globalHeapSize));
        return buf;
    }

    /// <summary>A global heap collection: "GCOL", version 1, its size, the objects (index, references, size, data), then free space as object 0.</summary>
    void GlobalHeap(Span<byte> s)
    {
        "GCOL"u8.CopyTo(s);
        s[4] = 1;
        BinaryPrimitives.WriteUInt64LittleEndian(s[8..], (ulong)s.Length);
        int p = 16;
        for (int i = 0; i < _heapObjects.Count; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(s[p..], (ushort)(i + 1));
            BinaryPrimitives.WriteUInt16LittleEndian(s[(p + 2)..], 1);
            BinaryPrimitives.WriteUInt64LittleEndian(s[(p + 8)..], (ulong)_heapObjects[i].Length);
            _heapObjects[i].CopyTo(s[(p + 16)..]);
            p += 16 + Align(_heapObjects[i].Length);
        }
        // The rest is free space, object 0, whose size counts its own header (room for less than a header is free anyway).
        if (s.Length - p >= 16) BinaryPrimitives.WriteUInt64LittleEndian(s[(p + 8)..], (ulong)(s.Length - p));
    }

    /// <summary>Attribute message version 1 of a scalar variable-length UTF-8 string; returns where its 16-byte reference goes.</summary>
    static (byte[] Message, int At) VariableStringAttribute(string name)
    {
        // Variable-length (class 9) string, null-terminated, UTF-8, 16 bytes per value (length, collection, index); base type unsigned char.
        var type = new byte[20];
        type[0] = 0x19; type[1] = 0x01; type[2] = 0x01;
        BinaryPrimitives.WriteUInt32LittleEndian(type.AsSpan(4), 16);
        type[8] = 0x10; // base: version 1, fixed point, little-endian, unsigned
        BinaryPrimitives.WriteUInt32LittleEndian(type.AsSpan(12), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(type.AsSpan(18), 8);
        return AttributeMessage(name, type, Dataspace([]), 16);
    }

    /// <summary>Attribute message version 1: name, datatype and dataspace, each padded to 8 bytes; returns where the data goes.</summary>
    static (byte[] Message, int At) AttributeMessage(string name, byte[] type, byte[] space, long dataBytes)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        int nameSize = nameBytes.Length + 1;
        var b = new byte[8 + Align(nameSize) + Align(type.Length) + Align(space.Length) + dataBytes];
        b[0] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), (ushort)nameSize);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), (ushort)type.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(6), (ushort)space.Length);
        int p = 8;
        nameBytes.CopyTo(b, p); p += Align(nameSize);
        type.CopyTo(b, p); p += Align(type.Length);
        space.CopyTo(b, p); p += Align(space.Length);
        return (b, p);
    }

    void Superblock(byte[] b)
    {
        var s = b.AsSpan();
        Hdf5Signature.CopyTo(s);
        // Versions 0 (superblock, free space, root entry, reserved, shared headers), then 8-byte offsets and lengths.
        s[13] = 8; s[14] = 8;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], LeafK);
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], InternalK);
        // flags (4) zero; base address 0; no free-space info; end of file; no driver block.
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], Undefined);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], (ulong)Length);
        BinaryPrimitives.WriteUInt64LittleEndian(s[48..], Undefined);
        Entry(s[56..], 0, Root);
    }

    internal static readonly byte[] Hdf5Signature = [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>A symbol table entry: name offset, header address, and for a group the cached B-tree and heap addresses.</summary>
    static void Entry(Span<byte> s, long nameOffset, Node n)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s, (ulong)nameOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(s[8..], (ulong)n.Header);
        if (n is Group g)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[16..], 1);
            BinaryPrimitives.WriteUInt64LittleEndian(s[24..], (ulong)g.BTreeLevels[^1][0]);
            BinaryPrimitives.WriteUInt64LittleEndian(s[32..], (ulong)g.Heap);
        }
    }

    static void WriteGroup(byte[] buf, Group g)
    {
        GroupHeader(g).CopyTo(buf, g.Header);
        var s = buf.AsSpan();
        // Local heap: "HEAP", version 0, data size, free list (none: H5HL_FREE_NULL is 1), data address.
        var h = s[(int)g.Heap..];
        "HEAP"u8.CopyTo(h);
        BinaryPrimitives.WriteUInt64LittleEndian(h[8..], (ulong)g.HeapSize);
        BinaryPrimitives.WriteUInt64LittleEndian(h[16..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(h[24..], (ulong)g.HeapData);
        var heap = HeapBytes(g, out var offsets);
        heap.CopyTo(buf, g.HeapData);

        // Symbol table nodes, 2K entries each, names in byte order.
        var lastName = new List<long>();
        for (int i = 0; i < g.Snods.Count; i++)
        {
            var n = s[(int)g.Snods[i]..];
            "SNOD"u8.CopyTo(n);
            n[4] = 1;
            int first = i * 2 * LeafK, count = Math.Min(2 * LeafK, g.Sorted.Count - first);
            BinaryPrimitives.WriteUInt16LittleEndian(n[6..], (ushort)count);
            for (int j = 0; j < count; j++)
                Entry(n[(8 + j * EntrySize)..], offsets[first + j], g.Sorted[first + j].Node);
            lastName.Add(count > 0 ? offsets[first + count - 1] : 0);
        }

        // B-tree levels: level 0 points at the symbol table nodes; key i+1 is the last name below child i, key 0 the empty name.
        var children = g.Snods;
        for (int level = 0; level < g.BTreeLevels.Count; level++)
        {
            var nodes = g.BTreeLevels[level];
            var keys = new List<long>();
            for (int i = 0; i < nodes.Count; i++)
            {
                var n = s[(int)nodes[i]..];
                "TREE"u8.CopyTo(n);
                n[4] = 0; // group node
                n[5] = (byte)level;
                int first = i * 2 * InternalK, count = Math.Min(2 * InternalK, children.Count - first);
                BinaryPrimitives.WriteUInt16LittleEndian(n[6..], (ushort)count);
                BinaryPrimitives.WriteUInt64LittleEndian(n[8..], i > 0 ? (ulong)nodes[i - 1] : Undefined);
                BinaryPrimitives.WriteUInt64LittleEndian(n[16..], i + 1 < nodes.Count ? (ulong)nodes[i + 1] : Undefined);
                int p = 24;
                BinaryPrimitives.WriteUInt64LittleEndian(n[p..], first == 0 ? 0UL : (ulong)lastName[first - 1]); p += 8;
                for (int j = 0; j < count; j++)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(n[p..], (ulong)children[first + j]); p += 8;
                    BinaryPrimitives.WriteUInt64LittleEndian(n[p..], (ulong)lastName[first + j]); p += 8;
                }
                keys.Add(count > 0 ? lastName[first + count - 1] : 0);
            }
            children = nodes;
            lastName = keys;
        }
    }

    static byte[] HeapBytes(Group g) => HeapBytes(g, out _);

    /// <summary>The local heap's data: the empty name at offset 0, then each child's name, null-terminated, 8-byte aligned.</summary>
    static byte[] HeapBytes(Group g, out long[] offsets)
    {
        offsets = new long[g.Sorted.Count];
        var ms = new MemoryStream();
        ms.Write(new byte[8]);
        for (int i = 0; i < g.Sorted.Count; i++)
        {
            offsets[i] = ms.Length;
            var name = Encoding.UTF8.GetBytes(g.Sorted[i].Name);
            ms.Write(name);
            ms.Write(new byte[Align(name.Length + 1) - name.Length]);
        }
        return ms.ToArray();
    }

    static byte[] GroupHeader(Group g)
    {
        var table = new byte[16];
        if (g.BTreeLevels.Count > 0)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(table, (ulong)g.BTreeLevels[^1][0]);
            BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(8), (ulong)g.Heap);
        }
        return ObjectHeader([(0x11, table), .. g.Attributes.Select(a => (0x0C, a.Message))]);
    }

    static byte[] DatasetHeader(Dataset d)
    {
        var layout = new byte[18];
        layout[0] = 3; layout[1] = 1; // version 3, contiguous
        BinaryPrimitives.WriteUInt64LittleEndian(layout.AsSpan(2), (ulong)d.Data);
        BinaryPrimitives.WriteUInt64LittleEndian(layout.AsSpan(10), (ulong)d.Bytes);
        // Fill value message version 2: allocated early (the data is there), fill written only if set, none defined.
        byte[] fill = [2, 1, 2, 0];
        return ObjectHeader([(0x01, Dataspace(d.Shape)), (0x03, Datatype(d.Type)), (0x05, fill), (0x08, layout), .. d.Attributes.Select(a => (0x0C, a.Message))]);
    }

    /// <summary>Object header version 1: a 16-byte prefix, then messages (type, size, flags), each padded to 8 bytes.</summary>
    static byte[] ObjectHeader(IReadOnlyList<(int Type, byte[] Data)> messages)
    {
        int body = messages.Sum(m => 8 + Align(m.Data.Length));
        var b = new byte[16 + body];
        b[0] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), (ushort)messages.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), (uint)body);
        int p = 16;
        foreach (var (type, data) in messages)
        {
            if (Align(data.Length) > ushort.MaxValue) throw new InvalidOperationException("an HDF5 header message is limited to 64 KB");
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(p), (ushort)type);
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(p + 2), (ushort)Align(data.Length));
            data.CopyTo(b, p + 8);
            p += 8 + Align(data.Length);
        }
        return b;
    }

    /// <summary>Dataspace version 1: rank, no maximum sizes, then each size (rank 0: a scalar).</summary>
    static byte[] Dataspace(IReadOnlyList<long> shape)
    {
        var b = new byte[8 + 8 * shape.Count];
        b[0] = 1; b[1] = (byte)shape.Count;
        for (int i = 0; i < shape.Count; i++) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8 + 8 * i), (ulong)shape[i]);
        return b;
    }

    static int SizeOf(ElementType t) => t switch
    {
        ElementType.Float16 or ElementType.Int16 => 2,
        ElementType.Float32 or ElementType.Int32 => 4,
        ElementType.Float64 or ElementType.Int64 => 8,
        _ => 1,
    };

    /// <summary>Datatype message version 1: IEEE little-endian floats and two's complement integers, as numpy's.</summary>
    static byte[] Datatype(ElementType t)
    {
        int size = SizeOf(t);
        if (t is ElementType.Float16 or ElementType.Float32 or ElementType.Float64)
        {
            var (expLoc, expSize, mantSize, bias) = t switch
            {
                ElementType.Float16 => (10, 5, 10, 15),
                ElementType.Float32 => (23, 8, 23, 127),
                _ => (52, 11, 52, 1023),
            };
            var f = new byte[20];
            f[0] = 0x11; // version 1, class 1 (floating point)
            f[1] = 0x20; // little-endian, mantissa normalised with an implied bit
            f[2] = (byte)(size * 8 - 1); // sign bit
            BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(4), (uint)size);
            BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(8), 0);
            BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(10), (ushort)(size * 8));
            f[12] = (byte)expLoc; f[13] = (byte)expSize; f[14] = 0; f[15] = (byte)mantSize;
            BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(16), (uint)bias);
            return f;
        }
        var i = new byte[12];
        i[0] = 0x10; // version 1, class 0 (fixed point)
        i[1] = t == ElementType.UInt8 ? (byte)0 : (byte)0x08; // little-endian; signed
        BinaryPrimitives.WriteUInt32LittleEndian(i.AsSpan(4), (uint)size);
        BinaryPrimitives.WriteUInt16LittleEndian(i.AsSpan(10), (ushort)(size * 8));
        return i;
    }

    /// <summary>Attribute message version 1 holding fixed-length, null-padded strings (ASCII unless a name needs UTF-8).</summary>
    static byte[] StringAttribute(string name, IReadOnlyList<string> values, bool scalar)
    {
        var items = values.Select(Encoding.UTF8.GetBytes).ToList();
        int width = Math.Max(1, items.Count == 0 ? 1 : items.Max(v => v.Length));
        bool ascii = items.All(v => v.All(c => c < 0x80));
        var type = new byte[8];
        type[0] = 0x13; // version 1, class 3 (string)
        type[1] = (byte)(1 | (ascii ? 0 : 1 << 4)); // null-padded; ASCII or UTF-8
        BinaryPrimitives.WriteUInt32LittleEndian(type.AsSpan(4), (uint)width);
        var (b, p) = AttributeMessage(name, type, Dataspace(scalar ? [] : [items.Count]), (long)width * items.Count);
        foreach (var v in items) { v.CopyTo(b, p); p += width; }
        return b;
    }

    static void CheckName(string name)
    {
        if (name.Length == 0 || name is "." or ".." || name.Contains('/') || name.Contains('\0'))
            throw new ArgumentException($"'{name}' cannot name an HDF5 object", nameof(name));
    }

    static int Align(int n) => (n + 7) & ~7;
    static long Align(long n) => (n + 7) & ~7L;

    /// <summary>HDF5 orders a group's names as C's strcmp does: by their bytes.</summary>
    sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }

    /// <summary>Passes writes through and counts them (the caller must write each dataset's exact size).</summary>
    sealed class CountingStream(Stream inner) : Stream
    {
        public long Count;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) { inner.Write(buffer); Count += buffer.Length; }
    }
}
