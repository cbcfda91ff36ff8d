using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace LstmPort.Containers;

/// <summary>A Python tuple from a pickle (immutable, compared by value so it can be a dict key).</summary>
public sealed class PyTuple(object?[] items) : IEquatable<PyTuple>
{
    public object?[] Items { get; } = items;
    public int Count => Items.Length;
    public object? this[int i] => Items[i];
    public bool Equals(PyTuple? other) => other is not null && Items.Length == other.Items.Length
        && Items.Zip(other.Items).All(p => PyDict.KeyComparer.Equals(p.First, p.Second));
    public override bool Equals(object? obj) => Equals(obj as PyTuple);
    public override int GetHashCode() => Items.Aggregate(17, (h, o) => h * 31 + PyDict.KeyComparer.GetHashCode(o!));
}

/// <summary>A Python dict or OrderedDict from a pickle, in insertion order.</summary>
public sealed class PyDict
{
    internal static readonly IEqualityComparer<object?> KeyComparer = new ValueComparer();
    readonly Dictionary<object, int> _index = new(KeyComparer!);
    readonly List<KeyValuePair<object?, object?>> _items = [];

    public IReadOnlyList<KeyValuePair<object?, object?>> Items => _items;
    public int Count => _items.Count;
    /// <summary>The state a BUILD opcode set (OrderedDict's <c>_metadata</c>); kept, never interpreted.</summary>
    public object? State { get; set; }

    public void Set(object? key, object? value)
    {
        var k = key ?? NullKey;
        if (_index.TryGetValue(k, out int i)) _items[i] = new(key, value);
        else { _index[k] = _items.Count; _items.Add(new(key, value)); }
    }

    public bool TryGet(object? key, out object? value)
    {
        if (_index.TryGetValue(key ?? NullKey, out int i)) { value = _items[i].Value; return true; }
        value = null;
        return false;
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

/// <summary>What a pickle may call: the allow-list lives here, the VM only dispatches.</summary>
public interface IPickleResolver
{
    /// <summary>Resolves a GLOBAL; throws for anything not allow-listed. Returns an opaque token.</summary>
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
/// persistent id goes through <see cref="IPickleResolver"/>. Extension codes and out-of-band buffers
/// are refused. Every length is checked against the bytes left before anything is allocated.
/// </summary>
public sealed class PickleReader
{
    const int MaxDepth = 100_000;
    readonly Stream _s;
    readonly long _end;
    readonly IPickleResolver _resolver;
    readonly string _path;
    List<object?> _stack = [];
    readonly Stack<List<object?>> _marks = new();
    readonly Dictionary<long, object?> _memo = [];

    /// <param name="stream">Positioned at the pickle; left just after its STOP opcode.</param>
    /// <param name="end">The stream position the pickle may not read past.</param>
    public PickleReader(Stream stream, long end, IPickleResolver resolver, string path)
    {
        _s = stream;
        _end = end;
        _resolver = resolver;
        _path = path;
    }

    public static object? Load(byte[] data, IPickleResolver resolver, string path)
    {
        using var ms = new MemoryStream(data, writable: false);
        return new PickleReader(ms, data.LongLength, resolver, path).Load();
    }

    public object? Load()
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

                case '(': _marks.Push(_stack); _stack = []; break; // MARK
                case '0': Pop(); break; // POP
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

                case ')': Push(new PyTuple([])); break; // EMPTY_TUPLE
                case 't': Push(new PyTuple(PopMark().ToArray())); break; // TUPLE
                case 0x85: Push(new PyTuple([Pop()])); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new PyTuple([a, b])); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PyTuple([a, b, c])); break; } // TUPLE3
                case ']': Push(new List<object?>()); break; // EMPTY_LIST
                case 'l': Push(PopMark()); break; // LIST
                case 'a': { var v = Pop(); AsList(Peek()).Add(v); break; } // APPEND
                case 'e': { var items = PopMark(); AsList(Peek()).AddRange(items); break; } // APPENDS
                case '}': Push(new PyDict()); break; // EMPTY_DICT
                case 'd': { var items = PopMark(); Push(DictOf(items)); break; } // DICT
                case 's': { var v = Pop(); var k = Pop(); AsDict(Peek()).Set(k, v); break; } // SETITEM
                case 'u': // SETITEMS
                {
                    var items = PopMark();
                    if (items.Count % 2 != 0) throw Corrupt("SETITEMS has an odd number of items");
                    var d = AsDict(Peek());
                    for (int i = 0; i < items.Count; i += 2) d.Set(items[i], items[i + 1]);
                    break;
                }
                case 0x8f: Push(new PySet([])); break; // EMPTY_SET
                case 0x90: { var items = PopMark(); AsSet(Peek()).Items.AddRange(items); break; } // ADDITEMS
                case 0x91: Push(new PySet(PopMark())); break; // FROZENSET

