using System.Text;
using LstmPort.Fuzz.Formats;
using LstmPort.Fuzz.Seeds;

namespace LstmPort.Fuzz.Mutators;

/// <summary>Finding things in an ONNX ModelProto decoded as a field tree (onnx.proto field numbers; see OnnxSeeds).</summary>
static class OnnxTree
{
    public static bool IsModel(string name, byte[] data) =>
        name.EndsWith(".onnx", StringComparison.Ordinal) && ProtoMessage.Parse(data) is { } m && Graphs(m).Any();

    /// <summary>The main graph (field 7) and every subgraph below it (node attribute g = 6, graphs = 11), outermost first.</summary>
    public static IEnumerable<ProtoMessage> Graphs(ProtoMessage model)
    {
        var stack = new Stack<(ProtoMessage, int)>(model.Fields.Where(f => f.Number == 7 && f.Child is not null).Select(f => (f.Child!, 0)));
        while (stack.Count > 0)
        {
            var (g, depth) = stack.Pop();
            yield return g;
            if (depth > 32) continue;
            foreach (var node in Nodes(g))
                foreach (var attr in node.Fields.Where(f => f.Number == 5 && f.Child is not null))
                    foreach (var sub in attr.Child!.Fields.Where(f => f.Number is 6 or 11 && f.Child is not null))
                        stack.Push((sub.Child!, depth + 1));
        }
    }

    public static IEnumerable<ProtoMessage> Nodes(ProtoMessage graph) => graph.Fields.Where(f => f.Number == 1 && f.Child is not null).Select(f => f.Child!);

    /// <summary>Initializers (graph field 5) and the tensors of Constant nodes' attributes (attribute t = 5).</summary>
    public static IEnumerable<ProtoMessage> Tensors(ProtoMessage model)
    {
        foreach (var g in Graphs(model))
        {
            foreach (var f in g.Fields.Where(f => f.Number == 5 && f.Child is not null)) yield return f.Child!;
            foreach (var node in Nodes(g))
                foreach (var attr in node.Fields.Where(f => f.Number == 5 && f.Child is not null))
                    foreach (var t in attr.Child!.Fields.Where(f => f.Number == 5 && f.Child is not null))
                        yield return t.Child!;
        }
    }

    public static string Text(ProtoMessage m, int field) => m.Fields.FirstOrDefault(f => f.Number == field) is { Wire: 2 } f ? Encoding.UTF8.GetString(f.Bytes) : "";

    /// <summary>Sets a string field's bytes (the child reading dropped: it is text now).</summary>
    public static void SetText(ProtoField f, string s) { f.Bytes = Encoding.UTF8.GetBytes(s); f.Child = null; }

    public static ProtoMessage Initializer(string name, long[] dims, int dataType, byte[] raw) => OnnxSeeds.Tensor(name, dims, dataType, raw);

    /// <summary>The recurrent nodes of every graph (op_type LSTM/GRU/RNN) with the graph holding them.</summary>
    public static List<(ProtoMessage Graph, ProtoMessage Node)> Recurrent(ProtoMessage model) =>
        Graphs(model).SelectMany(g => Nodes(g).Where(n => Text(n, 4) is "LSTM" or "GRU" or "RNN").Select(n => (g, n))).ToList();

    public static byte[] Longs(params long[] v)
    {
        var b = new byte[v.Length * 8];
        Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }
}

