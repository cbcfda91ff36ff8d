using System.Text;
using LstmPort.Fuzz.Formats;

namespace LstmPort.Fuzz.Seeds;

/// <summary>
/// Writes HDF5 files the way h5py does by default (the layout most real Keras .h5 files have):
/// superblock version 0, version-1 object headers without checksums, old-style groups (a symbol
/// table: a v1 B-tree node, a symbol table node and a local heap of names), contiguous float32
/// datasets, fixed-length string attributes. Written from the format specification so the suite
/// has old-style seeds without Python; PureHDF only writes the new style.
/// </summary>
public sealed class OldStyleHdf5
{
    public abstract record Node(string Name)
    {
        public List<(string Name, object Value)> Attributes { get; } = [];
    }
    public sealed record Group(string Name, params Node[] Children) : Node(Name);
    public sealed record Dataset(string Name, int[] Shape, float[] Values) : Node(Name);

    const int O = 8, L = 8;
    const ulong Undefined = ulong.MaxValue;
    readonly MemoryStream _file = new();

    /// <summary>The file for a root group: its children and attributes (string or string[] values).</summary>
    public static byte[] Write(Group root)
    {
        var w = new OldStyleHdf5();
        w._file.Write(new byte[96]); // the superblock, written last
        var (header, tree, heap) = w.WriteGroup(root);
        var file = w._file.ToArray();
        var s = new BinaryWriter(new MemoryStream(file));
        s.Write(H5Map.Signature);
        s.Write((byte)0); s.Write((byte)0); s.Write((byte)0); s.Write((byte)0); s.Write((byte)0);
        s.Write((byte)O); s.Write((byte)L); s.Write((byte)0);
        s.Write((ushort)4); s.Write((ushort)16); s.Write(0u);
        s.Write(0UL); s.Write(Undefined); s.Write((ulong)file.Length); s.Write(Undefined);
        // The root's symbol table entry, with the B-tree and heap cached in its scratch pad.
        s.Write(0UL); s.Write((ulong)header); s.Write(1u); s.Write(0u); s.Write((ulong)tree); s.Write((ulong)heap);
        return file;
    }

    long Here => _file.Position;

    void Align()
    {
        while (_file.Position % 8 != 0) _file.WriteByte(0);
    }

    static byte[] Pad(byte[] b) => b.Length % 8 == 0 ? b : [.. b, .. new byte[8 - b.Length % 8]];