                case 'p': _memo[ParseIndex(ReadLine())] = Peek(); break; // PUT
                case 'q': _memo[ReadByte()] = Peek(); break; // BINPUT
                case 'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Read(4))] = Peek(); break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
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
                case 'R': { var args = AsTuple(Pop()); var f = Pop(); Push(_resolver.Call(f!, args)); break; } // REDUCE
                case 0x81: { var args = AsTuple(Pop()); var cls = Pop(); Push(_resolver.Call(cls!, args)); break; } // NEWOBJ
                case 0x92: // NEWOBJ_EX
                {
                    var kwargs = Pop();
                    var args = AsTuple(Pop());
                    var cls = Pop();
                    if (kwargs is not PyDict { Count: 0 }) throw Corrupt("NEWOBJ_EX with keyword arguments");
                    Push(_resolver.Call(cls!, args));
                    break;
                }
                case 'i': // INST module\nname\n: a class from the text, arguments from the mark
                {
                    var module = ReadLine();
                    var name = ReadLine();
                    var cls = _resolver.Global(module, name);
                    Push(_resolver.Call(cls, new PyTuple(PopMark().ToArray())));
                    break;
                }
                case 'o': // OBJ: class and arguments from the mark
                {
                    var items = PopMark();
                    if (items.Count == 0) throw Corrupt("OBJ without a class");
                    Push(_resolver.Call(items[0]!, new PyTuple(items.Skip(1).ToArray())));
                    break;
                }
                case 'b': { var state = Pop(); _resolver.Build(Peek(), state); break; } // BUILD
                case 'P': Push(_resolver.PersistentLoad(ReadLine())); break; // PERSID
                case 'Q': Push(_resolver.PersistentLoad(Pop())); break; // BINPERSID

                case 0x82 or 0x83 or 0x84:
                    throw new LstmPortException(ErrorIds.UnsafePickleGlobal,
                        $"'{_path}': the pickle refers to an object through the copyreg extension registry (opcode EXT); only tensors and plain containers are loaded.", _path);
                case 0x97 or 0x98:
                    throw Corrupt("the pickle uses out-of-band buffers (NEXT_BUFFER / READONLY_BUFFER), which a file cannot supply");
                default:
                    throw new LstmPortException(ErrorIds.UnknownPickleOpcode,
                        $"'{_path}' is not a valid PyTorch file: unknown pickle opcode 0x{op:x2} at byte {_s.Position - 1}.", _path);
            }
        }
    }

    // ---- stack ----

    void Push(object? o)
    {
        if (_stack.Count >= MaxDepth) throw Corrupt("the pickle stack is deeper than 100000");
        _stack.Add(o);
    }

    object? Pop()
    {
        if (_stack.Count == 0) throw Corrupt("the pickle pops from an empty stack");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    object? Peek() => _stack.Count == 0 ? throw Corrupt("the pickle reads from an empty stack") : _stack[^1];

    List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Corrupt("the pickle closes a MARK it never opened");
        var items = _stack;
        _stack = _marks.Pop();
        return items;
    }

    object? Memo(long i) => _memo.TryGetValue(i, out var o) ? o : throw Corrupt($"the pickle reads memo {i}, which was never stored");

    List<object?> AsList(object? o) => o as List<object?> ?? throw Corrupt($"APPEND to a {TypeName(o)}, not a list");
    PyDict AsDict(object? o) => o as PyDict ?? throw Corrupt($"SETITEM on a {TypeName(o)}, not a dict");
    PySet AsSet(object? o) => o as PySet ?? throw Corrupt($"ADDITEMS on a {TypeName(o)}, not a set");
    PyTuple AsTuple(object? o) => o as PyTuple ?? throw Corrupt($"call arguments are a {TypeName(o)}, not a tuple");

    PyDict DictOf(List<object?> items)
    {
        if (items.Count % 2 != 0) throw Corrupt("DICT has an odd number of items");
        var d = new PyDict();
        for (int i = 0; i < items.Count; i += 2) d.Set(items[i], items[i + 1]);
        return d;
    }

    internal static string TypeName(object? o) => o switch
    {
        null => "None", string => "str", long or BigInteger => "int", double => "float", bool => "bool",
        byte[] => "bytes", List<object?> => "list", PyTuple => "tuple", PyDict => "dict", PySet => "set",
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
        return v >= long.MinValue && v <= long.MaxValue ? (long)v : v;
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