/// <summary>
/// One tensor of an ONNX model (an initializer or a Constant's value): dims huge, overflowing, negative
/// or too many; an unknown data_type; raw_data cut, grown or removed; typed data that disagrees with
/// the dims; external data claimed with no file.
/// </summary>
public sealed class OnnxTensor : IBytesMutator
{
    public string Name => "onnx-tensor";
    public int Weight => 18;
    public bool Accepts(string name, byte[] data) => OnnxTree.IsModel(name, data);

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var root = ProtoMessage.Parse(data)!;
        var tensors = OnnxTree.Tensors(root).ToList();
        if (tensors.Count == 0) return null;
        var t = rng.Pick(tensors);
        var tname = OnnxTree.Text(t, 8);
        string what;
        switch (rng.Next(6))
        {
            case 0:
            {
                long[] dims = rng.Pick(new long[][]
                {
                    [100000, 100000], [1L << 31], [int.MaxValue, 2], [1L << 33, 1L << 33], [-1], [0, 1L << 40], [1L << 62, 4], [long.MaxValue], [0, -5],
                    [3037000500, 3037000500], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
                });
                t.Fields.RemoveAll(f => f.Number == 1);
                foreach (var d in dims) t.Varint(1, (ulong)d);
                bool drop = rng.Chance(0.5);
                if (drop) t.Fields.RemoveAll(f => f.Number is 4 or 5 or 7 or 9 or 10);
                what = $"dims set to [{string.Join(",", dims)}]{(drop ? " with its values removed" : "")}";
                break;
            }
            case 1:
            {
                var v = rng.Pick(new ulong[] { 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 23, 100, uint.MaxValue, ulong.MaxValue });
                t.Fields.RemoveAll(f => f.Number == 2);
                t.Varint(2, v);
                what = $"data_type set to {v}";
                break;
            }
            case 2:
            {
                var raw = t.Fields.FirstOrDefault(f => f.Number == 9);
                if (raw is null) goto case 3;
                raw.Child = null;
                int choice = rng.Next(3);
                if (choice == 0) raw.Bytes = raw.Bytes.AsSpan(0, Math.Max(0, raw.Bytes.Length - 1 - rng.Next(8))).ToArray();
                else if (choice == 1) raw.Bytes = [.. raw.Bytes, .. new byte[1 + rng.Next(16)]];
                else t.Fields.Remove(raw);
                what = choice switch { 0 => "raw_data cut short", 1 => "raw_data grown", _ => "raw_data removed (no values at all)" };
                break;
            }
            case 3:
            {
                // Typed values instead of raw_data: too few, too many, or in the wrong list.
                t.Fields.RemoveAll(f => f.Number is 4 or 5 or 7 or 9 or 10);
                int n = rng.Pick(new[] { 0, 1, 3, 1000 });
                int field = rng.Pick(new[] { 4, 5, 7, 10 });
                var packed = new MemoryStream();
                for (int i = 0; i < n; i++)
                    if (field == 4) packed.Write(BitConverter.GetBytes(1f));
                    else if (field == 10) packed.Write(BitConverter.GetBytes(1.0));
                    else Bytes.Varint(packed, (ulong)i);
                t.Bytes(field, packed.ToArray());
                what = $"{n} values in typed field {field} instead of raw_data";
                break;
            }
            case 4:
            {
                // External data that names no file, or a file outside the folder.
                var location = rng.Pick(new[] { "missing.bin", "../outside.bin", "/etc/hostname", "", "sub/../../x.bin", "a\0b", ".", name, "C:\\x.bin" });
                t.Fields.RemoveAll(f => f.Number is 4 or 5 or 7 or 9 or 10 or 13 or 14);
                t.Message(13, new ProtoMessage().String(1, "location").String(2, location));
                t.Varint(14, 1);
                what = $"made external data at '{location}'";
                break;
            }
            default:
            {
                // A Constant/initializer replaced by a scalar of another type (the folders see a new dtype).
                t.Fields.RemoveAll(f => f.Number is 1 or 2 or 4 or 5 or 7 or 9 or 10);
                t.Varint(2, 7).Bytes(9, OnnxTree.Longs(long.MaxValue));
                what = "made an int64 scalar long.MaxValue";
                break;
            }
        }
        return (root.ToBytes(), $"ONNX tensor '{tname}': {what}");
    }
}