    /// <summary>Writes the children, then the group's heap, symbol table node, B-tree node and object header; returns their addresses.</summary>
    (long Header, long Tree, long Heap) WriteGroup(Group g)
    {
        var entries = new List<(string Name, long Header, long Tree, long Heap)>();
        foreach (var child in g.Children)
        {
            if (child is Group cg) { var (h, t, hp) = WriteGroup(cg); entries.Add((cg.Name, h, t, hp)); }
            else entries.Add((child.Name, WriteDataset((Dataset)child), -1, -1));
        }
        if (entries.Count > 8) throw new ArgumentException("a group of this writer holds at most 8 links (one symbol table node)");
        // Symbol table nodes list their entries in name order; lookups rely on it.
        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));

        // Local heap: "" at offset 0, then each name, NUL-terminated and padded to 8 bytes.
        var heapData = new MemoryStream();
        heapData.Write(new byte[8]);
        var offsets = new List<long>();
        foreach (var e in entries)
        {
            offsets.Add(heapData.Position);
            heapData.Write(Pad([.. Encoding.UTF8.GetBytes(e.Name), 0]));
        }
        // Room for a few more names, as the HDF5 library leaves: a free block at the end.
        long freeAt = heapData.Position;
        heapData.Write(new byte[32]);
        var heapBytes = heapData.ToArray();
        // A free block starts with the offset of the next free block (1 = none) and its size.
        Bytes.Write(heapBytes, freeAt, 8, 1);
        Bytes.Write(heapBytes, freeAt + 8, 8, 32);
        Align();
        long heapDataAt = Here;
        _file.Write(heapBytes);
        long heapAt = Here;
        var w = new BinaryWriter(_file, Encoding.UTF8, leaveOpen: true);
        w.Write("HEAP"u8); w.Write((byte)0); w.Write(new byte[3]);
        w.Write((ulong)heapBytes.Length); w.Write((ulong)freeAt); w.Write((ulong)heapDataAt);

        long snodAt = Here;
        w.Write("SNOD"u8); w.Write((byte)1); w.Write((byte)0); w.Write((ushort)entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            w.Write((ulong)offsets[i]); w.Write((ulong)e.Header);
            if (e.Tree >= 0) { w.Write(1u); w.Write(0u); w.Write((ulong)e.Tree); w.Write((ulong)e.Heap); }
            else { w.Write(0u); w.Write(0u); w.Write(new byte[16]); }
        }
        // The node has room for 2K = 8 entries; the unused ones are zero.
        w.Write(new byte[(8 - entries.Count) * (2 * O + 24)]);

        long treeAt = Here;
        w.Write("TREE"u8); w.Write((byte)0); w.Write((byte)0); w.Write((ushort)(entries.Count == 0 ? 0 : 1));
        w.Write(Undefined); w.Write(Undefined);
        // key 0 (the empty name), child 0 (the symbol node), key 1 (the last name in it).
        w.Write(0UL); w.Write((ulong)snodAt); w.Write((ulong)(offsets.Count > 0 ? offsets[^1] : 0));
        // A node has room for 2K children (K = 16, the superblock's internal node K): readers load the whole node.
        w.Write(new byte[31 * (L + O)]);

        var messages = new List<(int Type, byte[] Body)>();
        var symbolTable = new byte[16];
        Bytes.Write(symbolTable, 0, 8, (ulong)treeAt);
        Bytes.Write(symbolTable, 8, 8, (ulong)heapAt);
        messages.Add((0x11, symbolTable));
        messages.AddRange(g.Attributes.Select(a => (0x0C, Attribute(a.Name, a.Value))));
        return (WriteHeader(messages), treeAt, heapAt);
    }

    long WriteDataset(Dataset d)
    {
        Align();
        long dataAt = Here;
        var raw = new byte[d.Values.Length * 4];
        Buffer.BlockCopy(d.Values, 0, raw, 0, raw.Length);
        _file.Write(raw);
        var layout = new byte[18];
        layout[0] = 3; layout[1] = 1;
        Bytes.Write(layout, 2, 8, (ulong)dataAt);
        Bytes.Write(layout, 10, 8, (ulong)raw.Length);
        var messages = new List<(int, byte[])>
        {
            (0x01, Dataspace(d.Shape.Select(x => (ulong)x).ToArray())),
            (0x03, Float32()),
            (0x05, [2, 2, 2, 0]), // fill value message v2: late allocation, fill if set, none defined
            (0x08, layout),
        };
        messages.AddRange(d.Attributes.Select(a => ((int)0x0C, Attribute(a.Name, a.Value))));
        return WriteHeader(messages);
    }

    long WriteHeader(List<(int Type, byte[] Body)> messages)
    {
        Align();
        long at = Here;
        var bodies = messages.Select(m => Pad(m.Body)).ToList();
        var w = new BinaryWriter(_file, Encoding.UTF8, leaveOpen: true);
        w.Write((byte)1); w.Write((byte)0); w.Write((ushort)messages.Count); w.Write(1u);
        w.Write((uint)bodies.Sum(b => 8 + b.Length)); w.Write(0u);
        for (int i = 0; i < messages.Count; i++)
        {
            w.Write((ushort)messages[i].Type); w.Write((ushort)bodies[i].Length); w.Write((byte)0); w.Write(new byte[3]);
            w.Write(bodies[i]);
        }
        return at;
    }

    /// <summary>Dataspace message version 1: rank, no max dims; rank 0 is a scalar.</summary>
    static byte[] Dataspace(ulong[] dims)
    {
        var b = new byte[8 + 8 * dims.Length];
        b[0] = 1; b[1] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) Bytes.Write(b, 8 + 8 * i, 8, dims[i]);
        return b;
    }

    /// <summary>IEEE little-endian float32: class 1, version 1, mantissa normalised, sign at bit 31.</summary>
    static byte[] Float32() =>
        [0x11, 0x20, 0x1F, 0x00, 4, 0, 0, 0, /* offset */ 0, 0, /* precision */ 32, 0, /* exponent */ 23, 8, /* mantissa */ 0, 23, /* bias */ 127, 0, 0, 0];

    /// <summary>A fixed-length NUL-padded ASCII string type of <paramref name="width"/> bytes (as h5py writes numpy 'S' strings).</summary>
    static byte[] FixedString(int width)
    {
        var b = new byte[8];
        b[0] = 0x13; b[1] = 0x01;
        Bytes.Write(b, 4, 4, (ulong)width);
        return b;
    }

    /// <summary>Attribute message version 1: a string (scalar) or string[] (one-dimensional), fixed width.</summary>
    static byte[] Attribute(string name, object value)
    {
        var strings = value as string[] ?? [(string)value];
        int width = Math.Max(1, strings.Max(s => Encoding.UTF8.GetByteCount(s)));
        var type = FixedString(width);
        var space = value is string[] ? Dataspace([(ulong)strings.Length]) : Dataspace([]);
        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write((byte)1); w.Write((byte)0); w.Write((ushort)nameBytes.Length); w.Write((ushort)type.Length); w.Write((ushort)space.Length);
        w.Write(Pad(nameBytes)); w.Write(Pad(type)); w.Write(Pad(space));
        foreach (var s in strings)
        {
            var b = new byte[width];
            Encoding.UTF8.GetBytes(s).CopyTo(b, 0);
            w.Write(b);
        }
        return ms.ToArray();
    }
}
