using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace LstmPort.Containers;

/// <summary>A Python tuple from a pickle (immutable, compared by value so it can be a dict key).</summary>
public sealed class PyTuple : IEquatable<PyTuple>
{
    /// <summary>Tuples nest at most this deep: comparing two tuples recurses through them.</summary>
    public const int MaxDepth = 1000;
    readonly int _hash;

    public PyTuple(object?[] items)
    {
        Items = items;
        int h = 17, depth = 1;
        foreach (var o in items)
        {
            // Children hash and measure in O(1): their own values are cached, so no deep recursion.
            h = h * 31 + PyDict.KeyComparer.GetHashCode(o!);
            if (o is PyTuple t && t.Depth + 1 > depth) depth = t.Depth + 1;
        }
        if (depth > MaxDepth) throw new PickleLimitException($"tuples nested deeper than {MaxDepth}");
        _hash = h;
        Depth = depth;
    }

    public object?[] Items { get; }
    public int Count => Items.Length;
    /// <summary>1 for a tuple of no tuples, else one more than its deepest tuple.</summary>
    public int Depth { get; }
    public object? this[int i] => Items[i];
    /// <summary>
    /// Compared by value without recursion, and each pair of tuples once: a pickle can share one tuple
    /// many times through its memo ((t, t) nested 60 deep), which a plain recursive comparison would
    /// walk 2^60 times.
    /// </summary>
    public bool Equals(PyTuple? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        if (_hash != other._hash || Items.Length != other.Items.Length) return false;
        var pending = new Stack<(PyTuple A, PyTuple B)>();
        HashSet<(PyTuple, PyTuple)>? seen = null;
        pending.Push((this, other));
        while (pending.Count > 0)
        {
            var (a, b) = pending.Pop();
            for (int i = 0; i < a.Items.Length; i++)
            {
                object? x = a.Items[i], y = b.Items[i];
                if (ReferenceEquals(x, y)) continue;
                if (x is PyTuple tx && y is PyTuple ty)
                {
                    if (tx._hash != ty._hash || tx.Items.Length != ty.Items.Length) return false;
                    seen ??= new(PairComparer.Instance);
                    if (seen.Add((tx, ty))) pending.Push((tx, ty));
                }
                else if (x is PyTuple || y is PyTuple || !PyDict.KeyComparer.Equals(x, y)) return false;
            }
        }
        return true;
    }

    sealed class PairComparer : IEqualityComparer<(PyTuple, PyTuple)>
    {
        public static readonly PairComparer Instance = new();
        public bool Equals((PyTuple, PyTuple) a, (PyTuple, PyTuple) b) => ReferenceEquals(a.Item1, b.Item1) && ReferenceEquals(a.Item2, b.Item2);
        public int GetHashCode((PyTuple, PyTuple) p) =>
            HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(p.Item1), System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(p.Item2));
    }
    public override bool Equals(object? obj) => Equals(obj as PyTuple);
    public override int GetHashCode() => _hash;
}

/// <summary>A limit of <see cref="PickleReader"/> was reached (turned into an error naming the file).</summary>
internal sealed class PickleLimitException(string what) : Exception(what);

/// <summary>A Python dict or OrderedDict from a pickle, in insertion order.</summary>
public sealed class PyDict
{
    internal static readonly IEqualityComparer<object?> KeyComparer = new ValueComparer();
    // Most dicts of a pickle are tiny (a tensor's empty hooks OrderedDict): searched in order, indexed
    // only once they grow, so a pickle of many dicts costs little memory per dict.
    const int IndexFrom = 8;
    Dictionary<object, int>? _index;
    readonly List<KeyValuePair<object?, object?>> _items = [];

    public IReadOnlyList<KeyValuePair<object?, object?>> Items => _items;
    public int Count => _items.Count;
    /// <summary>The state a BUILD opcode set (OrderedDict's <c>_metadata</c>); kept, never interpreted.</summary>
    public object? State { get; set; }

