using System.Text.Json;
using System.Text.RegularExpressions;
using Google.Protobuf;
using LstmPort.Frameworks.Keras;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>
/// TrackableObjectGraph (trackable_object_graph.proto): nodes = 1; each TrackableObject has
/// children = 1 (ObjectReference: node_id = 1, local_name = 2), attributes = 2 (SerializedTensor:
/// name = 1, full_name = 2, checkpoint_key = 3) and slot_variables = 3 (original = 1, slot_name = 2,
/// slot_variable_node_id = 3). TF2 checkpoints and SavedModels name variables through it.
/// </summary>
internal sealed partial class ObjectGraph
{
    public sealed record Node(List<(int Id, string Name)> Children, List<(string Name, string Key)> Attributes);

    public List<Node> Nodes { get; } = [];
    public HashSet<int> SlotVariables { get; } = [];

    public static ObjectGraph Parse(byte[] bytes)
    {
        var g = new ObjectGraph();
        TfProto.Fields(bytes, (n, w, s) =>
        {
            if (n != 1) return false;
            var node = new Node([], []);
            TfProto.Fields(TfProto.Bytes(s), (on, ow, os) =>
            {
                switch (on)
                {
                    case 1:
                        int id = 0; string name = "";
                        TfProto.Fields(TfProto.Bytes(os), (rn, rw, rs) =>
                        {
                            if (rn == 1) { id = rs.ReadInt32(); return true; }
                            if (rn == 2) { name = rs.ReadString(); return true; }
                            return false;
                        });
                        node.Children.Add((id, name));
                        return true;
                    case 2:
                        string aname = "", key = "";
                        TfProto.Fields(TfProto.Bytes(os), (an, aw, ast) =>
                        {
                            if (an == 1) { aname = ast.ReadString(); return true; }
                            if (an == 3) { key = ast.ReadString(); return true; }
                            return false;
                        });
                        node.Attributes.Add((aname, key));
                        return true;
                    case 3:
                        TfProto.Fields(TfProto.Bytes(os), (sn, sw, ss) =>
                        {
                            if (sn != 3) return false;
                            g.SlotVariables.Add(ss.ReadInt32());
                            return true;
                        });
                        return true;
                    default: return false;
                }
            });
            g.Nodes.Add(node);
            return true;
        });
        foreach (var node in g.Nodes)
            foreach (var (id, _) in node.Children)
                if (id < 0 || id >= g.Nodes.Count) throw new InvalidDataException($"an object graph edge points to node {id} of {g.Nodes.Count}");
        return g;
    }

    /// <summary>Every path from the root to each node (breadth first, shortest first; cycles cut).</summary>
    public Dictionary<int, List<string[]>> Paths()
    {
        var paths = new Dictionary<int, List<string[]>> { [0] = [[]] };
        var queue = new Queue<(int Id, string[] Path)>();
        queue.Enqueue((0, []));
        while (queue.Count > 0)
        {
            var (id, path) = queue.Dequeue();
            if (path.Length > 32) continue;
            foreach (var (child, name) in Nodes[id].Children)
            {
                var p = path.Append(name).ToArray();
                if (!paths.TryGetValue(child, out var list)) paths[child] = list = [];
                else if (list.Count >= 8) continue;
                list.Add(p);
                queue.Enqueue((child, p));
            }
        }
        return paths;
    }

    [GeneratedRegex(@"^layer(?:_with_weights)?-\d+$")]
    private static partial Regex KerasLayerSegment();

    /// <summary>One Keras layer found in the object graph: its object path, name and saved config.</summary>
    public sealed record KerasLayerInfo(string Path, string Name, JsonElement? Config);

