using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace LstmPort.Containers;

/// <summary>
/// A byte-level check of an HDF5 file's metadata, run before PureHDF opens the file. PureHDF follows
/// soft links with no hop limit and walks v1 B-trees with no visited set, so a file whose links or
/// trees loop overflows the stack and ends the process (no catch can help); it also allocates from
/// sizes it reads before checking them. This walk reads only metadata (superblock, object headers and
/// their continuation blocks, symbol tables, local heaps, v1 B-trees, link messages, the fractal heap
/// and v2 B-tree of dense groups), each structure at most once (a visited set over every address), and
/// checks every address and size against the file's length before reading or allocating. It refuses,
/// as <see cref="ErrorIds.CorruptFile"/> naming the path: soft links that do not resolve within 16 hops
/// (libhdf5's own limit), a group that reaches itself through links (real weights files have no
/// cycles), a B-tree, heap or continuation that loops, sizes past the file's end; and external links
/// (they name another file, which PureHDF would open). Linear in the metadata's size.
/// </summary>
static class Hdf5Structure
{
    /// <summary>libhdf5's H5L_NUM_LINKS: the most soft links one lookup follows.</summary>
    public const int MaxSoftLinkHops = 16;

    /// <summary>Checks the HDF5 file at <paramref name="path"/>; throws CorruptFile (or TruncatedFile) when it is hostile or damaged.</summary>
    /// <remarks>
    /// A file that passed is remembered with its length and write time: detection, the reader and each
    /// lazy load ask about the same file, and only one that changed since is walked again.
    /// </remarks>
    public static void Check(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var stamp = (RandomAccess.GetLength(handle), File.GetLastWriteTimeUtc(handle));
        var full = Path.GetFullPath(path);
        if (Passed.TryGetValue(full, out var known) && known == stamp) return;
        new Walker(new HandleSource(handle), path).Run();
        // File times tick coarsely (a few ms): a file written in the last seconds could change again
        // under the same stamp, so it is not remembered (git's "racy" rule).
        if (DateTime.UtcNow - stamp.Item2 < TimeSpan.FromSeconds(2)) return;
        if (Passed.Count >= 256) Passed.Clear();
        Passed[full] = stamp;
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long Length, DateTime Written)> Passed = new(StringComparer.Ordinal);

    /// <summary>Checks an HDF5 file held in memory (a .keras archive's weights); <paramref name="path"/> names it in errors.</summary>
    public static void Check(byte[] data, string path) => new Walker(new ArraySource(data), path).Run();

    /// <summary>The file's metadata structure as the walk found it: every group's links by object header address (tests and diagnostics).</summary>
    internal static Summary Describe(byte[] data, string path = "memory")
    {
        var w = new Walker(new ArraySource(data), path);
        w.Run();
        return new Summary(w.Groups.Count, w.Datasets, w.Groups.Sum(g => g.Value.Links.Count), w.DenseGroups, w.DamagedObjects);
    }

    internal sealed record Summary(int Groups, int Datasets, int Links, int DenseGroups, int DamagedObjects);

    abstract class Source
    {
        public abstract long Length { get; }
        public abstract void Read(long at, Span<byte> into);
    }

    /// <summary>
    /// Reads through a few cached 64 KB pages: metadata is many small reads close together (libhdf5
    /// allocates it in runs), one system call each would cost more than the walk.
    /// </summary>
    sealed class HandleSource(SafeFileHandle handle) : Source
    {
        const int PageSize = 1 << 16;
        const int MaxPages = 256;
        readonly Dictionary<long, byte[]> _pages = [];
        public override long Length { get; } = RandomAccess.GetLength(handle);

        public override void Read(long at, Span<byte> into)
        {
            if (into.Length > PageSize) { ReadDirect(at, into); return; }
            while (into.Length > 0)
            {
                long page = at / PageSize;
                if (!_pages.TryGetValue(page, out var bytes))
                {
                    if (_pages.Count >= MaxPages) _pages.Clear();
                    bytes = new byte[(int)Math.Min(PageSize, Length - page * PageSize)];
                    ReadDirect(page * PageSize, bytes);
                    _pages[page] = bytes;
                }
                int offset = (int)(at - page * PageSize);
                if (offset >= bytes.Length) throw new EndOfStreamException();
                int n = Math.Min(into.Length, bytes.Length - offset);
                bytes.AsSpan(offset, n).CopyTo(into);
                into = into[n..];
                at += n;
            }
        }

        void ReadDirect(long at, Span<byte> into)
        {
            while (into.Length > 0)
            {
                int n = RandomAccess.Read(handle, into, at);
                if (n <= 0) throw new EndOfStreamException();
                into = into[n..];
                at += n;
            }
        }
    }

    sealed class ArraySource(byte[] data) : Source
    {
        public override long Length => data.LongLength;
        public override void Read(long at, Span<byte> into) => data.AsSpan(checked((int)at), into.Length).CopyTo(into);
    }

    enum LinkKind { Hard, Soft, External }

    sealed record Link(string Name, LinkKind Kind, long Target, string Value);

    sealed class Group(long header, string path)
    {
        public long Header { get; } = header;
        public string Path { get; } = path;
        public Dictionary<string, Link> Links { get; } = new(StringComparer.Ordinal);
    }

    sealed class Walker(Source src, string file)
    {
        const long Undef = -1;
        readonly long _length = src.Length;
        int _o = 8, _l = 8;
        long _base;
        long _budget; // metadata bytes left to read: a file whose structures overlap each other without end is refused
        readonly HashSet<(string Kind, long At)> _seen = [];
        public readonly Dictionary<long, Group> Groups = [];
        public int Datasets, DenseGroups;
        readonly Dictionary<long, string> _headerPaths = [];
        readonly Queue<(long Header, string Path)> _pending = new();
        readonly Dictionary<long, (long Tree, long Heap)> _cachedTables = [];
        long _rootAt = Undef;