/// <summary>
/// The graph of an ONNX model: subgraphs nested deep (If inside If), weights computed by constant
/// operators whose output explodes (Concat of a value with itself level after level, Gather with many
/// repeated indices), cycles (a value computed from itself), Reshape/Slice/Unsqueeze/Split/Transpose
/// with arguments that do not fit, long Identity chains.
/// </summary>
public sealed class OnnxGraph : IBytesMutator
{
    public string Name => "onnx-graph";
    public int Weight => 18;
    public bool Accepts(string name, byte[] data) => OnnxTree.IsModel(name, data) && OnnxTree.Recurrent(ProtoMessage.Parse(data)!).Count > 0;

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var root = ProtoMessage.Parse(data)!;
        var recurrent = OnnxTree.Recurrent(root);
        if (recurrent.Count == 0) return null;
        var (graph, node) = rng.Pick(recurrent);
        var inputs = node.Fields.Where(f => f.Number == 1).ToList();
        // The weight input replaced: W (1) or R (2) or B (3).
        int slot = rng.Pick(new[] { 1, 2, 3 });
        if (slot >= inputs.Count) slot = 1;
        if (slot >= inputs.Count) return null;
        var original = Encoding.UTF8.GetString(inputs[slot].Bytes);
        if (original.Length == 0) return null;
        string V(string s) => $"fz_{s}";
        void Add(ProtoMessage n) => graph.Fields.Insert(0, new ProtoField { Number = 1, Wire = 2, Child = n, Bytes = n.ToBytes() });
        void AddInit(ProtoMessage t) => graph.Message(5, t);
        string what;
        switch (rng.Next(10))
        {
            case 0:
            {
                // Concat of the weight with itself, k copies per level, several levels: k^levels times the weight.
                int k = rng.Pick(new[] { 8, 64, 400 }), levels = rng.Pick(new[] { 2, 3, 5 });
                var prev = original;
                for (int l = 0; l < levels; l++)
                {
                    var next = V($"cat{l}");
                    Add(OnnxSeeds.Node(next, "Concat", Enumerable.Repeat(prev, k).ToArray(), [next], OnnxSeeds.IntAttr("axis", 0)));
                    prev = next;
                }
                OnnxTree.SetText(inputs[slot], prev);
                what = $"input {slot} made Concat of '{original}' x{k}, {levels} levels";
                break;
            }
            case 1:
            {
                // A cycle: the weight is Concat(itself, itself).
                var loop = V("loop");
                Add(OnnxSeeds.Node(loop, rng.Chance(0.5) ? "Concat" : "Identity", rng.Chance(0.5) ? [loop, loop] : [loop], [loop], OnnxSeeds.IntAttr("axis", 0)));
                OnnxTree.SetText(inputs[slot], loop);
                what = $"input {slot} computed from itself";
                break;
            }
            case 2:
            {
                // Gather with many repeated indices (repeated again by Concat).
                int n = rng.Pick(new[] { 1000, 100000 });
                AddInit(OnnxTree.Initializer(V("idx"), [n], 7, new byte[n * 8]));
                var idx = V("idx");
                if (rng.Chance(0.5))
                {
                    Add(OnnxSeeds.Node(V("idx2"), "Concat", Enumerable.Repeat(idx, 200).ToArray(), [V("idx2")], OnnxSeeds.IntAttr("axis", 0)));
                    idx = V("idx2");
                }
                Add(OnnxSeeds.Node(V("gather"), "Gather", [original, idx], [V("gather")], OnnxSeeds.IntAttr("axis", rng.Pick(new long[] { 0, 1, -1, 7, -9 }))));
                OnnxTree.SetText(inputs[slot], V("gather"));
                what = $"input {slot} made Gather of '{original}' with {n} indices";
                break;
            }
            case 3:
            {
                var shape = rng.Pick(new long[][] { [-1, -1], [0, 0, 0, 0, 0], [1L << 40], [long.MaxValue, 0], [-7], [], [0], [3037000500, 3037000500, 0] });
                AddInit(OnnxTree.Initializer(V("shape"), [shape.Length], 7, OnnxTree.Longs(shape)));
                Add(OnnxSeeds.Node(V("reshape"), "Reshape", [original, V("shape")], [V("reshape")], OnnxSeeds.IntAttr("allowzero", rng.Next(2))));
                OnnxTree.SetText(inputs[slot], V("reshape"));
                what = $"input {slot} made Reshape of '{original}' to [{string.Join(",", shape)}]";
                break;
            }
            case 4:
            {
                long[] v = rng.Pick(new long[][] { [long.MaxValue], [long.MinValue], [5], [-9], [0, 0] });
                AddInit(OnnxTree.Initializer(V("st"), [v.Length], 7, OnnxTree.Longs(v)));
                AddInit(OnnxTree.Initializer(V("ax"), [v.Length], 7, OnnxTree.Longs(rng.Pick(new long[][] { [9], [-9], [0], [long.MaxValue] }).Take(v.Length).Concat(new long[Math.Max(0, v.Length - 1)]).ToArray())));
                Add(OnnxSeeds.Node(V("slice"), "Slice", [original, V("st"), V("st"), V("ax")], [V("slice")]));
                OnnxTree.SetText(inputs[slot], V("slice"));
                what = $"input {slot} made Slice of '{original}' with starts/ends [{string.Join(",", v)}]";
                break;
            }
            case 5:
            {
                int n = rng.Pick(new[] { 10, 100, 10000 });
                AddInit(OnnxTree.Initializer(V("axes"), [n], 7, OnnxTree.Longs(Enumerable.Range(0, n).Select(i => (long)i).ToArray())));
                Add(OnnxSeeds.Node(V("unsq"), "Unsqueeze", [original, V("axes")], [V("unsq")]));
                OnnxTree.SetText(inputs[slot], V("unsq"));
                what = $"input {slot} made Unsqueeze of '{original}' with {n} axes";
                break;
            }
            case 6:
            {
                Add(OnnxSeeds.Node(V("split"), "Split", [original], [V("split")], OnnxSeeds.IntAttr("num_outputs", rng.Pick(new long[] { 0, -1, long.MaxValue })), OnnxSeeds.IntAttr("axis", rng.Pick(new long[] { 0, 5, -7 }))));
                OnnxTree.SetText(inputs[slot], V("split"));
                what = $"input {slot} made a Split of '{original}' with bad arguments";
                break;
            }
            case 7:
            {
                var perm = new ProtoMessage().String(1, "perm");
                foreach (var p in rng.Pick(new long[][] { [0, 0, 0], [5, 1], [-1, -2, -3, -4], [] })) perm.Varint(8, (ulong)p);
                perm.Varint(20, 7);
                var op = rng.Pick(new[] { "Transpose", "Cast" });
                Add(OnnxSeeds.Node(V("t"), op, [original], [V("t")], op == "Cast" ? OnnxSeeds.IntAttr("to", rng.Pick(new long[] { 0, 8, 99, -1 })) : perm));
                OnnxTree.SetText(inputs[slot], V("t"));
                what = $"input {slot} made a {op} of '{original}' with bad attributes";
                break;
            }
            case 8:
            {
                int n = rng.Pick(new[] { 300, 5000 });
                var prev = original;
                for (int i = 0; i < n; i++) { var next = V($"id{i}"); Add(OnnxSeeds.Node(next, "Identity", [prev], [next])); prev = next; }
                OnnxTree.SetText(inputs[slot], prev);
                what = $"input {slot} behind {n} Identity nodes";
                break;
            }
            default:
            {
                // The recurrent node wrapped in If nodes nested deep (the parser and the walk must bound the depth).
                int depth = rng.Pick(new[] { 17, 100, 1000 });
                // Built as bytes level by level (no field tree kept below), so each level is serialised once.
                static ProtoField Raw(int number, byte[] bytes) => new() { Number = number, Wire = 2, Bytes = bytes };
                var inner = new ProtoMessage().Message(1, node.Clone()).String(2, "g0").ToBytes();
                for (int i = 1; i < depth; i++)
                {
                    var attr = new ProtoMessage().String(1, "then_branch");
                    attr.Fields.Add(Raw(6, inner));
                    attr.Varint(20, 5);
                    var ifNode = new ProtoMessage().String(1, original).String(2, "o" + i).String(3, $"if{i}").String(4, "If");
                    ifNode.Fields.Add(Raw(5, attr.ToBytes()));
                    var g = new ProtoMessage();
                    g.Fields.Add(Raw(1, ifNode.ToBytes()));
                    inner = g.String(2, "g" + i).ToBytes();
                }
                var top = new ProtoMessage().String(1, "then_branch");
                top.Fields.Add(Raw(6, inner));
                top.Varint(20, 5);
                Add(OnnxSeeds.Node("fz_if", "If", [original], ["fz_o"], top));
                return (root.ToBytes(), $"ONNX graph: node '{OnnxTree.Text(node, 3)}' wrapped in {depth} nested If subgraphs");
            }
        }
        return (root.ToBytes(), $"ONNX graph: node '{OnnxTree.Text(node, 3)}' {what}");
    }
}

