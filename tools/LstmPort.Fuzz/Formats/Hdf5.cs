using System.Text;

namespace LstmPort.Fuzz.Formats;

public enum H5Kind { Address, Length, Count, Dimension, Byte, Size32 }

/// <summary>An integer field of an HDF5 file: where, how wide, what it means, and the structure it belongs to.</summary>
public sealed record H5Field(long Offset, int Width, H5Kind Kind, string Name, long Owner);

/// <summary>A checksummed region (superblock v2+, OHDR, OCHK): lookup3 over [Start, Start+Length), stored right after.</summary>
public sealed record H5Chunk(long Start, long Length);

/// <summary>One object header message: its header's address and version, where its header and body are, type and size.</summary>
public sealed record H5Message(long Header, int Version, long At, long Body, int Size, int Type, H5Chunk? Chunk, bool CreationOrder);

/// <summary>A link message (new-style group): the group's header, the message, the name, type (0 hard, 1 soft, 64 external) and, for a hard link, where its address is.</summary>
public sealed record H5Link(long Group, H5Message Message, string Name, int LinkType, long AddressAt);

/// <summary>An entry of an old-style group (symbol table node): the group's header, where the entry is, its name and its heap.</summary>
public sealed record H5Entry(long Group, long At, long NameOffset, string Name, long HeapData, long HeapSize);

/// <summary>A v1 B-tree node: where, its node type and level, and where each child pointer is.</summary>
public sealed record H5TreeNode(long At, int Type, int Level, List<long> ChildFields, long RightSiblingAt);

/// <summary>
/// A map of an HDF5 file written from the format specification (superblocks 0 to 3, object headers
/// 1 and 2, symbol tables with v1 B-trees and local heaps, link messages): every integer field found,
/// the checksummed chunks, object headers, messages, links and group entries. Built by walking from
/// the root; every structure is visited once, so a file that already loops is mapped, not followed
/// forever; a damaged part is skipped.
/// </summary>
public sealed class H5Map
{
    public byte[] Data { get; }
    public int O { get; private set; } = 8;
    public int L { get; private set; } = 8;
    public int SuperVersion { get; private set; } = -1;
    public long Superblock { get; private set; }
    public long Base { get; private set; }
    public long RootHeader { get; private set; } = -1;
    /// <summary>Where the superblock's end-of-file address is (-1: none).</summary>
    public long EofAt { get; private set; } = -1;
    public List<H5Field> Fields { get; } = [];
    public List<H5Chunk> Chunks { get; } = [];
    public Dictionary<long, int> Headers { get; } = [];
    /// <summary>The path an object header was first reached by.</summary>
    public Dictionary<long, string> HeaderPaths { get; } = [];
    public List<H5Message> Messages { get; } = [];
    public List<H5Link> Links { get; } = [];
    public List<H5Entry> Entries { get; } = [];
    public List<H5TreeNode> TreeNodes { get; } = [];
    /// <summary>Local heaps: where the header is, data address (file offset), data size, free list head.</summary>
    public List<(long At, long Data, long Size, long FreeHead)> Heaps { get; } = [];

    readonly HashSet<(string, long)> _seen = [];
    readonly Queue<Action> _work = new();

    H5Map(byte[] data) => Data = data;

