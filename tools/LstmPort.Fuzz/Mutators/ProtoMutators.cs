using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LstmPort.Fuzz.Formats;

namespace LstmPort.Fuzz.Mutators;

/// <summary>
/// A protobuf file (a frozen GraphDef .pb, a .meta MetaGraphDef, keras_metadata.pb) decoded as a
/// field tree and one field changed, the enclosing lengths written again (or, sometimes, a length
/// prefix made wrong on purpose): varints to edge values, bytes cut or grown, fields repeated,
/// removed, renumbered or given another wire type.
/// </summary>
public sealed class ProtoTree : IBytesMutator
{
    public string Name => "pb-tree";
    public int Weight => 20;
    public bool Accepts(string name, byte[] data) =>
        (name.EndsWith(".pb", StringComparison.Ordinal) || name.EndsWith(".meta", StringComparison.Ordinal) || name.EndsWith(".onnx", StringComparison.Ordinal))
        && ProtoMessage.Parse(data) is not null;

    static readonly ulong[] Varints = [0, 1, 127, 128, int.MaxValue, 1UL << 31, 1UL << 32, long.MaxValue, ulong.MaxValue, ulong.MaxValue - 1];

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var root = ProtoMessage.Parse(data)!;
        var all = root.Walk().ToList();
        if (all.Count == 0) return null;
        var (owner, f, path) = rng.Pick(all);
        string what;
        switch (rng.Next(8))
        {
            case 0 when f.Wire == 0:
            {
                var v = rng.Pick(Varints);
                what = $"varint {path} set from {f.Value} to {v}";
                f.Value = v;
                break;
            }
            case 1 when f.Wire == 2:
            {
                var old = f.Child?.ToBytes() ?? f.Bytes;
                f.Child = null;
                f.Bytes = rng.Chance(0.5) ? old.AsSpan(0, rng.Skewed(Math.Max(1, old.Length))).ToArray() : [.. old, .. old.AsSpan(0, Math.Min(old.Length, 64)).ToArray(), 0];
                what = $"bytes of {path} resized from {old.Length} to {f.Bytes.Length}";
                break;
            }
            case 2 when f.Wire == 2:
            {
                var len = rng.Pick(new ulong[] { 0, (ulong)(f.Child?.ToBytes().Length ?? f.Bytes.Length) + 1, (ulong)data.Length, int.MaxValue, ulong.MaxValue });
                f.ClaimedLength = len;
                what = $"length prefix of {path} set to {len} (enclosing lengths left as they were)";
                // The lie must stay in the bytes: write the tree, then cut nothing.
                break;
            }
            case 3:
                owner.Fields.Insert(owner.Fields.IndexOf(f) + 1, f.Clone());
                what = $"field {path} repeated";
                break;
            case 4:
                owner.Fields.Remove(f);
                what = $"field {path} removed";
                break;
            case 5:
            {
                int n = rng.Pick(new[] { 1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 536870911 });
                what = $"field {path} renumbered to {n}";
                f.Number = n;
                break;
            }
            case 6:
            {
                int w = rng.Pick(new[] { 0, 1, 2, 5 });
                what = $"field {path} given wire type {w}";
                f.Wire = w;
                if (w == 2 && f.Bytes.Length == 0 && f.Child is null) f.Bytes = [8, 1];
                break;
            }
            default:
                if (f.Wire is 1 or 5)
                {
                    f.Value = rng.Chance(0.5) ? ulong.MaxValue : 0x7fc00000; // all ones, or a float NaN
                    what = $"fixed {path} set to {f.Value}";
                }
                else
                {
                    // A deep chain of nested messages in an unknown field (parsers that recurse into unknown fields).
                    var deep = new ProtoMessage();
                    for (int i = 0; i < 200; i++) deep = new ProtoMessage().Message(1, deep);
                    owner.Message(1000, deep);
                    what = $"a message nested 200 deep added beside {path}";
                }
                break;
        }
        return (root.ToBytes(), what);
    }
}

/// <summary>
/// A TensorProto of a GraphDef (the frozen weights): its dtype, its shape (huge, with the values
/// removed, so a reader that fills zeros allocates it), tensor_content of the wrong length, more
/// typed values than elements.
/// </summary>
public sealed class ProtoTensor : IBytesMutator
{
    public string Name => "pb-tensor";
    public int Weight => 16;
    public bool Accepts(string name, byte[] data) => name.EndsWith(".pb", StringComparison.Ordinal) && Tensors(ProtoMessage.Parse(data)).Any();