/// <summary>
/// External data of an ONNX initializer: moved into a data file beside the model with the offset and
/// length right, past the file's end, negative, near long.MaxValue or not numbers; or pointing outside
/// the model's folder (../, absolute, the model itself).
/// </summary>
public sealed class OnnxExternal : IMutator
{
    public string Name => "onnx-external";
    public int Weight => 14;
    public bool AppliesTo(SeedInput seed) => seed.Family == Family.Onnx && OnnxTree.IsModel(seed.MainFile, seed.Files[seed.MainFile]);

    public Mutation? Mutate(SeedInput seed, Random rng)
    {
        var root = ProtoMessage.Parse(seed.Files[seed.MainFile])!;
        var tensors = OnnxTree.Tensors(root).Where(t => t.Fields.Any(f => f.Number == 9)).ToList();
        if (tensors.Count == 0) return null;
        var t = rng.Pick(tensors);
        var raw = t.Fields.First(f => f.Number == 9);
        var bytes = raw.Child?.ToBytes() ?? raw.Bytes;
        var data = new byte[16 + bytes.Length];
        bytes.CopyTo(data, 16);
        string location = rng.Pick(new[] { "ext.bin", "ext.bin", "ext.bin", "../ext.bin", "/proc/self/environ", "./sub/../ext.bin", "sub/../../ext.bin", seed.MainFile, "ext.bin/" });
        string offset = rng.Pick(new[] { "16", "16", "0", "-1", "9223372036854775807", "9223372036854775800", "abc", "", "1e3", "17" });
        string length = rng.Pick(new[] { bytes.Length.ToString(), bytes.Length.ToString(), "0", "-1", "9223372036854775807", (bytes.Length + 1).ToString(), "x" });
        t.Fields.RemoveAll(f => f.Number is 4 or 5 or 7 or 9 or 10 or 13 or 14);
        t.Message(13, new ProtoMessage().String(1, "location").String(2, location));
        t.Message(13, new ProtoMessage().String(1, "offset").String(2, offset));
        t.Message(13, new ProtoMessage().String(1, "length").String(2, length));
        t.Varint(14, 1);
        var changes = new Dictionary<string, byte[]?> { [seed.MainFile] = root.ToBytes() };
        bool cut = rng.Chance(0.2);
        changes["ext.bin"] = cut ? data[..(data.Length / 2)] : data;
        return new Mutation(changes, $"{seed.MainFile}: tensor '{OnnxTree.Text(t, 8)}' moved to external data '{location}' offset {offset} length {length}{(cut ? " (file cut short)" : "")}");
    }
}