    public void Set(object? key, object? value)
    {
        var k = key ?? NullKey;
        int i = Find(k);
        if (i >= 0) { _items[i] = new(key, value); return; }
        _items.Add(new(key, value));
        if (_index is not null) _index[k] = _items.Count - 1;
        else if (_items.Count > IndexFrom)
        {
            _index = new(KeyComparer!);
            for (int j = 0; j < _items.Count; j++) _index[_items[j].Key ?? NullKey] = j;
        }
    }

    public bool TryGet(object? key, out object? value)
    {
        int i = Find(key ?? NullKey);
        value = i >= 0 ? _items[i].Value : null;
        return i >= 0;
    }

    int Find(object k)
    {
        if (_index is not null) return _index.TryGetValue(k, out int i) ? i : -1;
        for (int j = 0; j < _items.Count; j++)
            if (KeyComparer.Equals(_items[j].Key ?? NullKey, k)) return j;
        return -1;
    }

    static readonly object NullKey = new();

    sealed class ValueComparer : IEqualityComparer<object?>
    {
        public new bool Equals(object? a, object? b) => a is null ? b is null : a.Equals(b);
        public int GetHashCode(object? o) => o?.GetHashCode() ?? 0;
    }
}

/// <summary>A Python set or frozenset (kept as a list; only ever data).</summary>
public sealed class PySet(List<object?> items)
{
    public List<object?> Items { get; } = items;
}

/// <summary>
/// A global the resolver does not allow, named and nothing else: it is never imported, and calling
/// it builds a <see cref="PyObject"/> record instead of calling anything.
/// </summary>
public sealed class PyGlobal(string module, string name)
{
    public string Module { get; } = module;
    public string Name { get; } = name;
    public string FullName => $"{Module}.{Name}";
    public override string ToString() => FullName;
}

/// <summary>
/// What a pickle would have made by calling a <see cref="PyGlobal"/> (or such an object) through
/// REDUCE, NEWOBJ, INST or OBJ: an inert record of the callable and its arguments, plus what the
/// pickle then puts into it (BUILD state, SETITEM(S) items of a dict subclass, APPEND(S) items of
/// a list subclass). No constructor, <c>__setstate__</c> or <c>__setitem__</c> of the class runs.
/// </summary>
public sealed class PyObject(object callable, PyTuple args)
{
    /// <summary>The <see cref="PyGlobal"/> (or <see cref="PyObject"/>) the pickle called.</summary>
    public object Callable { get; } = callable;
    public PyTuple Args { get; } = args;
    /// <summary>What BUILD gave (an instance's <c>__dict__</c>, or a (dict, slots) tuple, or anything); null when none.</summary>
    public object? State { get; internal set; }
    /// <summary>Items set on it as on a dict (defaultdict, Counter, ...); null when none.</summary>
    public PyDict? Items { get; internal set; }
    /// <summary>Items appended to it as to a list; null when none.</summary>
    public List<object?>? List { get; internal set; }

    /// <summary>The global it was made from, through any chain of calls.</summary>
    public PyGlobal? Class
    {
        get
        {
            // A loop, not recursion: REDUCE on the result of REDUCE ... chains as long as the pickle likes.
            object c = Callable;
            while (c is PyObject o) c = o.Callable;
            return c as PyGlobal;
        }
    }
}

/// <summary>What a pickle may call: the allow-list lives here, the VM only dispatches.</summary>
public interface IPickleResolver
{
    /// <summary>
    /// Resolves a GLOBAL: an opaque token of the resolver's own for what it allows, a
    /// <see cref="PyGlobal"/> for what it leaves inert, or an exception to refuse the pickle at once.
    /// </summary>
    object Global(string module, string name);
    /// <summary>Calls a token from <see cref="Global"/> with data arguments (REDUCE, NEWOBJ, INST, OBJ).</summary>
    object? Call(object callable, PyTuple args);
    object? PersistentLoad(object? pid);
    /// <summary>BUILD: applies state to an object the resolver made (or a dict).</summary>
    void Build(object? target, object? state);
}