    /// <summary>GraphDef node (1) -> attr (5) -> value (2) -> tensor (8); in a MetaGraphDef below graph_def (2).</summary>
    static IEnumerable<ProtoMessage> Tensors(ProtoMessage? graph)
    {
        if (graph is null) yield break;
        foreach (var node in graph.Fields.Where(f => f.Number == 1 && f.Child is not null))
            foreach (var attr in node.Child!.Fields.Where(f => f.Number == 5 && f.Child is not null))
                foreach (var value in attr.Child!.Fields.Where(f => f.Number == 2 && f.Child is not null))
                    foreach (var tensor in value.Child!.Fields.Where(f => f.Number == 8 && f.Child is not null))
                        yield return tensor.Child!;
    }

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var root = ProtoMessage.Parse(data)!;
        var tensors = Tensors(root).ToList();
        if (tensors.Count == 0) return null;
        var t = rng.Pick(tensors);
        string what;
        ProtoMessage Shape(params long[] dims)
        {
            var s = new ProtoMessage();
            foreach (var d in dims) s.Message(2, new ProtoMessage().Varint(1, (ulong)d));
            return s;
        }
        void SetShape(ProtoMessage s) { t.Fields.RemoveAll(f => f.Number == 2); t.Message(2, s); }
        switch (rng.Next(6))
        {
            case 0:
            {
                var v = rng.Pick(new ulong[] { 0, 2, 3, 7, 9, 10, 14, 19, 20, 101, 1000 });
                t.Fields.RemoveAll(f => f.Number == 1);
                t.Varint(1, v);
                what = $"dtype set to {v}";
                break;
            }
            case 1:
            {
                long[] dims = rng.Pick(new long[][] { [100000, 100000], [20000, 20000], [500000000], [1L << 31], [int.MaxValue, 2], [1L << 33, 1L << 33], [-1], [0, 1L << 40], [600000000] });
                SetShape(Shape(dims));
                // Values removed: TensorProto's rule makes the tensor zeros, so a reader may allocate what the shape says.
                t.Fields.RemoveAll(f => f.Number is 4 or 5 or 6 or 7 or 10 or 11 or 13);
                bool one = rng.Chance(0.3);
                if (one) t.Fixed32(5, 0x3f800000);
                what = $"shape set to [{string.Join(",", dims)}] with {(one ? "one float_val (repeated to fill it)" : "no values (zeros)")}";
                break;
            }
            case 2:
            {
                var content = t.Fields.FirstOrDefault(f => f.Number == 4);
                if (content is null) goto case 3;
                content.Bytes = content.Bytes.AsSpan(0, Math.Max(0, content.Bytes.Length - 1 - rng.Next(8))).ToArray();
                content.Child = null;
                what = "tensor_content shorter than its shape";
                break;
            }
            case 3:
            {
                var packed = new MemoryStream();
                int n = rng.Pick(new[] { 1000, 100000 });
                for (int i = 0; i < n; i++) packed.Write(BitConverter.GetBytes(1f));
                t.Fields.RemoveAll(f => f.Number == 4);
                t.Bytes(5, packed.ToArray());
                what = $"{n} float_val values added";
                break;
            }
            case 4:
            {
                // Typed values in every list at once.
                t.Fields.RemoveAll(f => f.Number == 4);
                t.Fixed32(5, 0x40000000).Varint(7, 3).Varint(10, 5).Varint(11, 1).Varint(13, 0x3c00);
                what = "values in several typed lists";
                break;
            }
            default:
                t.Fields.RemoveAll(f => f.Number == 2);
                t.Message(2, new ProtoMessage().Varint(3, 1));
                what = "shape made unknown-rank";
                break;
        }
        return (root.ToBytes(), "GraphDef tensor: " + what);
    }
}

/// <summary>
/// A JSON document (config.json, metadata.json of a .keras; the JSON metadata inside keras_metadata.pb)
/// changed at one value: numbers to edges or strings, strings to other layer classes, containers
/// emptied or swapped, keys dropped, the layer list nested deep.
/// </summary>
public sealed class JsonValues : IBytesMutator
{
    public string Name => "json";
    public int Weight => 12;

    public bool Accepts(string name, byte[] data) =>
        name.EndsWith(".json", StringComparison.Ordinal) && Parse(data) is not null
        || name.EndsWith("keras_metadata.pb", StringComparison.Ordinal) && ProtoMessage.Parse(data) is not null;

    /// <summary>The document, or null when it is not JSON a mutation can walk (damaged, duplicate keys, invalid UTF-8).</summary>
    static JsonNode? Parse(byte[] data)
    {
        try
        {
            var n = JsonNode.Parse(data);
            Touch(n);
            return n;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException) { return null; }
    }

    /// <summary>Builds every object's dictionary (JsonNode does it lazily, and throws on duplicate keys only then).</summary>
    static void Touch(JsonNode? n)
    {
        if (n is JsonObject o) foreach (var (_, v) in o) Touch(v);
        else if (n is JsonArray a) foreach (var v in a) Touch(v);
    }