    /// <summary>
    /// Turns an object-based bundle into tensors: variables below a Keras layer object
    /// (<c>layer_with_weights-N</c>, <c>layer-N</c>, or a node_path of keras_metadata) become that
    /// layer's weights, named <c>&lt;layer&gt;/&lt;path below it&gt;</c> and described by
    /// <see cref="KerasLayers"/>; optimizer slots and variables, step counters and metrics are left
    /// out with one note; anything else is listed as <c>Other</c>. A layer whose weights contradict
    /// it is one error and the other layers are still described.
    /// </summary>
    public static TfDescription Describe(TensorBundle bundle, ObjectGraph graph,
        IReadOnlyDictionary<string, KerasLayerInfo> metadata, string? kerasVersion, string source)
    {
        var d = new TfDescription();
        var entries = bundle.Entries.ToDictionary(e => e.Key, e => e.Entry, StringComparer.Ordinal);
        var paths = graph.Paths();
        var layers = new List<(string Path, KerasLayerInfo Info, List<KerasLayers.Weight> Weights)>();
        var layerByPath = new Dictionary<string, int>(StringComparer.Ordinal);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        var training = new TrainingState.Tally();

        for (int id = 0; id < graph.Nodes.Count; id++)
        {
            var key = graph.Nodes[id].Attributes.FirstOrDefault(a => a.Name == "VARIABLE_VALUE").Key;
            if (key is null || !entries.TryGetValue(key, out var entry) || TfDataType.Scalar(entry.DType) is not { } scalar) continue;
            paths.TryGetValue(id, out var candidates);
            if (TrainingKind(key, graph.SlotVariables.Contains(id), candidates) is { } kind)
            {
                training.Add(kind, key);
                claimed.Add(key);
                continue;
            }
            if (candidates is null) continue;
            // A variable is reachable from its layer and from flat lists (variables/0): use the layer's path.
            // Prefer the named path (cell/kernel) over list paths (variables/0).
            string[]? best = null; int cut = -1; (int, int) bestScore = (int.MaxValue, int.MaxValue);
            foreach (var p in candidates)
            {
                if (p.Length > 0 && p[0] is "optimizer" or "keras_api") continue;
                int layerEnd = LayerEnd(p, metadata);
                if (layerEnd < 0) continue;
                var score = (p.Skip(layerEnd + 1).Count(IsListSegment), p.Length);
                if (score.CompareTo(bestScore) < 0) (best, cut, bestScore) = (p, layerEnd, score);
            }
            if (best is null) continue;
            var layerPath = string.Join('/', best[..(cut + 1)]);
            var info = metadata.TryGetValue(layerPath, out var m) ? m : new KerasLayerInfo(layerPath, layerPath, null);
            if (!layerByPath.TryGetValue(layerPath, out var index))
            {
                layerByPath[layerPath] = index = layers.Count;
                layers.Add((layerPath, info, []));
            }
            var weightName = info.Name + "/" + string.Join('/', best[(cut + 1)..]);
            layers[index].Weights.Add(new KerasLayers.Weight(weightName, entry.Shape.Select(d => (int)d).ToArray(),
                DTypes.Name(scalar), bundle.Loader(key, entry)));
            claimed.Add(key);
        }

        // Keras's own layer order: layer_with_weights-N / layer-N by N, else first seen.
        var ordered = layers.OrderBy(l => LayerNumber(l.Path)).Select(l => new KerasLayers.Layer(l.Info.Name, l.Weights, l.Info.Config)).ToList();
        var origin = new KerasLayers.Origin(source, kerasVersion, "tensorflow");
        try
        {
            var (tensors, warnings) = KerasLayers.Describe(ordered, origin);
            d.Tensors.AddRange(tensors);
            d.Warnings.AddRange(warnings);
        }
        catch (LstmPortException)
        {
            // One layer contradicts itself: find it, so only that layer is lost, then describe the rest together.
            var good = new List<KerasLayers.Layer>();
            foreach (var layer in ordered)
            {
                try { _ = KerasLayers.Describe([layer], origin); good.Add(layer); }
                catch (LstmPortException e) { d.Errors.Add(e); }
            }
            var (tensors, warnings) = KerasLayers.Describe(good, origin);
            d.Tensors.AddRange(tensors);
            d.Warnings.AddRange(warnings);
        }

        var others = new List<string>();
        foreach (var (key, entry) in bundle.Entries)
        {
            if (claimed.Contains(key) || key == TensorBundle.ObjectGraphKey || TfDataType.Scalar(entry.DType) is not { } scalar) continue;
            if (TrainingState.Kind(key) is { } kind) { training.Add(kind, key); continue; }
            var name = key.Replace("/.ATTRIBUTES/VARIABLE_VALUE", "", StringComparison.Ordinal);
            others.Add(name);
            d.Tensors.Add(new LstmTensor(name, name, LayerType.Other, TensorRole.Other, Layout.Keras,
                entry.Shape.Select(x => (int)x).ToArray(), DTypes.Name(scalar), bundle.Loader(key, entry), source: source));
        }
        if (others.Count > 0)
            d.Warnings.Add($"{others.Count} variables are not weights of a Keras layer, so they are listed as LayerType Other and left out of conversions: " +
                           $"{string.Join(", ", others.Take(5))}{(others.Count > 5 ? ", ..." : "")}");
        if (training.Note() is { } note) d.Notes.Add(note);
        return d;
    }