        /// <summary>
        /// Damage that is no hostile structure (a signature, version or type that is wrong, a message cut
        /// short): the object is left unwalked, and PureHDF's own error when it is read costs only that
        /// object's layer, as the readers promise. Loops, cycles, external links and sizes past the end
        /// are refused for the whole file instead.
        /// </summary>
        sealed class DamagedPart(string what) : Exception(what);

        static DamagedPart Damaged(string what) => new(what);

        public int DamagedObjects;

        LstmPortException Corrupt(string what) =>
            new(ErrorIds.CorruptFile, $"'{file}' is a damaged or hostile HDF5 file: {what}. Expected an intact HDF5 file as h5py, Keras or libhdf5 write it.", file);

        // ---- bounded reads ----

        byte[] Read(long at, long n, string what)
        {
            if (at < 0 || n < 0 || at > _length || n > _length - at)
                throw Corrupt($"{what} at {at} ({n} bytes) lies past the end of the file ({_length} bytes)");
            if ((_budget -= n) < 0) throw Corrupt($"its metadata structures overlap or repeat (more metadata read than the file holds, at {what})");
            var b = new byte[n];
            src.Read(at, b);
            return b;
        }

        static ulong U(ReadOnlySpan<byte> b, int at, int w)
        {
            if (at < 0 || at + w > b.Length) throw new IndexOutOfRangeException();
            return w switch
            {
                1 => b[at],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]),
                8 => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]),
                _ => ReadVar(b.Slice(at, w)),
            };
        }

        static ulong ReadVar(ReadOnlySpan<byte> b)
        {
            ulong v = 0;
            for (int i = b.Length - 1; i >= 0; i--) v = v << 8 | b[i];
            return v;
        }

        /// <summary>An address field: absolute file offset, or Undef for HDF5's undefined address.</summary>
        long Addr(ReadOnlySpan<byte> b, int at, string what)
        {
            ulong v = U(b, at, _o);
            if (v == (_o == 8 ? ulong.MaxValue : (1UL << (8 * _o)) - 1)) return Undef;
            if (v > (ulong)_length) throw Corrupt($"{what} points at {v}, past the end of the file ({_length} bytes)");
            long a = (long)v + _base;
            if (a > _length) throw Corrupt($"{what} points at {a}, past the end of the file ({_length} bytes)");
            return a;
        }

        long Len(ReadOnlySpan<byte> b, int at, string what)
        {
            ulong v = U(b, at, _l);
            if (v > (ulong)_length) throw Corrupt($"{what} is {v} bytes, more than the whole file ({_length} bytes)");
            return (long)v;
        }

        bool First(string kind, long at) => _seen.Add((kind, at));

        void Once(string kind, long at, string what)
        {
            if (!First(kind, at)) throw Corrupt($"{what} at {at} is reached twice (its structure loops)");
        }

        static bool Sig(ReadOnlySpan<byte> b, string s) => b.Length >= s.Length && Encoding.ASCII.GetString(b[..s.Length]) == s;

        // ---- the walk ----

        public void Run()
        {
            _budget = 2 * _length + (1 << 20);
            try
            {
                long root = _rootAt = Superblock(); // damage here is the whole file's
                if (root != Undef) Visit(root, "/");
                while (_pending.Count > 0)
                {
                    var (h, p) = _pending.Dequeue();
                    Visit(h, p);
                }
                CheckLinks();
            }
            catch (Exception e) when (e is DamagedPart or IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException or DecoderFallbackException)
            {
                throw Corrupt($"a metadata structure is cut short or holds impossible values ({e.Message})");
            }
        }

        long Superblock()
        {
            // The superblock is at 0, or after a user block at 512, 1024, 2048, ...
            long s = 0;
            var sig = Hdf5Data.Signature;
            for (long at = 0; ; at = at == 0 ? 512 : at * 2)
            {
                if (at + 8 > _length) throw Corrupt("it has no HDF5 superblock");
                var head = new byte[8];
                src.Read(at, head);
                if (head.AsSpan().SequenceEqual(sig)) { s = at; break; }
            }
            var b = Read(s, Math.Min(_length - s, 128), "the superblock");
            int version = b[8];
            if (version is 0 or 1)
            {
                _o = b[13]; _l = b[14];
                CheckSizes();
                int p = version == 1 ? 28 : 24;
                _base = (long)U(b, p, _o);
                if (_base < 0 || _base > _length) throw Corrupt($"the superblock's base address {_base} lies past the end of the file");
                int entry = p + 4 * _o;
                long root = Addr(b, entry + _o, "the root group's object header address");
                if (root != Undef && U(b, entry + 2 * _o, 4) == 1)
                    _cachedTables[root] = (Addr(b, entry + 2 * _o + 8, "the root group's cached B-tree"), Addr(b, entry + 3 * _o + 8, "the root group's cached heap"));
                return root;
            }
            if (version is 2 or 3)
            {
                _o = b[9]; _l = b[10];
                CheckSizes();
                _base = (long)U(b, 12, _o);
                if (_base < 0 || _base > _length) throw Corrupt($"the superblock's base address {_base} lies past the end of the file");
                return Addr(b, 12 + 3 * _o, "the root group's object header address");
            }
            throw Corrupt($"superblock version {version}; expected 0 to 3");
        }

        void CheckSizes()
        {
            if (_o is not (2 or 4 or 8) || _l is not (2 or 4 or 8))
                throw Corrupt($"the superblock gives {_o}-byte offsets and {_l}-byte lengths; expected 2, 4 or 8");
        }

        // ---- object headers ----

        sealed class Header
        {
            public readonly List<(int Type, int Flags, byte[] Body)> Messages = [];
        }

        void Visit(long at, string path)
        {
            if (_headerPaths.ContainsKey(at)) return; // a second hard link to the same object: checked once
            _headerPaths[at] = path;
            try { VisitObject(at, path); }
            catch (Exception e) when (e is DamagedPart or IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException)
            {
                DamagedObjects++;
            }
        }

        void VisitObject(long at, string path)
        {
            var h = ReadHeader(at, path);
            bool isGroup = false;
            Group? g = null;
            Group G() => g ??= Groups[at] = new Group(at, path);
            foreach (var (type, flags, body) in h.Messages)
            {
                // Each message on its own: damage to one (a group's index, say) leaves the others checked.
                try { Message(type, flags, body); }
                catch (Exception e) when (e is DamagedPart or IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException)
                {
                    DamagedObjects++;
                }
            }

            void Message(int type, int flags, byte[] body)
            {
                switch (type)
                {
                    case 0x11:
                        isGroup = true;
                        // A parent's entry may cache the group's B-tree and heap; PureHDF may use either, so they must agree.
                        if (_cachedTables.TryGetValue(at, out var cached) && cached != (Addr(body, 0, path), Addr(body, _o, path)))
                            throw Corrupt($"the entry of group '{path}' caches another symbol table than the group's own");
                        SymbolTable(body, G());
                        break;
                    case 0x06: isGroup = true; LinkMessage(body, 0, body.Length, G(), $"a link message of '{path}'"); break;
                    case 0x02: isGroup = true; LinkInfo(body, G()); break;
                    case 0x08: Datasets++; Layout(body, path); break;
                    // External raw storage names other files, which PureHDF would open: a FIFO there blocks,
                    // and any readable file would become tensor data.
                    case 0x07: throw Corrupt($"dataset '{path}' keeps its data in other files (HDF5 external storage); LstmPort reads data only from the file itself");
                    // A shared attribute's body is a reference to where it is stored. Only the kinds of message
                    // that can be shared are taken as such: PureHDF reads a group's or layout's body whatever the flag says.
                    case 0x0C when (flags & 0x02) == 0: Attribute(body, path); break;
                    case 0x15: AttributeInfo(body, path); break;
                }
            }
            if (isGroup)
                foreach (var link in G().Links.Values)
                    if (link.Kind == LinkKind.Hard && !_headerPaths.ContainsKey(link.Target))
                        _pending.Enqueue((link.Target, Join(path, link.Name)));
        }

        static string Join(string path, string name) => path == "/" ? "/" + name : path + "/" + name;

        Header ReadHeader(long at, string path)
        {
            Once("oh", at, $"the object header of '{path}'");
            var h = new Header();
            string what = $"the object header of '{path}'";
            var first = Read(at, Math.Min(16, _length - at), what);
            if (Sig(first, "OHDR"))
            {
                int flags = first.Length > 5 ? first[5] : throw Damaged($"{what} at {at} is cut short");
                int p = 6 + ((flags & 0x20) != 0 ? 16 : 0) + ((flags & 0x10) != 0 ? 4 : 0);
                int w = 1 << (flags & 3);
                var pre = Read(at, p + w, what);
                long size = (long)U(pre, p, w);
                if (size > _length) throw Corrupt($"{what} at {at} claims {size} bytes, more than the file");
                var chunk = Read(at + p + w, size, what);
                Messages2(chunk, 0, chunk.Length, (flags & 0x04) != 0, h, path);
            }
            else
            {
                if (first.Length < 16) throw Damaged($"{what} at {at} is cut short");
                if (first[0] != 1) throw Damaged($"{what} at {at} has version {first[0]}; expected 1 or an OHDR signature");
                long size = (long)U(first, 8, 4);
                var chunk = Read(at + 16, size, what);
                Messages1(chunk, h, path);
            }
            // Continuation blocks, each once; any further continuation they hold is followed too.
            for (int i = 0; i < h.Messages.Count; i++)
            {
                var (type, _, body) = h.Messages[i];
                if (type != 0x10) continue;
                long cont = Addr(body, 0, $"a continuation of '{path}'");
                long len = Len(body, _o, $"a continuation of '{path}'");
                // An undefined address here would send PureHDF to offset -1.
                if (cont == Undef) throw Corrupt($"a continuation of '{path}' has no address");
                Once("cont", cont, $"the object header continuation of '{path}'");
                var block = Read(cont, len, $"the object header continuation of '{path}'");
                if (first[0] == 1 && !Sig(first, "OHDR")) Messages1(block, h, path);
                else
                {
                    if (!Sig(block, "OCHK")) throw Damaged($"the object header continuation of '{path}' at {cont} has no OCHK signature");
                    bool co = (first[5] & 0x04) != 0;
                    Messages2(block, 4, block.Length - 4, co, h, path);
                }
            }
            return h;
        }

        void Messages1(byte[] chunk, Header h, string path)
        {
            int p = 0;
            while (p + 8 <= chunk.Length)
            {
                int type = (int)U(chunk, p, 2), size = (int)U(chunk, p + 2, 2);
                if (p + 8 + size > chunk.Length) break; // damage: the messages before it are still checked, as PureHDF reads them
                h.Messages.Add((type, chunk[p + 4], chunk.AsSpan(p + 8, size).ToArray()));
                p += 8 + size;
            }
        }

        void Messages2(byte[] chunk, int start, int end, bool creationOrder, Header h, string path)
        {
            int hl = creationOrder ? 6 : 4;
            int p = start;
            // A gap at the chunk's end shorter than a message header is padding.
            while (p + hl <= end)
            {
                int type = chunk[p], size = (int)U(chunk, p + 1, 2);
                if (p + hl + size > end) break; // damage: the messages before it are still checked, as PureHDF reads them
                h.Messages.Add((type, chunk[p + 3], chunk.AsSpan(p + hl, size).ToArray()));
                p += hl + size;
            }
        }

        // ---- messages ----

        void Attribute(byte[] b, string path)
        {
            // Only the sizes: name, datatype and dataspace inside the message, and the data they describe too.
            int version = b[0];
            if (version is < 1 or > 3) return;
            int nameSize = (int)U(b, 2, 2), typeSize = (int)U(b, 4, 2), spaceSize = (int)U(b, 6, 2);
            int Pad(int n) => version == 1 ? (n + 7) & ~7 : n;
            int p = version == 3 ? 9 : 8;
            int typeAt = p + Pad(nameSize), spaceAt = typeAt + Pad(typeSize), dataAt = spaceAt + Pad(spaceSize);
            if (dataAt > b.Length) throw Corrupt($"an attribute of '{path}' is larger than its message");
            if (typeSize < 8 || spaceSize < 2) return;
            if ((b[1] & 0x03) != 0) return; // shared datatype or dataspace: described elsewhere
            ulong elementSize = U(b, typeAt + 4, 4);
            int spaceVersion = b[spaceAt], rank = b[spaceAt + 1];
            if (spaceVersion == 2 && b[spaceAt + 3] == 2) return; // null dataspace
            int dims = spaceAt + (spaceVersion == 1 ? 8 : 4);
            if (dims + rank * _l > spaceAt + spaceSize) throw Corrupt($"an attribute of '{path}' has a dataspace larger than its message");
            UInt128 bytes = elementSize;
            for (int i = 0; i < rank; i++) bytes *= U(b, dims + i * _l, _l);
            if (bytes > (UInt128)(b.Length - dataAt))
                throw Corrupt($"an attribute of '{path}' says it holds {bytes} bytes in a message of {b.Length}");
            // Variable-length values (strings) live in global heap collections, which PureHDF reads whole.
            int element = 4 + _o + 4;
            if ((b[typeAt] & 0x0F) == 9 && elementSize == (ulong)element)
                for (long i = 0, n = (long)(bytes / elementSize); i < n; i++)
                {
                    long collection = Addr(b, dataAt + (int)(i * element) + 4, $"a string of an attribute of '{path}'");
                    if (collection != Undef && First("gcol", collection)) GlobalHeap(collection, path);
                }
        }

        void GlobalHeap(long at, string path)
        {
            string what = $"a global heap collection used by '{path}'";
            var head = Read(at, 8 + _l, what);
            if (!Sig(head, "GCOL")) throw Damaged($"{what} at {at} has no GCOL signature");
            long size = Len(head, 8, what);
            var c = Read(at, size, what);
            int hl = 8 + _l;
            long p = 8 + _l;
            while (p + hl <= c.Length)
            {
                int index = (int)U(c, (int)p, 2);
                long objectSize = (long)U(c, (int)p + 8, _l);
                if (index == 0) break; // the free space: the rest of the collection
                if (objectSize > c.Length - p - hl) throw Corrupt($"{what} at {at} holds an object of {objectSize} bytes in a collection of {c.Length}");
                p += hl + ((objectSize + 7) & ~7L);
            }
        }

        void Layout(byte[] b, string path)
        {
            int version = b[0];
            string what = $"the chunk index of '{path}'";
            if (version is 1 or 2)
            {
                int dims = b[1], cls = b[2];
                if (cls != 2) return;
                long tree = Addr(b, 8, what);
                if (tree != Undef) ChunkTree(tree, dims, path);
            }
            else if (version is 3 or 4)
            {
                int cls = b[1];
                if (cls == 1)
                {
                    long at = Addr(b, 2, $"the data of '{path}'");
                    long size = Len(b, 2 + _o, $"the data of '{path}'");
                    if (at != Undef && size > _length - at) throw Corrupt($"the data of '{path}' ({size} bytes at {at}) lies past the end of the file");
                }
                else if (cls == 2 && version == 3)
                {
                    int dims = b[2];
                    long tree = Addr(b, 3, what);
                    if (tree != Undef) ChunkTree(tree, dims, path);
                }
                else if (cls == 2 && b.Length >= _o)
                    Addr(b, b.Length - _o, what); // other chunk indexes (libver latest): only their address is checked
                else if (cls == 3)
                    throw Corrupt($"dataset '{path}' is a virtual dataset, mapped from other files; LstmPort reads data only from the file itself");
            }
        }

        /// <summary>A chunked dataset's v1 B-tree (type 1): every node once, levels strictly decreasing, chunks inside the file.</summary>
        void ChunkTree(long root, int dims, string path)
        {
            if (dims is < 1 or > 33) throw Corrupt($"the chunk layout of '{path}' has {dims} dimensions");
            int keySize = 8 + 8 * dims;
            var stack = new Stack<(long At, int Level)>();
            stack.Push((root, -1));
            while (stack.Count > 0)
            {
                var (at, expected) = stack.Pop();
                string what = $"a chunk B-tree node of '{path}'";
                Once("tree", at, what);
                var head = Read(at, 8 + 2 * _o, what);
                if (!Sig(head, "TREE")) throw Damaged($"{what} at {at} has no TREE signature");
                int type = head[4], level = head[5], used = (int)U(head, 6, 2);
                if (type != 1) throw Damaged($"{what} at {at} is of type {type}; expected 1");
                if (expected >= 0 && level != expected) throw Corrupt($"{what} at {at} is at level {level}; expected {expected} below its parent");
                Siblings(head, at, what);
                var body = Read(at + head.Length, (long)used * (keySize + _o) + keySize, what);
                for (int i = 0; i < used; i++)
                {
                    int k = i * (keySize + _o);
                    long child = Addr(body, k + keySize, what);
                    if (child == Undef) continue;
                    if (level > 0) stack.Push((child, level - 1));
                    else
                    {
                        long size = (long)U(body, k, 4);
                        if (size > _length - child) throw Corrupt($"a chunk of '{path}' ({size} bytes at {child}) lies past the end of the file");
                    }
                }
            }
        }

        void Siblings(byte[] head, long at, string what)
        {
            long left = Addr(head, 8, what), right = Addr(head, 8 + _o, what);
            if (left == at || right == at) throw Corrupt($"{what} at {at} is its own sibling (a loop)");
        }

        // ---- old-style groups ----

        void SymbolTable(byte[] b, Group g)
        {
            string what = $"the symbol table of '{g.Path}'";
            long tree = Addr(b, 0, what), heapAt = Addr(b, _o, what);
            if (tree == Undef || heapAt == Undef) throw Damaged($"{what} has no B-tree or heap");
            var heap = LocalHeap(heapAt, g.Path);
            var stack = new Stack<(long At, int Level)>();
            stack.Push((tree, -1));
            while (stack.Count > 0)
            {
                var (at, expected) = stack.Pop();
                string node = $"a group B-tree node of '{g.Path}'";
                Once("tree", at, node);
                var head = Read(at, 8 + 2 * _o, node);
                if (!Sig(head, "TREE")) throw Damaged($"{node} at {at} has no TREE signature");
                int type = head[4], level = head[5], used = (int)U(head, 6, 2);
                if (type != 0) throw Damaged($"{node} at {at} is of type {type}; expected 0");
                if (expected >= 0 && level != expected) throw Corrupt($"{node} at {at} is at level {level}; expected {expected} below its parent");
                Siblings(head, at, node);
                var body = Read(at + head.Length, (long)used * (_l + _o) + _l, node);
                for (int i = 0; i < used; i++)
                {
                    long child = Addr(body, i * (_l + _o) + _l, node);
                    if (child == Undef) continue;
                    if (level > 0) stack.Push((child, level - 1));
                    else SymbolNode(child, heap, g);
                }
            }
        }

        byte[] LocalHeap(long at, string path)
        {
            string what = $"the local heap of '{path}'";
            Once("heap", at, what);
            var head = Read(at, 8 + 2 * _l + _o, what);
            if (!Sig(head, "HEAP")) throw Damaged($"{what} at {at} has no HEAP signature");
            long size = Len(head, 8, what);
            long data = Addr(head, 8 + 2 * _l, what);
            if (data == Undef) return [];
            return Read(data, size, what);
        }

        void SymbolNode(long at, byte[] heap, Group g)
        {
            string what = $"a symbol table node of '{g.Path}'";
            Once("snod", at, what);
            var head = Read(at, 8, what);
            if (!Sig(head, "SNOD")) throw Damaged($"{what} at {at} has no SNOD signature");
            int count = (int)U(head, 6, 2);
            int entry = 2 * _o + 24;
            var body = Read(at + 8, (long)count * entry, what);
            for (int i = 0; i < count; i++)
            {
                int p = i * entry;
                string name = HeapString(heap, (long)U(body, p, _o), what);
                long oh = Addr(body, p + _o, what);
                int cache = (int)U(body, p + 2 * _o, 4);
                if (cache == 2)
                    Add(g, new Link(name, LinkKind.Soft, Undef, HeapString(heap, (long)U(body, p + 2 * _o + 8, 4), what)));
                else if (oh == Undef) throw Corrupt($"entry '{name}' of group '{g.Path}' points at no object (an undefined address)");
                else
                {
                    if (cache == 1) _cachedTables.TryAdd(oh, (Addr(body, p + 2 * _o + 8, what), Addr(body, p + 3 * _o + 8, what)));
                    Add(g, new Link(name, LinkKind.Hard, oh, ""));
                }
            }
        }

        string HeapString(byte[] heap, long offset, string what)
        {
            if (offset < 0 || offset >= heap.Length) throw Corrupt($"{what} names an offset {offset} outside its heap ({heap.Length} bytes)");
            int end = Array.IndexOf(heap, (byte)0, (int)offset);
            if (end < 0) throw Corrupt($"{what} has a name that runs past its heap");
            return Encoding.UTF8.GetString(heap, (int)offset, end - (int)offset);
        }

        void Add(Group g, Link link)
        {
            if (link.Kind == LinkKind.External)
                throw new LstmPortException(ErrorIds.CorruptFile,
                    $"'{file}' has an HDF5 external link '{Join(g.Path, link.Name)}' to another file ({link.Value}); LstmPort does not follow links into other files. Expected a self-contained weights file: copy the linked data into it (h5py: f[name] = f[name][()]).", file);
            if (!g.Links.TryAdd(link.Name, link))
                throw Corrupt($"'{g.Path}' holds two links named '{link.Name}'");
        }

        // ---- new-style groups ----

        void LinkMessage(byte[] b, int start, int end, Group g, string what)
        {
            if (end - start < 3) throw Damaged($"{what} is cut short");
            int p = start;
            if (b[p] != 1) throw Damaged($"{what} has version {b[p]}; expected 1");
            int flags = b[p + 1];
            p += 2;
            int type = 0;
            if ((flags & 0x08) != 0) type = b[p++];
            if ((flags & 0x04) != 0) p += 8;
            if ((flags & 0x10) != 0) p++;
            int w = 1 << (flags & 3);
            long nameLength = (long)U(b, p, w);
            p += w;
            if (nameLength > end - p) throw Corrupt($"{what} has a name of {nameLength} bytes in a message of {end - start}");
            string name = Encoding.UTF8.GetString(b, p, (int)nameLength);
            p += (int)nameLength;
            switch (type)
            {
                case 0:
                    long target = Addr(b, p, $"link '{Join(g.Path, name)}'");
                    if (target == Undef) throw Corrupt($"link '{Join(g.Path, name)}' points at no object (an undefined address)");
                    Add(g, new Link(name, LinkKind.Hard, target, ""));
                    break;
                case 1 or 64:
                {
                    int valueLength = (int)U(b, p, 2);
                    if (valueLength > end - p - 2) throw Corrupt($"link '{Join(g.Path, name)}' has a value of {valueLength} bytes in a message of {end - start}");
                    var value = b.AsSpan(p + 2, valueLength);
                    if (type == 1) Add(g, new Link(name, LinkKind.Soft, Undef, Encoding.UTF8.GetString(value).TrimEnd('\0')));
                    else Add(g, new Link(name, LinkKind.External, Undef, Encoding.UTF8.GetString(value[1..]).Replace('\0', ' ').Trim()));
                    break;
                }
                default: throw Corrupt($"link '{Join(g.Path, name)}' has link type {type}; expected hard (0), soft (1) or external (64)");
            }
        }

        void LinkInfo(byte[] b, Group g)
        {
            string what = $"the link info of '{g.Path}'";
            int flags = b[1];
            int p = 2 + ((flags & 1) != 0 ? 8 : 0);
            long heap = Addr(b, p, what), nameIndex = Addr(b, p + _o, what);
            if ((flags & 2) != 0) Addr(b, p + 2 * _o, what);
            if (heap == Undef) return; // compact: the links are link messages
            if (nameIndex == Undef) throw Corrupt($"{what} has a fractal heap but no name index");
            DenseGroups++;
            Dense(heap, nameIndex, g);
        }

        // ---- dense storage: fractal heap + v2 B-tree name index ----

        sealed class FractalHeap
        {
            public long At;
            public int IdLength, FilterLength, TableWidth, MaxHeapBits, StartRows, CurrentRows, OffsetBytes, LengthBytes;
            public long StartBlock, MaxDirect, Root;
            public bool Checksummed;
        }

        FractalHeap ReadFractalHeap(long at, string path, bool filtersAllowed = false)
        {
            string what = $"the fractal heap of '{path}'";
            Once("frhp", at, what);
            int size = 4 + 1 + 2 + 2 + 1 + 4 + _l + _o + _l + _o + 8 * _l + 2 + _l + _l + 2 + 2 + _o + 2;
            var b = Read(at, size, what);
            if (!Sig(b, "FRHP")) throw Damaged($"{what} at {at} has no FRHP signature");
            var h = new FractalHeap { At = at };
            h.IdLength = (int)U(b, 5, 2);
            h.FilterLength = (int)U(b, 7, 2);
            h.Checksummed = (b[9] & 2) != 0;
            int p = 10 + 4 + _l + _o + _l + _o + 8 * _l;
            h.TableWidth = (int)U(b, p, 2); p += 2;
            // Sizes of the heap's address space, not of the file: a block is checked against the file when it is read.
            h.StartBlock = (long)Math.Min(U(b, p, _l), 1UL << 40); p += _l;
            h.MaxDirect = (long)Math.Min(U(b, p, _l), 1UL << 40); p += _l;
            h.MaxHeapBits = (int)U(b, p, 2); p += 2;
            h.StartRows = (int)U(b, p, 2); p += 2;
            h.Root = Addr(b, p, what); p += _o;
            h.CurrentRows = (int)U(b, p, 2);
            if (h.FilterLength != 0 && !filtersAllowed) throw Corrupt($"{what} is filtered; link storage never is");
            if (h.TableWidth is < 1 or > 65536 || h.StartBlock < 1 || h.MaxDirect < h.StartBlock || h.MaxHeapBits is < 1 or > 64
                || !IsPow2(h.TableWidth) || !IsPow2(h.StartBlock) || !IsPow2(h.MaxDirect))
                throw Damaged($"{what} at {at} has an impossible doubling table");
            h.OffsetBytes = (h.MaxHeapBits + 7) / 8;
            h.LengthBytes = Math.Min(MinBytes((ulong)h.MaxDirect - 1), h.IdLength - 1 - h.OffsetBytes);
            if (h.LengthBytes < 1) throw Corrupt($"{what} at {at} has heap IDs too short for its offsets");
            return h;
        }

        static int Log2(long v) => 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)v);

        static bool IsPow2(long v) => v > 0 && (v & (v - 1)) == 0;

        static int MinBytes(ulong v)
        {
            int n = 1;
            while (n < 8 && (v >> (8 * n)) != 0) n++;
            return n;
        }

        void Dense(long heapAt, long indexAt, Group g)
        {
            var heap = ReadFractalHeap(heapAt, g.Path);
            var blocks = new List<(long Offset, long Size, long At)>(); // every direct block: its heap offset, size and address
            CollectBlocks(heap, g.Path, blocks);
            foreach (var record in IndexRecords(indexAt, g.Path, 5, "link name index"))
            {
                var id = record[4..];
                int type = (id[0] >> 4) & 3;
                if (type != 0) throw Corrupt($"a link of '{g.Path}' is stored as a huge or tiny heap object; links never are");
                long offset = (long)U(id, 1, heap.OffsetBytes);
                long length = (long)U(id, 1 + heap.OffsetBytes, heap.LengthBytes);
                var block = FindBlock(blocks, offset);
                if (block.At == Undef || length < 1 || offset + length > block.Offset + block.Size)
                    throw Corrupt($"a link of '{g.Path}' points at heap offset {offset} ({length} bytes), outside the heap's blocks");
                var bytes = Read(block.At + (offset - block.Offset), length, $"a link of '{g.Path}'");
                LinkMessage(bytes, 0, bytes.Length, g, $"a link of '{g.Path}'");
            }
        }

        static (long Offset, long Size, long At) FindBlock(List<(long Offset, long Size, long At)> blocks, long offset)
        {
            int lo = 0, hi = blocks.Count - 1;
            while (lo <= hi)
            {
                int mid = (lo + hi) / 2;
                var b = blocks[mid];
                if (offset < b.Offset) hi = mid - 1;
                else if (offset >= b.Offset + b.Size) lo = mid + 1;
                else return b;
            }
            return (0, 0, Undef);
        }

        void CollectBlocks(FractalHeap h, string path, List<(long, long, long)> blocks)
        {
            if (h.Root == Undef) return;
            if (h.CurrentRows == 0) { DirectBlock(h, h.Root, 0, h.StartBlock, path); blocks.Add((0, h.StartBlock, h.Root)); return; }
            // Rows double in size after the first two; a row's blocks are direct up to MaxDirect, indirect beyond.
            long RowSize(int row) => row < 2 ? h.StartBlock : checked(h.StartBlock << (row - 1));
            int maxDirectRows = 0;
            while (RowSize(maxDirectRows) <= h.MaxDirect) maxDirectRows++;
            var stack = new Stack<(long At, long Offset, int Rows)>();
            stack.Push((h.Root, 0, h.CurrentRows));
            while (stack.Count > 0)
            {
                var (at, offset, rows) = stack.Pop();
                string what = $"an indirect block of the fractal heap of '{path}'";
                if (rows is < 1 or > 64) throw Damaged($"{what} has {rows} rows");
                Once("fhib", at, what);
                int directRows = Math.Min(rows, maxDirectRows);
                long entries = (long)directRows * h.TableWidth + (long)(rows - directRows) * h.TableWidth;
                int headSize = 4 + 1 + _o + h.OffsetBytes;
                var b = Read(at, headSize + entries * _o, what);
                if (!Sig(b, "FHIB")) throw Damaged($"{what} at {at} has no FHIB signature");
                long blockOffset = (long)U(b, 5 + _o, h.OffsetBytes);
                if (blockOffset != offset) throw Damaged($"{what} at {at} says it starts at heap offset {blockOffset}; expected {offset}");
                long o = offset;
                int p = headSize;
                for (int row = 0; row < rows; row++)
                {
                    long size = RowSize(row);
                    for (int c = 0; c < h.TableWidth; c++, p += _o, o = checked(o + size))
                    {
                        long child = Addr(b, p, what);
                        if (child == Undef) continue;
                        if (row < maxDirectRows)
                        {
                            DirectBlock(h, child, o, size, path);
                            blocks.Add((o, size, child));
                        }
                        else
                        {
                            // An indirect child of a row of size S holds the rows up to S.
                            // An indirect child of a row whose blocks are S bytes has log2(S) - log2(start block * width) + 1 rows.
                            int childRows = Log2(size) - Log2(h.StartBlock) - Log2(h.TableWidth) + 1;
                            stack.Push((child, o, childRows));
                        }
                    }
                }
            }
            blocks.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        }

        void DirectBlock(FractalHeap h, long at, long offset, long size, string path)
        {
            string what = $"a direct block of the fractal heap of '{path}'";
            Once("fhdb", at, what);
            if (size > _length - at) throw Corrupt($"{what} ({size} bytes at {at}) lies past the end of the file");
            var b = Read(at, 5 + _o + h.OffsetBytes, what);
            if (!Sig(b, "FHDB")) throw Damaged($"{what} at {at} has no FHDB signature");
            long blockOffset = (long)U(b, 5 + _o, h.OffsetBytes);
            if (blockOffset != offset) throw Damaged($"{what} at {at} says it starts at heap offset {blockOffset}; expected {offset}");
        }

        /// <summary>
        /// Dense attribute storage (attribute info message): PureHDF walks its fractal heap and v2 B-tree
        /// when an attribute is asked for, so both are checked as a dense group's are; an attribute stored
        /// in the heap's managed blocks must lie inside them.
        /// </summary>
        void AttributeInfo(byte[] b, string path)
        {
            string what = $"the attribute info of '{path}'";
            int flags = b[1];
            int p = 2 + ((flags & 1) != 0 ? 2 : 0);
            long heapAt = Addr(b, p, what), indexAt = Addr(b, p + _o, what);
            if ((flags & 2) != 0) Addr(b, p + 2 * _o, what);
            if (heapAt == Undef) return;
            if (indexAt == Undef) throw Corrupt($"{what} has a fractal heap but no name index");
            var heap = ReadFractalHeap(heapAt, path + " (attributes)", filtersAllowed: true);
            if (heap.FilterLength != 0) { IndexRecords(indexAt, path, 8, "attribute name index"); return; } // filtered blocks: only the tree
            var blocks = new List<(long Offset, long Size, long At)>();
            CollectBlocks(heap, path + " (attributes)", blocks);
            foreach (var record in IndexRecords(indexAt, path, 8, "attribute name index"))
            {
                if (((record[0] >> 4) & 3) != 0) continue; // huge or tiny: not in the managed blocks
                long offset = (long)U(record, 1, heap.OffsetBytes);
                long length = (long)U(record, 1 + heap.OffsetBytes, heap.LengthBytes);
                var block = FindBlock(blocks, offset);
                if (block.At == Undef || length < 1 || offset + length > block.Offset + block.Size)
                    throw Corrupt($"an attribute of '{path}' points at heap offset {offset} ({length} bytes), outside the heap's blocks");
            }
        }

        /// <summary>The records of a v2 B-tree of the given type (5: link names, 8: attribute names), every node once.</summary>
        List<byte[]> IndexRecords(long at, string path, int expectedType, string kind)
        {
            string what = $"the {kind} of '{path}'";
            Once("bthd", at, what);
            var b = Read(at, 4 + 1 + 1 + 4 + 2 + 2 + 1 + 1 + _o + 2 + _l + 4, what);
            if (!Sig(b, "BTHD")) throw Damaged($"{what} at {at} has no BTHD signature");
            int type = b[5];
            long nodeSize = (long)U(b, 6, 4);
            int recordSize = (int)U(b, 10, 2), depth = (int)U(b, 12, 2);
            long root = Addr(b, 16, what);
            int rootRecords = (int)U(b, 16 + _o, 2);
            if (type != expectedType) throw Damaged($"{what} at {at} is a v2 B-tree of type {type}; expected {expectedType}");
            if (nodeSize is < 16 or > 1 << 24 || recordSize < 5 || depth > 32) throw Damaged($"{what} at {at} has impossible sizes");
            var records = new List<byte[]>();
            if (root == Undef || rootRecords == 0) return records;

            // Per depth: the most records a node holds and the width of the record counts in child pointers (libhdf5's H5B2 formulas).
            long maxLeaf = (nodeSize - 10) / recordSize;
            var maxRecs = new long[depth + 1];
            var cumRecs = new long[depth + 1];
            var countBytes = new int[depth + 1];
            var cumBytes = new int[depth + 1];
            maxRecs[0] = maxLeaf; cumRecs[0] = maxLeaf;
            countBytes[0] = MinBytes((ulong)maxLeaf); cumBytes[0] = countBytes[0];
            for (int d = 1; d <= depth; d++)
            {
                // libhdf5 sizes every child's record count by the leaf's maximum (max_nrec_size).
                int pointer = _o + countBytes[0] + (d > 1 ? cumBytes[d - 1] : 0);
                maxRecs[d] = (nodeSize - 10 - pointer) / (recordSize + pointer);
                if (maxRecs[d] < 1) throw Damaged($"{what} at {at} has nodes too small for its depth");
                countBytes[d] = MinBytes((ulong)maxRecs[d]);
                cumRecs[d] = (maxRecs[d] + 1) * cumRecs[d - 1] + maxRecs[d];
                if (cumRecs[d] < 0 || cumRecs[d] > long.MaxValue / 1024) cumRecs[d] = long.MaxValue / 1024;
                cumBytes[d] = MinBytes((ulong)cumRecs[d]);
            }
            var stack = new Stack<(long At, int Records, int Depth)>();
            stack.Push((root, rootRecords, depth));
            while (stack.Count > 0)
            {
                var (node, count, d) = stack.Pop();
                string nodeWhat = $"a node of the {kind} of '{path}'";
                Once("btnode", node, nodeWhat);
                if (count > maxRecs[d]) throw Damaged($"{nodeWhat} at {node} holds {count} records; at most {maxRecs[d]} fit");
                var n = Read(node, Math.Min(nodeSize, _length - node), nodeWhat);
                if (!Sig(n, d == 0 ? "BTLF" : "BTIN")) throw Damaged($"{nodeWhat} at {node} has no {(d == 0 ? "BTLF" : "BTIN")} signature");
                int p = 6;
                for (int i = 0; i < count; i++, p += recordSize)
                {
                    if (p + recordSize > n.Length) throw Damaged($"{nodeWhat} at {node} is cut short");
                    records.Add(n.AsSpan(p, recordSize).ToArray());
                }
                if (d == 0) continue;
                int pointer = _o + countBytes[0] + (d > 1 ? cumBytes[d - 1] : 0);
                for (int i = 0; i <= count; i++, p += pointer)
                {
                    if (p + pointer > n.Length) throw Damaged($"{nodeWhat} at {node} is cut short");
                    long child = Addr(n, p, nodeWhat);
                    int childCount = (int)U(n, p + _o, countBytes[0]);
                    if (child == Undef) throw Damaged($"{nodeWhat} at {node} has an undefined child");
                    stack.Push((child, childCount, d - 1));
                }
            }
            return records;
        }

        // ---- the link graph ----

        void CheckLinks()
        {
            // Every soft link resolves within MaxSoftLinkHops hops, or dangles (HDF5 allows that; reading it fails cleanly).
            var resolved = new Dictionary<(long Group, string Name), long>();
            foreach (var g in Groups.Values)
                foreach (var link in g.Links.Values)
                    if (link.Kind == LinkKind.Soft)
                    {
                        int hops = 0;
                        long target = Resolve(g, link, ref hops, Join(g.Path, link.Name));
                        if (target != Undef) resolved[(g.Header, link.Name)] = target;
                    }
            // No group reaches itself through links (hard, or soft as resolved): iterative DFS with colours.
            var state = new Dictionary<long, int>(); // 1 on the path, 2 done
            foreach (var start in Groups.Keys)
            {
                if (state.ContainsKey(start)) continue;
                var stack = new Stack<(long Node, IEnumerator<(long Target, string Name)> Next)>();
                state[start] = 1;
                stack.Push((start, Edges(start, resolved).GetEnumerator()));
                while (stack.Count > 0)
                {
                    var (node, next) = stack.Peek();
                    if (!next.MoveNext()) { state[node] = 2; stack.Pop(); continue; }
                    var (t, name) = next.Current;
                    if (!Groups.ContainsKey(t)) continue;
                    if (state.TryGetValue(t, out var s))
                    {
                        if (s == 1)
                            throw Corrupt($"link '{Join(Groups[node].Path, name)}' leads back to '{Groups[t].Path}', which holds it (a cycle of groups)");
                        continue;
                    }
                    state[t] = 1;
                    stack.Push((t, Edges(t, resolved).GetEnumerator()));
                }
            }
        }

        IEnumerable<(long, string)> Edges(long group, Dictionary<(long, string), long> resolved)
        {
            foreach (var link in Groups[group].Links.Values)
                if (link.Kind == LinkKind.Hard) yield return (link.Target, link.Name);
                else if (resolved.TryGetValue((group, link.Name), out var t)) yield return (t, link.Name);
        }

        /// <summary>The object a soft link names, Undef when it dangles; throws past the hop limit. Recursion is bounded by the limit.</summary>
        long Resolve(Group holder, Link link, ref int hops, string linkPath)
        {
            if (++hops > MaxSoftLinkHops)
                throw Corrupt($"soft link '{linkPath}' does not resolve within {MaxSoftLinkHops} hops (its links loop)");
            string value = link.Value;
            long current = value.StartsWith('/') ? _rootAt : holder.Header;
            foreach (var part in value.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                if (part == ".") continue;
                if (current == Undef || !Groups.TryGetValue(current, out var g) || !g.Links.TryGetValue(part, out var next)) return Undef;
                current = next.Kind == LinkKind.Hard ? next.Target : Resolve(g, next, ref hops, linkPath);
            }
            return current;
        }
    }
}