    static readonly string[] Classes = ["LSTM", "GRU", "SimpleRNN", "Bidirectional", "Sequential", "Functional", "Model", "Dense", "CuDNNLSTM", "TimeDistributed", "RNN", "InputLayer", ""];

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        if (name.EndsWith(".pb", StringComparison.Ordinal))
        {
            // keras_metadata.pb: nodes (1) -> metadata (5) is JSON text.
            var root = ProtoMessage.Parse(data)!;
            var docs = root.Fields.Where(f => f.Number == 1 && f.Child is not null)
                .SelectMany(n => n.Child!.Fields.Where(f => f.Number == 5)).ToList();
            if (docs.Count == 0) return null;
            var doc = rng.Pick(docs);
            var inner = MutateJson(doc.Child?.ToBytes() ?? doc.Bytes, rng);
            if (inner is null) return null;
            doc.Child = null;
            doc.Bytes = inner.Value.Json;
            return (root.ToBytes(), "keras metadata JSON: " + inner.Value.What);
        }
        return MutateJson(data, rng) is { } r ? (r.Json, r.What) : null;
    }

    static (byte[] Json, string What)? MutateJson(byte[] data, Random rng)
    {
        var root = Parse(data);
        if (root is null) return null;
        var nodes = new List<(JsonNode Parent, string? Key, int Index, JsonNode? Value, string Path)>();
        void Walk(JsonNode? n, string path)
        {
            if (nodes.Count > 5000) return;
            switch (n)
            {
                case JsonObject o:
                    foreach (var (k, v) in o.ToList()) { nodes.Add((o, k, -1, v, $"{path}.{k}")); Walk(v, $"{path}.{k}"); }
                    break;
                case JsonArray a:
                    for (int i = 0; i < a.Count; i++) { nodes.Add((a, null, i, a[i], $"{path}[{i}]")); Walk(a[i], $"{path}[{i}]"); }
                    break;
            }
        }
        Walk(root, "$");
        if (nodes.Count == 0) return null;
        var (parent, key, index, value, p) = rng.Pick(nodes);
        JsonNode? replacement;
        string what;
        switch (rng.Next(6))
        {
            case 0:
                replacement = rng.Pick(new object[] { -1, 0, 1, int.MaxValue, 2147483648L, long.MaxValue, 1e308, 0.5, -2147483648L }) switch
                {
                    int i => JsonValue.Create(i), long l => JsonValue.Create(l), double d => JsonValue.Create(d), _ => null,
                };
                what = $"{p} set to {replacement?.ToJsonString()}";
                break;
            case 1:
                replacement = JsonValue.Create(rng.Pick(Classes));
                what = $"{p} set to {replacement!.ToJsonString()}";
                break;
            case 2:
                replacement = rng.Pick(new Func<JsonNode?>[] { () => null, () => new JsonArray(), () => new JsonObject(), () => JsonValue.Create("2"), () => JsonValue.Create(true) })();
                what = $"{p} set to {replacement?.ToJsonString() ?? "null"}";
                break;
            case 3:
                if (parent is JsonObject po && key is not null) { po.Remove(key); what = $"{p} removed"; return (Encoding.UTF8.GetBytes(root.ToJsonString()), what); }
                goto case 2;
            case 4:
            {
                // The value wrapped in Sequential models, level after level (nested models are walked recursively).
                int depth = rng.Pick(new[] { 10, 60, 500 });
                var text = value?.ToJsonString() ?? "null";
                var sb = new StringBuilder();
                for (int i = 0; i < depth; i++) sb.Append("{\"class_name\":\"Sequential\",\"config\":{\"name\":\"m").Append(i).Append("\",\"layers\":[");
                sb.Append(text);
                for (int i = 0; i < depth; i++) sb.Append("]}}");
                var json = root.ToJsonString();
                var valueText = value?.ToJsonString();
                if (valueText is null || !json.Contains(valueText, StringComparison.Ordinal)) goto case 2;
                int at = json.IndexOf(valueText, StringComparison.Ordinal);
                return (Encoding.UTF8.GetBytes(json[..at] + sb + json[(at + valueText.Length)..]), $"{p} wrapped in {depth} nested Sequential models");
            }
            default:
                replacement = JsonValue.Create(new string('x', rng.Pick(new[] { 0, 300, 100000 })));
                what = $"{p} set to a string of {replacement!.GetValue<string>().Length} characters";
                break;
        }
        if (parent is JsonObject obj && key is not null) obj[key] = replacement;
        else if (parent is JsonArray arr) arr[index] = replacement;
        return (Encoding.UTF8.GetBytes(root.ToJsonString()), what);
    }
}
