using System.Text;
using LstmPort.Containers;

namespace LstmPort.Tests;

/// <summary>
/// The pickle VM on its own: what a resolver leaves inert stays inert (nothing is called, whatever
/// opcode asks), and the memory a pickle can make it hold is bounded by its limits.
/// </summary>
public sealed class PickleReaderTests
{
    /// <summary>Allows only 'safe.Box' (a token whose calls it records); everything else stays an inert PyGlobal.</summary>
    sealed class Recorder : IPickleResolver
    {
        public List<string> Globals { get; } = [];
        public List<object> Calls { get; } = [];
        public object Global(string module, string name)
        {
            Globals.Add($"{module}.{name}");
            return module == "safe" ? "box-token" : new PyGlobal(module, name);
        }
        public object? Call(object callable, PyTuple args) { Calls.Add(callable); return new PyDict(); }
        public object? PersistentLoad(object? pid) => pid;
        public void Build(object? target, object? state) => throw new InvalidOperationException("BUILD on a resolver object");
    }

    static object? Load(byte[] pickle, IPickleResolver? resolver = null, PickleReader.Limits? limits = null) =>
        PickleReader.Load(pickle, resolver ?? new Recorder(), "test.pkl", limits);

    static byte[] Bytes(params object[] parts)
    {
        var ms = new MemoryStream();
        ms.Write([0x80, 2]);
        foreach (var p in parts)
            if (p is string s) ms.Write(Encoding.Latin1.GetBytes(s));
            else if (p is byte b) ms.WriteByte(b);
            else if (p is int i) ms.WriteByte((byte)i);
            else if (p is byte[] a) ms.Write(a);
        ms.WriteByte((byte)'.');
        return ms.ToArray();
    }

    [Fact]
    public void A_foreign_global_is_never_called_whatever_opcode_calls_it()
    {
        var r = new Recorder();
        // {'a': os.system('x') via REDUCE, 'b': NEWOBJ, 'c': INST, 'd': OBJ}, then BUILD and SETITEMS on the results.
        var pickle = Bytes("}(", "X", new byte[] { 1, 0, 0, 0 }, "a",
            "cos\nsystem\n", "X", new byte[] { 1, 0, 0, 0 }, "x", 0x85, "R",
            "X", new byte[] { 1, 0, 0, 0 }, "b", "ccollections\ndefaultdict\n)", 0x81, "(", "X", new byte[] { 1, 0, 0, 0 }, "k", "K", 7, "u",
            "X", new byte[] { 1, 0, 0, 0 }, "c", "(K", 1, "ibuiltins\neval\n", "}", "b",
            "X", new byte[] { 1, 0, 0, 0 }, "d", "(cos\npopen\nK", 2, "o", "]", "a",
            "u");
        var d = Assert.IsType<PyDict>(Load(pickle, r));
        Assert.Empty(r.Calls); // the resolver's Call is only for its own tokens
        Assert.Equal(["os.system", "collections.defaultdict", "builtins.eval", "os.popen"], r.Globals);
        var a = Assert.IsType<PyObject>(Get(d, "a"));
        Assert.Equal("os.system", a.Class!.FullName);
        Assert.Equal("x", a.Args[0]);
        var b = Assert.IsType<PyObject>(Get(d, "b"));
        Assert.True(b.Items!.TryGet("k", out var seven) && seven is 7L); // a dict subclass keeps its items as data
        var c = Assert.IsType<PyObject>(Get(d, "c"));
        Assert.IsType<PyDict>(c.State);
        var dd = Assert.IsType<PyObject>(Get(d, "d"));
        Assert.Equal("os.popen", dd.Class!.FullName);
        Assert.Single(dd.List!);
    }

    static object? Get(PyDict d, string key) => d.TryGet(key, out var v) ? v : throw new KeyNotFoundException(key);

    [Fact]
    public void Calling_what_a_foreign_call_returned_is_inert_too()
    {
        // getattr(builtins, 'eval')('1') : REDUCE on a PyObject.
        var pickle = Bytes("cbuiltins\ngetattr\n", "cbuiltins\nobject\n", "X", new byte[] { 4, 0, 0, 0 }, "eval", 0x86, "R",
            "X", new byte[] { 1, 0, 0, 0 }, "1", 0x85, "R");
        var o = Assert.IsType<PyObject>(Load(pickle));
        Assert.IsType<PyObject>(o.Callable);
        Assert.Equal("builtins.getattr", o.Class!.FullName);
    }

    [Fact]
    public void The_allowed_tokens_still_go_through_the_resolver()
    {
        var r = new Recorder();
        Load(Bytes("csafe\nBox\n)R"), r);
        Assert.Equal(["box-token"], r.Calls);
    }

    [Fact]
    public void Protocol_0_pops_a_MARK_with_POP_after_a_recursive_tuple()
    {
        // MARK, 1, 2, POP, POP, POP (the third pops the MARK), 5.
        Assert.Equal(5L, Load(Bytes("(K", 1, "K", 2, "000K", 5)));
    }