/// <summary>
/// A pickle virtual machine (protocols 0 to 5) that builds only data: None, bool, int, float, str,
/// bytes, list, tuple, dict, set, plus whatever the resolver's allow-list returns. It never imports,
/// instantiates or calls anything itself; every GLOBAL, REDUCE, NEWOBJ, INST, OBJ, BUILD and
/// persistent id goes through <see cref="IPickleResolver"/>, except calls of the inert
/// <see cref="PyGlobal"/>s it returns, which become <see cref="PyObject"/> records. Extension codes
/// go to the resolver as the global <c>copyreg._extension_registry.&lt;code&gt;</c>; out-of-band
/// buffers are refused. Every length is checked against the bytes left before anything is
/// allocated, and the stack, the MARK nesting, the memo and the number of containers built are
/// bounded (<see cref="Limits"/>), so a hostile pickle cannot make it use memory out of proportion
/// to its size.
/// </summary>
public sealed class PickleReader
{
    /// <summary>Bounds on what one pickle may make the reader hold; beyond them it fails with PickleLimitExceeded.</summary>
    /// <param name="Nesting">
    /// How deep containers (tuples, lists, dicts, sets, objects, an object's callable and state) may nest.
    /// Python's pickler recurses once per level and stops near its recursion limit (1000), so a genuine
    /// file stays below this; what walks the result (hashing keys, naming tensors) need not recurse deeper.
    /// Measured where each container is built or filled; a pickle can still nest deeper through its
    /// memo (filling a container after it was put into another), so walks keep their own bounds.
    /// </param>
    public sealed record Limits(int Stack = 1_000_000, int Marks = 10_000, int Memo = 4_000_000, long Containers = 2_000_000, int IntDigits = 4300,
        int Nesting = 1000)
    {
        public static Limits Default { get; } = new();
    }

    readonly Stream _s;
    readonly long _end;
    readonly IPickleResolver _resolver;
    readonly string _path;
    readonly Limits _limits;
    readonly List<object?> _stack = [];
    readonly Stack<int> _marks = new();
    readonly Dictionary<long, object?> _memo = [];
    // Nesting depth of the containers that hold containers (1 is implied for the others, so this stays small).
    readonly Dictionary<object, int> _depth = new(ReferenceEqualityComparer.Instance);
    long _containers;

    /// <param name="stream">Positioned at the pickle; left just after its STOP opcode.</param>
    /// <param name="end">The stream position the pickle may not read past.</param>
    public PickleReader(Stream stream, long end, IPickleResolver resolver, string path, Limits? limits = null)
    {
        _s = stream;
        _end = end;
        _resolver = resolver;
        _path = path;
        _limits = limits ?? Limits.Default;
    }

    public static object? Load(byte[] data, IPickleResolver resolver, string path, Limits? limits = null)
    {
        using var ms = new MemoryStream(data, writable: false);
        return new PickleReader(ms, data.LongLength, resolver, path, limits).Load();
    }

    public object? Load()
    {
        try { return Run(); }
        catch (PickleLimitException e)
        {
            throw new LstmPortException(ErrorIds.PickleLimitExceeded,
                $"'{_path}': its pickle goes past a limit LstmPort sets to bound memory ({e.Message}); a genuine file does not.", _path);
        }
    }

    object? Run()
    {
        while (true)
        {
            int op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    int proto = ReadByte();
                    if (proto > 5) throw Corrupt($"pickle protocol {proto} is newer than 5");
                    break;
                case 0x95: Skip(8); break; // FRAME: framing is only a read-ahead hint
                case '.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Corrupt("the pickle stops with an unbalanced stack");
                    return _stack[0];

                case '(': // MARK
                    if (_marks.Count >= _limits.Marks) throw new PickleLimitException($"MARKs nested deeper than {_limits.Marks}");
                    _marks.Push(_stack.Count);
                    break;
                case '0': // POP (protocol 0 pops a MARK this way after a recursive tuple)
                    if (_marks.Count > 0 && _stack.Count == _marks.Peek()) _marks.Pop();
                    else Pop();
                    break;
                case '1': PopMark(); break; // POP_MARK
                case '2': Push(Peek()); break; // DUP

                case 'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case 'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Read(4))); break; // BININT
                case 'K': Push((long)ReadByte()); break; // BININT1
                case 'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Read(2))); break; // BININT2
                case 0x8a: Push(Long(Read(ReadByte()))); break; // LONG1
                case 0x8b: Push(Long(Read(ReadLength(4)))); break; // LONG4
                case 'I': Push(ParseInt(ReadLine())); break; // INT (also encodes True/False as 01/00)
                case 'L': Push(ParseLong(ReadLine())); break; // LONG
                case 'F': Push(ParseFloat(ReadLine())); break; // FLOAT
                case 'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Read(8))); break; // BINFLOAT