    /// <summary>Training state by the object graph: slot variables, anything below the optimizer, metrics, the save counter.</summary>
    static string? TrainingKind(string key, bool slot, List<string[]>? paths)
    {
        if (slot) return TrainingState.Slot;
        if (TrainingState.Kind(key) is { } kind) return kind;
        if (paths is null || paths.Count == 0) return null;
        // Only when every path to it leads there: a weight the optimizer also tracks is still a weight.
        if (paths.All(p => p.Length > 0 && p[0] == "optimizer")) return TrainingState.Optimizer;
        if (paths.All(p => p.Length > 0 && p[0] == "keras_api" && p.Contains("metrics"))) return TrainingState.Metric;
        if (paths.All(p => p.Length == 1 && p[0] == "save_counter")) return TrainingState.Counter;
        return null;
    }

    static bool IsListSegment(string segment) =>
        segment.All(char.IsAsciiDigit) || segment is "variables" or "trainable_variables" or "non_trainable_variables" or "_variables" or "weights";

    static int LayerEnd(string[] path, IReadOnlyDictionary<string, KerasLayerInfo> metadata)
    {
        for (int i = 0; i < path.Length - 1; i++)
            if (KerasLayerSegment().IsMatch(path[i]) || metadata.ContainsKey(string.Join('/', path[..(i + 1)]))) return i;
        // A Keras layer held by a tf.Module or tf.train.Checkpoint under its own attribute name
        // (model/encoder/cell/kernel): the object above its weights (and above cell, forward_layer/backward_layer).
        if (path.Length < 2 || path[^1] is not ("kernel" or "recurrent_kernel" or "bias" or "embeddings")) return -1;
        int end = path.Length - 2;
        if (end > 0 && path[end] == "cell") end--;
        if (end > 0 && path[end] is "forward_layer" or "backward_layer") end--;
        return end >= 0 && path[end] is not ("optimizer" or "keras_api") ? end : -1;
    }

    static (int, string) LayerNumber(string path)
    {
        var last = path.Split('/')[^1];
        int dash = last.LastIndexOf('-');
        return dash > 0 && int.TryParse(last.AsSpan(dash + 1), out var n) ? (n, path) : (int.MaxValue, path);
    }

    /// <summary>keras_metadata.pb (SavedMetadata: nodes = 1; SavedObject: node_path = 3, metadata = 5 JSON): layer name and config by object path.</summary>
    public static (Dictionary<string, KerasLayerInfo> Layers, string? KerasVersion) ParseKerasMetadata(byte[] bytes)
    {
        var layers = new Dictionary<string, KerasLayerInfo>(StringComparer.Ordinal);
        string? version = null;
        TfProto.Fields(bytes, (n, w, s) =>
        {
            if (n != 1) return false;
            string nodePath = "", json = "";
            TfProto.Fields(TfProto.Bytes(s), (on, ow, os) =>
            {
                if (on == 3) { nodePath = os.ReadString(); return true; }
                if (on == 5) { json = os.ReadString(); return true; }
                return false;
            });
            if (json.Length == 0) return true;
            JsonElement meta;
            try { meta = JsonDocument.Parse(json).RootElement.Clone(); }
            catch (JsonException) { return true; }
            if (meta.ValueKind != JsonValueKind.Object) return true;
            if (nodePath == "root")
            {
                if (meta.TryGetProperty("keras_version", out var kv) && kv.ValueKind == JsonValueKind.String) version = kv.GetString();
                return true;
            }
            if (!nodePath.StartsWith("root.", StringComparison.Ordinal)) return true;
            var path = nodePath["root.".Length..].Replace('.', '/');
            var name = meta.TryGetProperty("name", out var nm) && nm.ValueKind == JsonValueKind.String ? nm.GetString()! : path;
            layers[path] = new KerasLayerInfo(path, name, meta.TryGetProperty("class_name", out _) ? meta : null);
            return true;
        });
        return (layers, version);
    }
}