    public static TheoryData<string> Hostile => new()
    {
        "marks", "stack", "memo", "containers", "tuples", "digits", "nested-lists", "nested-dicts", "call-chain", "nested-states",
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_pickles_hit_a_limit_with_PickleLimitExceeded(string kind)
    {
        var limits = new PickleReader.Limits(Stack: 10_000, Marks: 100, Memo: 1000, Containers: 5000, IntDigits: 50, Nesting: 100);
        byte[] pickle = kind switch
        {
            "marks" => Bytes(Enumerable.Repeat((object)"(", 200).ToArray()),
            "stack" => Bytes(Enumerable.Repeat((object)"N", 20_000).ToArray()),
            "memo" => Bytes([.. Enumerable.Range(0, 2000).SelectMany(i => new object[] { "N", "r", BitConverter.GetBytes(i), "0" }), "N"]),
            "containers" => Bytes(["]", .. Enumerable.Repeat((object)"}a", 6000)]),
            // Each TUPLE1 nests the last tuple one level deeper: a dict key would then hash and compare recursively.
            "tuples" => Bytes([")", .. Enumerable.Repeat((object)(byte)0x85, PyTuple.MaxDepth + 5)]),
            "digits" => Bytes("L" + new string('9', 60) + "L\n"),
            // Nesting without MARKs and with a short stack: the walks over the result (hashing keys,
            // naming tensors, an object's class) would recurse as deep (issue 16, D6).
            "nested-lists" => Bytes([.. Enumerable.Repeat((object)"]", 150), .. Enumerable.Repeat((object)"a", 149)]),
            "nested-dicts" => Bytes(["}", .. Enumerable.Repeat((object)"K\x00}", 150), .. Enumerable.Repeat((object)"s", 150)]),
            "call-chain" => Bytes(["cos\nsystem\n", .. Enumerable.Repeat((object)")R", 150)]),
            "nested-states" => Bytes([.. Enumerable.Repeat((object)"cos\nsystem\n)R", 150), .. Enumerable.Repeat((object)"b", 149)]),
            _ => throw new ArgumentException(kind),
        };
        var e = Assert.Throws<LstmPortException>(() => Load(pickle, limits: limits));
        Assert.Equal(ErrorIds.PickleLimitExceeded, e.ErrorId);
        Assert.Equal("test.pkl", e.Target);
        if (kind.StartsWith("nested") || kind == "call-chain") Assert.Contains("containers nested deeper than 100", e.Message);
    }

    [Fact]
    public void Nesting_below_the_limit_loads()
    {
        var limits = PickleReader.Limits.Default with { Nesting = 100 };
        var l = Assert.IsType<List<object?>>(Load(Bytes([.. Enumerable.Repeat((object)"]", 100), .. Enumerable.Repeat((object)"a", 99)]), limits: limits));
        Assert.IsType<List<object?>>(Assert.Single(l));
        // A chain of calls on inert objects: the class is still found, without recursion.
        var o = Assert.IsType<PyObject>(Load(Bytes(["cos\nsystem\n", .. Enumerable.Repeat((object)")R", 99)]), limits: limits));
        Assert.Equal("os.system", o.Class!.FullName);
        Assert.Equal(1000, PickleReader.Limits.Default.Nesting);
    }

    /// <summary>t0 = (); t(i+1) = (t(i), t(i)), each kept in the memo from index base: n levels, 2^n leaves.</summary>
    static IEnumerable<object> SharedTuple(int n, int memoBase)
    {
        yield return ")";
        yield return "r"; yield return BitConverter.GetBytes(memoBase); yield return "0";
        for (int i = 0; i < n; i++)
        {
            yield return "j"; yield return BitConverter.GetBytes(memoBase + i);
            yield return "j"; yield return BitConverter.GetBytes(memoBase + i);
            yield return (byte)0x86;
            yield return "r"; yield return BitConverter.GetBytes(memoBase + i + 1); yield return "0";
        }
        yield return "j"; yield return BitConverter.GetBytes(memoBase + n);
    }

    [Fact]
    public void Equal_tuple_keys_that_share_their_parts_compare_in_linear_time()
    {
        // Two such keys built apart are equal; a comparison that walked them as trees would visit 2^200 leaves.
        var pickle = Bytes(["}", .. SharedTuple(200, 0), "K", 1, "s", .. SharedTuple(200, 1000), "K", 2, "s"]);
        var d = Assert.IsType<PyDict>(Load(pickle));
        Assert.Equal(2L, Assert.Single(d.Items).Value);
    }

    [Fact]
    public void The_default_limits_hold_a_large_genuine_structure()
    {
        // 200000 memoized strings in one list, as a large vocabulary pickles.
        var parts = new List<object> { "](" };
        for (int i = 0; i < 200_000; i++)
        {
            var s = Encoding.UTF8.GetBytes("w" + i);
            parts.Add("X"); parts.Add(BitConverter.GetBytes(s.Length)); parts.Add(s);
            parts.Add("r"); parts.Add(BitConverter.GetBytes(i));
        }
        parts.Add("e");
        Assert.Equal(200_000, Assert.IsType<List<object?>>(Load(Bytes([.. parts]))).Count);
    }

    [Fact]
    public void A_self_containing_list_loads_and_deep_tuples_below_the_limit_are_keys()
    {
        // l = []; l.append(l)
        var l = Assert.IsType<List<object?>>(Load(Bytes("]2a")));
        Assert.Same(l, l[0]);
        // {((((),),),): 1} hashes and compares without deep recursion.
        var d = Assert.IsType<PyDict>(Load(Bytes(["}", ")", .. Enumerable.Repeat((object)(byte)0x85, 900), "K", 1, "s"])));
        Assert.Equal(1, d.Count);
    }
}