    public static readonly byte[] Signature = [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>HDF5's undefined address: all bits set.</summary>
    public static ulong Undefined(int width) => width >= 8 ? ulong.MaxValue : (1UL << (8 * width)) - 1;

    public static bool IsHdf5(byte[] data) => data.AsSpan().StartsWith(Signature);

    /// <summary>The map, or null when there is no HDF5 superblock at 0, 512, 1024, ...</summary>
    public static H5Map? Parse(byte[] data)
    {
        var map = new H5Map(data);
        for (long at = 0; at + 8 <= data.Length && at <= 1 << 20; at = at == 0 ? 512 : at * 2)
            if (data.AsSpan((int)at).StartsWith(Signature)) { map.Superblock = at; break; }
            else if (at > 0 && at + 8 > data.Length) return null;
        if (!data.AsSpan((int)map.Superblock).StartsWith(Signature)) return null;
        try { map.ReadSuperblock(); }
        catch (Stop) { return map.SuperVersion < 0 ? null : map; }
        int budget = 20000;
        while (map._work.Count > 0 && budget-- > 0)
        {
            try { map._work.Dequeue()(); }
            catch (Stop) { }
        }
        return map;
    }

    sealed class Stop : Exception;

    // ---- reading with bounds ----

    void Need(long at, long n) { if (at < 0 || n < 0 || at + n > Data.LongLength) throw new Stop(); }
    ulong U(long at, int w) { Need(at, w); return Bytes.Read(Data, at, w); }
    long Addr(long at) { ulong v = U(at, O); return v == Undefined(O) ? -1 : (long)v + Base; }
    bool Sig(long at, string s) { Need(at, s.Length); return Encoding.ASCII.GetString(Data, (int)at, s.Length) == s; }
    void F(long at, int w, H5Kind k, string name, long owner) { if (at >= 0 && at + w <= Data.LongLength) Fields.Add(new H5Field(at, w, k, name, owner)); }
    bool First(string kind, long at) => at >= 0 && at < Data.LongLength && _seen.Add((kind, at));

    string CString(long at, int max = 1024)
    {
        if (at < 0 || at >= Data.LongLength) return "";
        int end = (int)Math.Min(Data.LongLength, at + max);
        int nul = Array.IndexOf(Data, (byte)0, (int)at, end - (int)at);
        return Encoding.UTF8.GetString(Data, (int)at, (nul < 0 ? end : nul) - (int)at);
    }

    // ---- superblock ----

    void ReadSuperblock()
    {
        long s = Superblock;
        SuperVersion = (int)U(s + 8, 1);
        F(s + 8, 1, H5Kind.Byte, "superblock version", s);
        if (SuperVersion is 0 or 1)
        {
            O = (int)U(s + 13, 1); L = (int)U(s + 14, 1);
            if (O is not (2 or 4 or 8) || L is not (2 or 4 or 8)) throw new Stop();
            F(s + 13, 1, H5Kind.Byte, "superblock: size of offsets", s);
            F(s + 14, 1, H5Kind.Byte, "superblock: size of lengths", s);
            F(s + 16, 2, H5Kind.Count, "superblock: group leaf node K", s);
            F(s + 18, 2, H5Kind.Count, "superblock: group internal node K", s);
            long p = s + 24;
            if (SuperVersion == 1) { F(s + 24, 2, H5Kind.Count, "superblock: indexed storage K", s); p = s + 28; }
            Base = (long)U(p, O);
            F(p, O, H5Kind.Address, "superblock: base address", s);
            F(p + O, O, H5Kind.Address, "superblock: free-space address", s);
            EofAt = p + 2 * O;
            F(p + 2 * O, O, H5Kind.Address, "superblock: end-of-file address", s);
            F(p + 3 * O, O, H5Kind.Address, "superblock: driver info address", s);
            long entry = p + 4 * O;
            F(entry, O, H5Kind.Length, "root entry: name offset", s);
            F(entry + O, O, H5Kind.Address, "root entry: object header address", s);
            F(entry + 2 * O, 4, H5Kind.Size32, "root entry: cache type", s);
            RootHeader = Addr(entry + O);
            if (U(entry + 2 * O, 4) == 1)
            {
                F(entry + 2 * O + 8, O, H5Kind.Address, "root entry: cached B-tree address", s);
                F(entry + 2 * O + 8 + O, O, H5Kind.Address, "root entry: cached heap address", s);
            }
        }
        else if (SuperVersion is 2 or 3)
        {
            O = (int)U(s + 9, 1); L = (int)U(s + 10, 1);
            if (O is not (2 or 4 or 8) || L is not (2 or 4 or 8)) throw new Stop();
            F(s + 9, 1, H5Kind.Byte, "superblock: size of offsets", s);
            F(s + 10, 1, H5Kind.Byte, "superblock: size of lengths", s);
            F(s + 11, 1, H5Kind.Byte, "superblock: flags", s);
            Base = (long)U(s + 12, O);
            F(s + 12, O, H5Kind.Address, "superblock: base address", s);
            F(s + 12 + O, O, H5Kind.Address, "superblock: extension address", s);
            EofAt = s + 12 + 2 * O;
            F(EofAt, O, H5Kind.Address, "superblock: end-of-file address", s);
            F(s + 12 + 3 * O, O, H5Kind.Address, "superblock: root object header address", s);
            RootHeader = Addr(s + 12 + 3 * O);
            Chunks.Add(new H5Chunk(s, 12 + 4 * O));
            if (Addr(s + 12 + O) is var ext and >= 0) _work.Enqueue(() => Header(ext, "superblock extension"));
        }
        else throw new Stop();
        if (RootHeader >= 0) _work.Enqueue(() => Header(RootHeader, "/"));
    }

    // ---- object headers ----

    void Header(long at, string path)
    {
        if (!First("oh", at)) return;
        Need(at, 16);
        HeaderPaths[at] = path;
        if (Sig(at, "OHDR"))
        {
            int version = (int)U(at + 4, 1), flags = (int)U(at + 5, 1);
            Headers[at] = 2;
            F(at + 4, 1, H5Kind.Byte, $"{path}: OHDR version", at);
            F(at + 5, 1, H5Kind.Byte, $"{path}: OHDR flags", at);
            long p = at + 6;
            if ((flags & 0x20) != 0) p += 16;
            if ((flags & 0x10) != 0) { F(p, 2, H5Kind.Count, $"{path}: max compact attributes", at); F(p + 2, 2, H5Kind.Count, $"{path}: min dense attributes", at); p += 4; }
            int w = 1 << (flags & 3);
            long size = (long)U(p, w);
            F(p, w, H5Kind.Length, $"{path}: OHDR chunk 0 size", at);
            p += w;
            Need(p, size + 4);
            var chunk = new H5Chunk(at, p + size - at);
            Chunks.Add(chunk);
            Messages2(at, p, p + size, chunk, (flags & 0x04) != 0, path);
            _ = version;
        }
        else
        {
            int version = (int)U(at, 1);
            if (version != 1) throw new Stop();
            Headers[at] = 1;
            F(at, 1, H5Kind.Byte, $"{path}: object header version", at);
            F(at + 2, 2, H5Kind.Count, $"{path}: number of messages", at);
            F(at + 4, 4, H5Kind.Size32, $"{path}: reference count", at);
            F(at + 8, 4, H5Kind.Size32, $"{path}: header size", at);
            long size = (long)U(at + 8, 4);
            Messages1(at, at + 16, at + 16 + size, path);
        }
    }

    void Messages1(long header, long start, long end, string path)
    {
        long p = start;
        end = Math.Min(end, Data.LongLength);
        while (p + 8 <= end)
        {
            int type = (int)U(p, 2), size = (int)U(p + 2, 2);
            F(p, 2, H5Kind.Count, $"{path}: message type", header);
            F(p + 2, 2, H5Kind.Length, $"{path}: message size", header);
            F(p + 4, 1, H5Kind.Byte, $"{path}: message flags", header);
            var m = new H5Message(header, 1, p, p + 8, size, type, null, false);
            if (p + 8 + size > end) break;
            Messages.Add(m);
            Body(m, path);
            p += 8 + size;
        }
    }

    void Messages2(long header, long start, long end, H5Chunk chunk, bool creationOrder, string path)
    {
        int hl = creationOrder ? 6 : 4;
        long p = start;
        while (p + hl <= end)
        {
            int type = (int)U(p, 1), size = (int)U(p + 1, 2);
            F(p, 1, H5Kind.Byte, $"{path}: message type", header);
            F(p + 1, 2, H5Kind.Length, $"{path}: message size", header);
            F(p + 3, 1, H5Kind.Byte, $"{path}: message flags", header);
            if (p + hl + size > end) break;
            var m = new H5Message(header, 2, p, p + hl, size, type, chunk, creationOrder);
            Messages.Add(m);
            Body(m, path);
            p += hl + size;
        }
    }

    void Body(H5Message m, string path)
    {
        long b = m.Body;
        long h = m.Header;
        switch (m.Type)
        {
            case 0x01: Dataspace(b, h, $"{path}: dataspace"); break;
            case 0x03:
                F(b, 1, H5Kind.Byte, $"{path}: datatype class", h);
                F(b + 4, 4, H5Kind.Size32, $"{path}: datatype size", h);
                break;
            case 0x08: Layout(m, path); break;
            case 0x10:
            {
                F(b, O, H5Kind.Address, $"{path}: continuation address", h);
                F(b + O, L, H5Kind.Length, $"{path}: continuation length", h);
                long addr = Addr(b), len = (long)U(b + O, L);
                if (addr >= 0)
                {
                    int version = m.Version;
                    bool co = m.CreationOrder;
                    _work.Enqueue(() => Continuation(h, addr, len, version, co, path));
                }
                break;
            }
            case 0x11:
            {
                F(b, O, H5Kind.Address, $"{path}: symbol table B-tree", h);
                F(b + O, O, H5Kind.Address, $"{path}: symbol table heap", h);
                long tree = Addr(b), heap = Addr(b + O);
                _work.Enqueue(() =>
                {
                    var (data, size) = Heap(heap, path);
                    Tree(tree, h, data, size, path, -1);
                });
                break;
            }
            case 0x06: Link(m, path); break;
            case 0x02:
            {
                int flags = (int)U(b + 1, 1);
                long p = b + 2 + ((flags & 1) != 0 ? 8 : 0);
                F(p, O, H5Kind.Address, $"{path}: link info fractal heap", h);
                F(p + O, O, H5Kind.Address, $"{path}: link info name index", h);
                if ((flags & 2) != 0) F(p + 2 * O, O, H5Kind.Address, $"{path}: link info order index", h);
                break;
            }
            case 0x0C: Attribute(b, m.Size, h, path); break;
            case 0x0B:
                F(b, 1, H5Kind.Byte, $"{path}: filter pipeline version", h);
                F(b + 1, 1, H5Kind.Count, $"{path}: number of filters", h);
                break;
        }
    }

    void Dataspace(long b, long owner, string what)
    {
        int version = (int)U(b, 1), rank = (int)U(b + 1, 1), flags = (int)U(b + 2, 1);
        F(b, 1, H5Kind.Byte, $"{what} version", owner);
        F(b + 1, 1, H5Kind.Byte, $"{what} rank", owner);
        F(b + 2, 1, H5Kind.Byte, $"{what} flags", owner);
        if (version == 2) F(b + 3, 1, H5Kind.Byte, $"{what} type", owner);
        long p = b + (version == 1 ? 8 : 4);
        for (int i = 0; i < rank && i < 32; i++) F(p + i * L, L, H5Kind.Dimension, $"{what} dim {i}", owner);
        if ((flags & 1) != 0)
            for (int i = 0; i < rank && i < 32; i++) F(p + (rank + i) * L, L, H5Kind.Dimension, $"{what} max dim {i}", owner);
    }

    void Layout(H5Message m, string path)
    {
        long b = m.Body, h = m.Header;
        int version = (int)U(b, 1), cls = (int)U(b + 1, 1);
        F(b, 1, H5Kind.Byte, $"{path}: layout version", h);
        F(b + 1, 1, H5Kind.Byte, $"{path}: layout class", h);
        if (version < 3) return;
        switch (cls)
        {
            case 0: F(b + 2, 2, H5Kind.Length, $"{path}: compact data size", h); break;
            case 1:
                F(b + 2, O, H5Kind.Address, $"{path}: contiguous data address", h);
                F(b + 2 + O, L, H5Kind.Length, $"{path}: contiguous data size", h);
                break;
            case 2 when version == 3:
            {
                int rank = (int)U(b + 2, 1);
                F(b + 2, 1, H5Kind.Byte, $"{path}: chunk rank", h);
                F(b + 3, O, H5Kind.Address, $"{path}: chunk B-tree address", h);
                for (int i = 0; i < rank && i < 33; i++) F(b + 3 + O + 4 * i, 4, H5Kind.Size32, $"{path}: chunk dim {i}", h);
                long tree = Addr(b + 3);
                _work.Enqueue(() => Tree(tree, h, -1, 0, path, rank));
                break;
            }
            case 2:
                F(b + 2, 1, H5Kind.Byte, $"{path}: chunk flags", h);
                F(b + 3, 1, H5Kind.Byte, $"{path}: chunk rank", h);
                F(b + 4, 1, H5Kind.Byte, $"{path}: chunk dim size width", h);
                if (m.Size >= O) F(b + m.Size - O, O, H5Kind.Address, $"{path}: chunk index address", h);
                break;
        }
    }

    void Link(H5Message m, string path)
    {
        long b = m.Body, h = m.Header;
        F(b, 1, H5Kind.Byte, $"{path}: link version", h);
        F(b + 1, 1, H5Kind.Byte, $"{path}: link flags", h);
        int flags = (int)U(b + 1, 1);
        long p = b + 2;
        int type = 0;
        if ((flags & 0x08) != 0) { type = (int)U(p, 1); F(p, 1, H5Kind.Byte, $"{path}: link type", h); p++; }
        if ((flags & 0x04) != 0) p += 8;
        if ((flags & 0x10) != 0) p++;
        int w = 1 << (flags & 3);
        int nameLen = (int)U(p, w);
        F(p, w, H5Kind.Length, $"{path}: link name length", h);
        p += w;
        Need(p, nameLen);
        string name = Encoding.UTF8.GetString(Data, (int)p, nameLen);
        p += nameLen;
        long addressAt = -1;
        string child = path == "/" ? "/" + name : path + "/" + name;
        if (type == 0)
        {
            addressAt = p;
            F(p, O, H5Kind.Address, $"{child}: hard link address", h);
            long target = Addr(p);
            if (target >= 0) _work.Enqueue(() => Header(target, child));
        }
        else F(p, 2, H5Kind.Length, $"{child}: link value length", h);
        Links.Add(new H5Link(h, m, name, type, addressAt));
    }

    void Attribute(long b, int size, long h, string path)
    {
        int version = (int)U(b, 1);
        int nameSize = (int)U(b + 2, 2), typeSize = (int)U(b + 4, 2), spaceSize = (int)U(b + 6, 2);
        F(b, 1, H5Kind.Byte, $"{path}: attribute version", h);
        F(b + 2, 2, H5Kind.Length, $"{path}: attribute name size", h);
        F(b + 4, 2, H5Kind.Length, $"{path}: attribute datatype size", h);
        F(b + 6, 2, H5Kind.Length, $"{path}: attribute dataspace size", h);
        long Pad(long n) => version == 1 ? (n + 7) & ~7L : n;
        long p = b + (version == 3 ? 9 : 8);
        string name = CString(p, nameSize);
        p += Pad(nameSize);
        F(p + 4, 4, H5Kind.Size32, $"{path}@{name}: datatype size", h);
        p += Pad(typeSize);
        if (p < b + size) Dataspace(p, h, $"{path}@{name}: dataspace");
    }

    void Continuation(long header, long at, long length, int version, bool creationOrder, string path)
    {
        if (!First("cont", at)) return;
        if (version == 1) { Messages1(header, at, at + length, path); return; }
        if (!Sig(at, "OCHK")) return;
        Need(at, length);
        var chunk = new H5Chunk(at, length - 4);
        Chunks.Add(chunk);
        Messages2(header, at + 4, at + length - 4, chunk, creationOrder, path);
    }

    // ---- old-style groups: local heap, v1 B-tree, symbol table nodes ----

    (long Data, long Size) Heap(long at, string path)
    {
        if (at < 0 || !Sig(at, "HEAP")) return (-1, 0);
        F(at + 8, L, H5Kind.Length, $"{path}: heap data size", at);
        F(at + 8 + L, L, H5Kind.Length, $"{path}: heap free list head", at);
        F(at + 8 + 2 * L, O, H5Kind.Address, $"{path}: heap data address", at);
        long size = (long)U(at + 8, L), free = (long)U(at + 8 + L, L), data = Addr(at + 8 + 2 * L);
        if (First("heap", at)) Heaps.Add((at, data, size, free));
        return (data, size);
    }

    void Tree(long at, long group, long heapData, long heapSize, string path, int chunkRank)
    {
        if (at < 0 || !First("tree", at)) return;
        if (!Sig(at, "TREE")) return;
        int type = (int)U(at + 4, 1), level = (int)U(at + 5, 1), used = (int)U(at + 6, 2);
        F(at + 4, 1, H5Kind.Byte, $"{path}: B-tree node type", at);
        F(at + 5, 1, H5Kind.Byte, $"{path}: B-tree level", at);
        F(at + 6, 2, H5Kind.Count, $"{path}: B-tree entries used", at);
        F(at + 8, O, H5Kind.Address, $"{path}: B-tree left sibling", at);
        F(at + 8 + O, O, H5Kind.Address, $"{path}: B-tree right sibling", at);
        int keySize = type == 0 ? L : 8 + 8 * (chunkRank + 1);
        if (type == 1 && chunkRank < 0) return;
        long p = at + 8 + 2 * O;
        var children = new List<long>();
        for (int i = 0; i < used && i < 4096; i++)
        {
            if (type == 0) F(p, L, H5Kind.Length, $"{path}: B-tree key {i}", at);
            else F(p, 4, H5Kind.Size32, $"{path}: chunk {i} size", at);
            p += keySize;
            F(p, O, H5Kind.Address, $"{path}: B-tree child {i}", at);
            children.Add(p);
            long child = Addr(p);
            if (child >= 0)
            {
                if (level > 0) _work.Enqueue(() => Tree(child, group, heapData, heapSize, path, chunkRank));
                else if (type == 0) _work.Enqueue(() => SymbolNode(child, group, heapData, heapSize, path));
            }
            p += O;
        }
        TreeNodes.Add(new H5TreeNode(at, type, level, children, at + 8 + O));
    }

    void SymbolNode(long at, long group, long heapData, long heapSize, string path)
    {
        if (!First("snod", at) || !Sig(at, "SNOD")) return;
        int count = (int)U(at + 6, 2);
        F(at + 6, 2, H5Kind.Count, $"{path}: symbol node entries", at);
        long p = at + 8;
        int entrySize = 2 * O + 24;
        for (int i = 0; i < count && i < 4096; i++, p += entrySize)
        {
            Need(p, entrySize);
            long nameOffset = (long)U(p, O);
            string name = heapData >= 0 ? CString(heapData + nameOffset) : $"#{i}";
            string child = path == "/" ? "/" + name : path + "/" + name;
            F(p, O, H5Kind.Length, $"{child}: entry name offset", at);
            F(p + O, O, H5Kind.Address, $"{child}: entry object header", at);
            F(p + 2 * O, 4, H5Kind.Size32, $"{child}: entry cache type", at);
            int cache = (int)U(p + 2 * O, 4);
            if (cache == 1)
            {
                F(p + 2 * O + 8, O, H5Kind.Address, $"{child}: cached B-tree", at);
                F(p + 2 * O + 8 + O, O, H5Kind.Address, $"{child}: cached heap", at);
            }
            else if (cache == 2) F(p + 2 * O + 8, 4, H5Kind.Size32, $"{child}: soft link value offset", at);
            Entries.Add(new H5Entry(group, p, nameOffset, name, heapData, heapSize));
            long oh = Addr(p + O);
            if (cache != 2 && oh >= 0) _work.Enqueue(() => Header(oh, child));
        }
    }

    // ---- editing helpers ----

    /// <summary>Recomputes every checksummed chunk's lookup3 after an edit.</summary>
    public static void FixChecksums(byte[] data, IEnumerable<H5Chunk> chunks)
    {
        foreach (var c in chunks)
            if (c.Start >= 0 && c.Start + c.Length + 4 <= data.LongLength)
                Bytes.Write(data, c.Start + c.Length, 4, Checksums.Lookup3(data.AsSpan((int)c.Start, (int)c.Length)));
    }

    /// <summary>The chunk a file offset lies in (its checksum must be redone after an edit there), or null.</summary>
    public H5Chunk? ChunkAt(long offset) => Chunks.FirstOrDefault(c => offset >= c.Start && offset < c.Start + c.Length + 4);

    /// <summary>The address (relative to the base) a block appended at the end of the file gets.</summary>
    public long NextAddress => Data.LongLength - Base;

    /// <summary>Appends bytes at the end of the file, moving the superblock's end-of-file address (and its checksum) along.</summary>
    public byte[] Append(byte[] data, ReadOnlySpan<byte> block)
    {
        var result = new byte[data.Length + block.Length];
        data.CopyTo(result, 0);
        block.CopyTo(result.AsSpan(data.Length));
        if (EofAt >= 0 && Bytes.Read(result, EofAt, O) != Undefined(O))
            Bytes.Write(result, EofAt, O, (ulong)(result.LongLength - Base));
        if (SuperVersion >= 2) FixChecksums(result, [new H5Chunk(Superblock, 12 + 4 * O)]);
        return result;
    }

    /// <summary>A v1 link message body: hard (address), soft (path) or external (file, object).</summary>
    public byte[] LinkBody(string name, int type, long address = 0, string path = "", string file = "")
    {
        var ms = new MemoryStream();
        var nameBytes = Encoding.UTF8.GetBytes(name);
        int widthCode = nameBytes.Length < 256 ? 0 : 1;
        ms.WriteByte(1);
        ms.WriteByte((byte)((type != 0 ? 0x08 : 0) | widthCode));
        if (type != 0) ms.WriteByte((byte)type);
        if (widthCode == 0) ms.WriteByte((byte)nameBytes.Length);
        else { ms.WriteByte((byte)nameBytes.Length); ms.WriteByte((byte)(nameBytes.Length >> 8)); }
        ms.Write(nameBytes);
        if (type == 0)
        {
            var a = new byte[O];
            Bytes.Write(a, 0, O, (ulong)address);
            ms.Write(a);
        }
        else
        {
            byte[] value = type == 1 ? Encoding.UTF8.GetBytes(path)
                : [0, .. Encoding.UTF8.GetBytes(file), 0, .. Encoding.UTF8.GetBytes(path), 0];
            ms.WriteByte((byte)value.Length);
            ms.WriteByte((byte)(value.Length >> 8));
            ms.Write(value);
        }
        return ms.ToArray();
    }

    /// <summary>
    /// Rewrites a message of a version-2 object header: <paramref name="host"/> (a message in the same
    /// chunk with room for a continuation) becomes a continuation to a new OCHK block at the end of
    /// the file, which holds the host's original body, the target's new body and any extra messages
    /// (each (type, body)); the target's old slot becomes a NIL message. Checksums and the superblock's
    /// end-of-file address are kept right. Returns null when no host fits.
    /// </summary>
    public byte[]? RewriteV2(H5Message target, byte[]? newBody, IReadOnlyList<(int Type, byte[] Body)> extra, Func<long, IReadOnlyList<(int Type, byte[] Body)>>? extraAt = null)
    {
        if (target.Version != 2 || target.Chunk is null) return null;
        var host = target.Size >= O + L ? target
            : Messages.Where(m => m.Chunk == target.Chunk && m.Size >= O + L && m.Type != 0x10).OrderBy(m => m.At).FirstOrDefault();
        if (host is null) return null;
        long blockAddress = NextAddress;
        var list = new List<(int Type, byte[] Body)>();
        if (host != target) list.Add((host.Type, Data.AsSpan((int)host.Body, host.Size).ToArray()));
        list.Add((target.Type, newBody ?? Data.AsSpan((int)target.Body, target.Size).ToArray()));
        list.AddRange(extra);
        if (extraAt is not null) list.AddRange(extraAt(blockAddress));
        var block = new MemoryStream();
        block.Write("OCHK"u8);
        foreach (var (type, body) in list)
        {
            block.WriteByte((byte)type);
            block.WriteByte((byte)body.Length);
            block.WriteByte((byte)(body.Length >> 8));
            block.WriteByte(0);
            if (target.CreationOrder) { block.WriteByte(0); block.WriteByte(0); }
            block.Write(body);
        }
        long checksumAt = block.Length;
        block.Write(new byte[4]);
        var blockBytes = block.ToArray();
        Bytes.Write(blockBytes, checksumAt, 4, Checksums.Lookup3(blockBytes.AsSpan(0, (int)checksumAt)));

        var data = (byte[])Data.Clone();
        data[host.At] = 0x10;
        data[host.At + 3] = 0;
        data.AsSpan((int)host.Body, host.Size).Clear();
        Bytes.Write(data, host.Body, O, (ulong)blockAddress);
        Bytes.Write(data, host.Body + O, L, (ulong)blockBytes.Length);
        if (host != target)
        {
            data[target.At] = 0;
            data[target.At + 3] = 0;
        }
        FixChecksums(data, [target.Chunk]);
        return Append(data, blockBytes);
    }
}