                case 'X': Push(Utf8(Read(ReadLength(4)))); break; // BINUNICODE
                case 0x8c: Push(Utf8(Read(ReadByte()))); break; // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(Read(ReadLength(8)))); break; // BINUNICODE8
                case 'V': Push(UnicodeEscape(ReadLine())); break; // UNICODE
                case 'T': Push(Latin1(Read(ReadLength(4)))); break; // BINSTRING (py2 str)
                case 'U': Push(Latin1(Read(ReadByte()))); break; // SHORT_BINSTRING
                case 'S': Push(PyStringLiteral(ReadLine())); break; // STRING
                case 'B': Push(Read(ReadLength(4))); break; // BINBYTES
                case 'C': Push(Read(ReadByte())); break; // SHORT_BINBYTES
                case 0x8e: Push(Read(ReadLength(8))); break; // BINBYTES8
                case 0x96: Push(Read(ReadLength(8))); break; // BYTEARRAY8

                case ')': Push(Tuple([])); break; // EMPTY_TUPLE
                case 't': Push(Tuple(PopMark().ToArray())); break; // TUPLE
                case 0x85: Push(Tuple([Pop()])); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(Tuple([a, b])); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(Tuple([a, b, c])); break; } // TUPLE3
                case ']': Push(Counted(new List<object?>())); break; // EMPTY_LIST
                case 'l': Push(Nest(Counted(PopMark()))); break; // LIST
                case 'a': { var v = Pop(); AsList(Peek()).Add(v); Raise(Peek(), Depth(v) + 1); break; } // APPEND
                case 'e': { var items = PopMark(); AsList(Peek()).AddRange(items); Nest(Peek()!, items); break; } // APPENDS
                case '}': Push(Counted(new PyDict())); break; // EMPTY_DICT
                case 'd': { var items = PopMark(); Push(DictOf(items)); break; } // DICT
                case 's': { var v = Pop(); var k = Pop(); AsDict(Peek()).Set(k, v); Raise(Peek(), Math.Max(Depth(k), Depth(v)) + 1); break; } // SETITEM
                case 'u': // SETITEMS
                {
                    var items = PopMark();
                    if (items.Count % 2 != 0) throw Corrupt("SETITEMS has an odd number of items");
                    var d = AsDict(Peek());
                    for (int i = 0; i < items.Count; i += 2) d.Set(items[i], items[i + 1]);
                    Nest(Peek()!, items);
                    break;
                }
                case 0x8f: Push(Counted(new PySet([]))); break; // EMPTY_SET
                case 0x90: { var items = PopMark(); AsSetItems(Peek()).AddRange(items); Nest(Peek()!, items); break; } // ADDITEMS
                case 0x91: { var items = PopMark(); Push(Nest(Counted(new PySet(items)), items)); break; } // FROZENSET

                case 'p': Memoize(ParseIndex(ReadLine())); break; // PUT
                case 'q': Memoize(ReadByte()); break; // BINPUT
                case 'r': Memoize(BinaryPrimitives.ReadUInt32LittleEndian(Read(4))); break; // LONG_BINPUT
                case 0x94: Memoize(_memo.Count); break; // MEMOIZE
                case 'g': Push(Memo(ParseIndex(ReadLine()))); break; // GET
                case 'h': Push(Memo(ReadByte())); break; // BINGET
                case 'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Read(4)))); break; // LONG_BINGET

                case 'c': // GLOBAL module\nname\n
                {
                    var module = ReadLine();
                    var name = ReadLine();
                    Push(_resolver.Global(module, name));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Corrupt("STACK_GLOBAL needs two strings");
                    var module = Pop() as string ?? throw Corrupt("STACK_GLOBAL needs two strings");
                    Push(_resolver.Global(module, name));
                    break;
                }
                case 'R': { var args = AsTuple(Pop()); var f = Pop(); Push(Call(f, args)); break; } // REDUCE
                case 0x81: { var args = AsTuple(Pop()); var cls = Pop(); Push(Call(cls, args)); break; } // NEWOBJ
                case 0x92: // NEWOBJ_EX
                {
                    var kwargs = Pop();
                    var args = AsTuple(Pop());
                    var cls = Pop();
                    if (cls is PyGlobal or PyObject) { Push(Call(cls, Tuple([.. args.Items, kwargs]))); break; }
                    if (kwargs is not PyDict { Count: 0 }) throw Corrupt("NEWOBJ_EX with keyword arguments");
                    Push(Call(cls, args));
                    break;
                }
                case 'i': // INST module\nname\n: a class from the text, arguments from the mark
                {
                    var module = ReadLine();
                    var name = ReadLine();
                    var cls = _resolver.Global(module, name);
                    Push(Call(cls, Tuple(PopMark().ToArray())));
                    break;
                }
                case 'o': // OBJ: class and arguments from the mark
                {
                    var items = PopMark();
                    if (items.Count == 0) throw Corrupt("OBJ without a class");
                    Push(Call(items[0], Tuple(items.Skip(1).ToArray())));
                    break;
                }
                case 'b': // BUILD
                {
                    var state = Pop();
                    if (Peek() is PyObject o) o.State = state;
                    else _resolver.Build(Peek(), state);
                    Raise(Peek(), Depth(state) + 1);
                    break;
                }
                case 'P': Push(_resolver.PersistentLoad(ReadLine())); break; // PERSID
                case 'Q': Push(_resolver.PersistentLoad(Pop())); break; // BINPERSID

                case 0x82: Push(Extension(ReadByte())); break; // EXT1
                case 0x83: Push(Extension(BinaryPrimitives.ReadUInt16LittleEndian(Read(2)))); break; // EXT2
                case 0x84: Push(Extension(BinaryPrimitives.ReadInt32LittleEndian(Read(4)))); break; // EXT4
                case 0x97 or 0x98:
                    throw Corrupt("the pickle uses out-of-band buffers (NEXT_BUFFER / READONLY_BUFFER), which a file cannot supply");
                default:
                    throw new LstmPortException(ErrorIds.UnknownPickleOpcode,
                        $"'{_path}' is not a valid PyTorch file: unknown pickle opcode 0x{op:x2} at byte {_s.Position - 1}.", _path);
            }
        }
    }

    // ---- calls: inert records for what the resolver leaves inert, the resolver for its own tokens ----

    object? Call(object? callable, PyTuple args)
    {
        switch (callable)
        {
            case PyGlobal or PyObject:
            {
                // A record holds its callable (a chain of calls nests) and its arguments.
                var o = Counted(new PyObject(callable, args));
                Raise(o, Math.Max(Depth(callable), Depth(args) - 1) + 1);
                return o;
            }
            case null: throw Corrupt("the pickle calls None");
            default:
            {
                // What the resolver builds (an OrderedDict from pairs, a tensor record) holds its arguments,
                // unless it returns one of them as it is (a list builder).
                var r = _resolver.Call(callable, args);
                if (r is not null && !IsScalar(r) && Array.IndexOf(args.Items, r) < 0) Nest(r, args.Items);
                return r;
            }
        }
    }

    // The copyreg extension registry maps a code to a global the unpickling process registered; a
    // file cannot know it, so it goes to the resolver under a name that says what it is.
    object Extension(long code) => _resolver.Global("copyreg._extension_registry", code.ToString(System.Globalization.CultureInfo.InvariantCulture));

    // ---- stack ----

    void Push(object? o)
    {
        if (_stack.Count >= _limits.Stack) throw new PickleLimitException($"a stack of more than {_limits.Stack} items");
        _stack.Add(o);
    }

    object? Pop()
    {
        if (_stack.Count == 0 || _marks.Count > 0 && _stack.Count == _marks.Peek()) throw Corrupt("the pickle pops from an empty stack");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    object? Peek() => _stack.Count == 0 || _marks.Count > 0 && _stack.Count == _marks.Peek()
        ? throw Corrupt("the pickle reads from an empty stack") : _stack[^1];

    List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Corrupt("the pickle closes a MARK it never opened");
        int at = _marks.Pop();
        var items = _stack.GetRange(at, _stack.Count - at);
        _stack.RemoveRange(at, _stack.Count - at);
        return items;
    }

    void Memoize(long index)
    {
        if (_memo.Count >= _limits.Memo && !_memo.ContainsKey(index)) throw new PickleLimitException($"more than {_limits.Memo} memo entries");
        _memo[index] = Peek();
    }

    object? Memo(long i) => _memo.TryGetValue(i, out var o) ? o : throw Corrupt($"the pickle reads memo {i}, which was never stored");

    T Counted<T>(T container)
    {
        if (++_containers > _limits.Containers) throw new PickleLimitException($"more than {_limits.Containers} containers and objects");
        return container;
    }

    PyTuple Tuple(object?[] items) => Nest(Counted(new PyTuple(items)), items);

    // ---- nesting ----

    static bool IsScalar(object o) => o is string or long or double or bool or BigInteger or byte[];

    /// <summary>How deep o nests: 0 for a scalar, 1 for a container of scalars (the default of any container not in the table).</summary>
    int Depth(object? o) => o is null || IsScalar(o) ? 0 : _depth.TryGetValue(o, out var d) ? d : 1;

    /// <summary>Records that container holds items (added now, or all it has).</summary>
    T Nest<T>(T container, IEnumerable<object?> items) where T : notnull
    {
        int d = 0;
        foreach (var o in items) { int x = Depth(o); if (x > d) d = x; }
        Raise(container, d + 1);
        return container;
    }

    T Nest<T>(T container) where T : List<object?> => Nest(container, container);

    void Raise(object? container, int depth)
    {
        if (container is null || depth <= 1 || IsScalar(container)) return;
        if (depth > _limits.Nesting) throw new PickleLimitException($"containers nested deeper than {_limits.Nesting}");
        if (!_depth.TryGetValue(container, out var d) || depth > d) _depth[container] = depth;
    }

    // Dict and list subclasses the pickle leaves inert (defaultdict, Counter, ...) still receive their items.
    List<object?> AsList(object? o) => o switch
    {
        List<object?> l => l,
        PyObject p => p.List ??= [],
        _ => throw Corrupt($"APPEND to a {TypeName(o)}, not a list"),
    };

    PyDict AsDict(object? o) => o switch
    {
        PyDict d => d,
        PyObject p => p.Items ??= Counted(new PyDict()),
        _ => throw Corrupt($"SETITEM on a {TypeName(o)}, not a dict"),
    };

    List<object?> AsSetItems(object? o) => o switch
    {
        PySet s => s.Items,
        PyObject p => p.List ??= [],
        _ => throw Corrupt($"ADDITEMS on a {TypeName(o)}, not a set"),
    };

    PyTuple AsTuple(object? o) => o as PyTuple ?? throw Corrupt($"call arguments are a {TypeName(o)}, not a tuple");

    PyDict DictOf(List<object?> items)
    {
        if (items.Count % 2 != 0) throw Corrupt("DICT has an odd number of items");
        var d = Counted(new PyDict());
        for (int i = 0; i < items.Count; i += 2) d.Set(items[i], items[i + 1]);
        return Nest(d, items);
    }

    public static string TypeName(object? o) => o switch
    {
        null => "None", string => "str", long or BigInteger => "int", double => "float", bool => "bool",
        byte[] => "bytes", List<object?> => "list", PyTuple => "tuple", PyDict => "dict", PySet => "set",
        PyGlobal g => g.FullName, PyObject p => p.Class is { } c ? $"{c.FullName} object" : "object",
        _ => o.GetType().Name,
    };

    // ---- input ----

    int ReadByte()
    {
        if (_s.Position >= _end) throw Truncated();
        int b = _s.ReadByte();
        return b < 0 ? throw Truncated() : b;
    }

    void Skip(long n)
    {
        if (n < 0 || n > _end - _s.Position) throw Truncated();
        _s.Position += n;
    }

    byte[] Read(long n)
    {
        if (n < 0 || n > _end - _s.Position) throw Truncated();
        var b = new byte[n];
        _s.ReadExactly(b);
        return b;
    }

    long ReadLength(int bytes)
    {
        var b = Read(bytes);
        ulong n = bytes == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(b) : BinaryPrimitives.ReadUInt64LittleEndian(b);
        // Checked here, so a hostile length never reaches an allocation.
        if (n > (ulong)(_end - _s.Position)) throw Truncated();
        return (long)n;
    }

    string ReadLine()
    {
        var sb = new StringBuilder();
        while (true)
        {
            int b = ReadByte();
            if (b == '\n') return sb.ToString();
            if (sb.Length > 1 << 16) throw Corrupt("a text argument of the pickle is longer than 64 KB");
            sb.Append((char)b);
        }
    }

    // ---- values ----

    static object Long(byte[] le)
    {
        if (le.Length == 0) return 0L;
        var v = new BigInteger(le, isUnsigned: false, isBigEndian: false);
        // Not a ?: expression: its type would be BigInteger, and every LONG1 (any int past 2^31, such
        // as the size of a storage over 2 G elements) would come back as one.
        if (v >= long.MinValue && v <= long.MaxValue) return (long)v;
        return v;
    }

    object ParseInt(string s)
    {
        if (s == "01") return true;
        if (s == "00") return false;
        return ParseLong(s);
    }

    object ParseLong(string s)
    {
        s = s.TrimEnd('L');
        // Decimal parsing is quadratic: bounded as Python bounds int(str) (4300 digits).
        if (s.Length > _limits.IntDigits) throw new PickleLimitException($"an integer of more than {_limits.IntDigits} digits");
        if (long.TryParse(s, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var l)) return l;
        if (BigInteger.TryParse(s, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var b)) return b;
        throw Corrupt($"'{s}' is not an integer");
    }

    double ParseFloat(string s) =>
        double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)
            ? d : throw Corrupt($"'{s}' is not a float");

    long ParseIndex(string s) =>
        long.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i)
            ? i : throw Corrupt($"'{s}' is not a memo index");

    string Utf8(byte[] b)
    {
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(b); }
        catch (DecoderFallbackException) { throw Corrupt("a string is not valid UTF-8"); }
    }

    static string Latin1(byte[] b) => Encoding.Latin1.GetString(b);

    // Protocol 0 text: 'abc' or "abc" with Python escapes; raw-unicode-escape for UNICODE.
    string PyStringLiteral(string s)
    {
        if (s.Length < 2 || s[0] != s[^1] || (s[0] != '\'' && s[0] != '"')) throw Corrupt("STRING argument is not quoted");
        return Unescape(s[1..^1]);
    }

    string UnicodeEscape(string s) => Unescape(s);

    string Unescape(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\' || i + 1 == s.Length) { sb.Append(s[i]); continue; }
            char c = s[++i];
            switch (c)
            {
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'x' when i + 2 < s.Length: sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 2), 16)); i += 2; break;
                case 'u' when i + 4 < s.Length: sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 4), 16)); i += 4; break;
                default: sb.Append('\\').Append(c); break;
            }
        }
        return sb.ToString();
    }

    LstmPortException Truncated() =>
        new(ErrorIds.TruncatedFile, $"'{_path}' is truncated: its pickle ends before its STOP opcode.", _path);

    LstmPortException Corrupt(string what) =>
        new(ErrorIds.CorruptFile, $"'{_path}' is not a valid PyTorch file: {what}.", _path);
}
