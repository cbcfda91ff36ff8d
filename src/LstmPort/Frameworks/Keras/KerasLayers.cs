using LstmPort.Conversion;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using TorchSharp;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// Turns the layers of a Keras file (stored weights in stored order, plus the layer's config when
/// the file has one) into <see cref="LstmTensor"/>s in the one Keras layout every later step expects:
/// Kernel <c>[in,gates*h]</c>, RecurrentKernel <c>[h,gates*h]</c>, Bias, gate order IFCO / ZRH.
/// Keras 1 per-gate arrays (<c>W_i, U_i, b_i, ...</c>) are concatenated into that layout. Roles come
/// from the weight's own name (<c>kernel</c>, <c>recurrent_kernel</c>, <c>W_f</c>), or from its
/// position for <c>.keras</c> archives (<c>vars/0..N</c>).
/// </summary>
public static partial class KerasLayers
{
    /// <param name="Load">Reads the data anew on every call (the caller owns what it returns).</param>
    public sealed record Weight(string Name, int[] Shape, string DType, Func<torch.Tensor> Load);

    /// <param name="Config">The layer's <c>{"class_name": ..., "config": {...}}</c> object, when the file has a model config.</param>
    /// <param name="ClassHint">Without a config, the layer class the file's structure tells (Keras 3 names a layer's group after its class).</param>
    public sealed record Layer(string Name, IReadOnlyList<Weight> Weights, JsonElement? Config, string? ClassHint = null);

    /// <param name="KerasVersion">The version the file or its config records (also put in Config).</param>
    /// <param name="AssumedVersion">The version whose defaults apply when none is recorded (a Keras 3 weights file records none).</param>
    public sealed record Origin(string Path, string? KerasVersion, string? Backend, string? AssumedVersion = null)
    {
        public KerasVersion Version => Keras.KerasVersion.Parse(KerasVersion ?? AssumedVersion);
    }

    /// <summary>What <see cref="Read"/> found: tensors in layer order, warnings, and one error per layer that could not be understood.</summary>
    public sealed record Described(IReadOnlyList<LstmTensor> Tensors, IReadOnlyList<string> Warnings, IReadOnlyList<LstmPortException> Errors);

    [GeneratedRegex(@"_(?<kind>[WUb])(?:_(?<gate>[a-z]))?$")]
    private static partial Regex Keras1Suffix();

    [GeneratedRegex(@":\d+$")]
    private static partial Regex TensorIndex();

    enum Part { Kernel, Recurrent, Bias, Embeddings, Unknown }

    sealed record Classified(Weight Weight, Part Part, char? Gate, int Position);

    static readonly HashSet<string> RecurrentClasses = new(StringComparer.Ordinal)
        { "LSTM", "GRU", "SimpleRNN", "CuDNNLSTM", "CuDNNGRU" };

    /// <summary>Describes every layer; returns the tensors in layer order and the notes for the user. The first layer that cannot be understood throws.</summary>
    public static (IReadOnlyList<LstmTensor> Tensors, IReadOnlyList<string> Warnings) Describe(IReadOnlyList<Layer> layers, Origin origin)
    {
        var d = Read(layers, origin);
        if (d.Errors.Count > 0) throw d.Errors[0];
        return (d.Tensors, d.Warnings);
    }

    /// <summary>
    /// Describes every layer. A layer whose weights do not fit its type (count, shapes, a config
    /// that disagrees) is left out with its own error; the other layers are still described. A
    /// layer of a kind LstmPort does not know keeps its weights as LayerType Other, and a warning
    /// names it.
    /// </summary>
    public static Described Read(IReadOnlyList<Layer> layers, Origin origin)
    {
        var result = new List<LstmTensor>();
        var errors = new List<LstmPortException>();
        var inferredLayers = new List<string>();
        var unknown = new List<string>();
        foreach (var layer in layers)
        {
            if (layer.Weights.Count == 0) continue;
            var layerTensors = new List<LstmTensor>();
            try
            {
                var (inferred, kind) = DescribeLayer(layer, origin, layerTensors);
                if (inferred.Count > 0) inferredLayers.Add($"{layer.Name} ({string.Join(", ", inferred)})");
                if (kind is not null) unknown.Add(kind);
                result.AddRange(layerTensors);
            }
            catch (LstmPortException e) { errors.Add(e); }
        }
        var warnings = new List<string>();
        if (inferredLayers.Count > 0)
            warnings.Add($"the file has no model config for {string.Join("; ", inferredLayers)}: layer types come from the weights and " +
                         $"the settings in brackets are {VersionText(origin)} defaults, which Config.inferred lists. " +
                         "Give the model's config (-Config) if it used others: a relu LSTM, say, has the same weights as a tanh one.");
        if (unknown.Count > 0)
            warnings.Add($"LstmPort does not know the kind of {string.Join(", ", unknown)}: {(unknown.Count == 1 ? "its" : "their")} weights are listed " +
                         "with LayerType Other and are not converted.");
        return new Described(result, warnings, errors);
    }

    static string VersionText(Origin origin) =>
        origin.KerasVersion is string v ? "Keras " + v
        : origin.AssumedVersion is string a ? (a.StartsWith('3') ? "Keras 3" : "tf.keras " + a)
        : "Keras 1";

    static readonly Dictionary<string, string> RnnCells = new(StringComparer.Ordinal)
        { ["LSTMCell"] = "LSTM", ["GRUCell"] = "GRU", ["SimpleRNNCell"] = "SimpleRNN" };

    /// <returns>The keys whose values were inferred, and the layer's description when its kind is unknown.</returns>
    static (List<string> Inferred, string? UnknownKind) DescribeLayer(Layer layer, Origin origin, List<LstmTensor> result)
    {
        string? className = null;
        JsonElement? cfg = null;
        string? mergeMode = null;
        bool bidirectional = false;
        if (layer.Config is JsonElement c && c.ValueKind == JsonValueKind.Object)
        {
            className = Str(c, "class_name");
            cfg = c.TryGetProperty("config", out var inner) && inner.ValueKind == JsonValueKind.Object ? inner : null;
            // Wrappers: the maths is the wrapped layer's.
            while (className is "Bidirectional" or "TimeDistributed" && cfg is JsonElement w
                   && w.TryGetProperty("layer", out var wrapped) && wrapped.ValueKind == JsonValueKind.Object)
            {
                if (className == "Bidirectional")
                {
                    bidirectional = true;
                    mergeMode = w.TryGetProperty("merge_mode", out var mm) && mm.ValueKind == JsonValueKind.String ? mm.GetString() : null;
                }
                className = Str(wrapped, "class_name");
                cfg = wrapped.TryGetProperty("config", out var wc) && wc.ValueKind == JsonValueKind.Object ? wc : null;
            }
            // keras.layers.RNN(LSTMCell(...)) computes an LSTM: the cell has the maths, the RNN the sequence settings.
            if (className == "RNN" && cfg is JsonElement rnn && rnn.TryGetProperty("cell", out var cell) && cell.ValueKind == JsonValueKind.Object
                && Str(cell, "class_name") is string cellClass && RnnCells.TryGetValue(cellClass, out var asLayer)
                && cell.TryGetProperty("config", out var cellCfg) && cellCfg.ValueKind == JsonValueKind.Object)
            {
                className = asLayer;
                cfg = Merge(cellCfg, rnn);
            }
        }
        bool fromConfig = className is not null;
        // Without a config, the class the file's structure tells (a Keras 3 group name) still gives the type.
        string? hinted = fromConfig ? null : layer.ClassHint;

        var halves = SplitDirections(layer.Weights);
        if (!fromConfig) bidirectional = halves.Backward.Count > 0 && halves.Forward.Count > 0;
        if (!bidirectional) halves = (layer.Weights, []);

        var version = origin.Version;
        LayerType? known = fromConfig ? TypeOf(className!) : hinted is not null && TypeOf(hinted) is var h && h != LayerType.Other ? h : null;
        var forward = Classify(halves.Forward, version, known ?? GuessPositional(halves.Forward, hinted));
        var backward = Classify(halves.Backward, version, known ?? GuessPositional(halves.Forward, hinted));
        var type = known ?? InferType(layer.Name, forward);
        if (known is not null && type != LayerType.Other && !Fits(type, forward))
            throw Mismatch(origin, layer, $"a {className ?? hinted} layer stores kernel, recurrent kernel and bias (or kernel and bias for Dense, one table for Embedding), but its weights are {Describe(layer.Weights)}");
        if (type == LayerType.Other)
        {
            foreach (var w in layer.Weights)
                result.Add(new LstmTensor(w.Name, layer.Name, LayerType.Other, TensorRole.Other, Layout.Keras, w.Shape, w.DType, w.Load, source: origin.Path, reloadable: true));
            var kind = className ?? hinted;
            return ([], kind is not null ? $"{layer.Name} ({kind})"
                : $"{layer.Name} (no config, and its weights {string.Join(", ", layer.Weights.Select(w => $"[{string.Join(",", w.Shape)}]"))} fit no layer type it knows)");
        }

        var config = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        var inferredKeys = new List<string>();
        var fwd = Assemble(type, forward, origin, layer);
        var bwd = bidirectional ? Assemble(type, backward, origin, layer) : null;
        if (bwd is not null && !fwd.Shapes().SequenceEqual(bwd.Shapes(), ShapeComparer.Instance))
            throw Mismatch(origin, layer, $"its forward and backward halves differ: {Describe(halves.Forward)} against {Describe(halves.Backward)}");

        bool cudnn = className is "CuDNNLSTM" or "CuDNNGRU" || (!fromConfig && fwd.BiasIsDoubled);
        FillConfig(config, inferredKeys, type, cfg, fromConfig, cudnn, fwd, origin, layer, bidirectional, mergeMode);
        CheckAgainstConfig(type, cfg, fwd, cudnn, config, origin, layer, className);

        if (inferredKeys.Count > 0) config[ConfigKeys.Inferred] = inferredKeys.ToArray();
        if (origin.KerasVersion is not null) config[ConfigKeys.KerasVersion] = origin.KerasVersion;
        if (origin.Backend is not null) config[ConfigKeys.Backend] = origin.Backend;

        Emit(result, layer.Name, type, fwd, Direction.Forward, config, origin);
        if (bwd is not null) Emit(result, layer.Name, type, bwd, Direction.Backward, config, origin);
        return (inferredKeys, null);
    }

    /// <summary>The cell's settings with the wrapping RNN's sequence settings (go_backwards, return_sequences, ...) on top.</summary>
    static JsonElement Merge(JsonElement cell, JsonElement rnn)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            foreach (var p in cell.EnumerateObject()) if (!rnn.TryGetProperty(p.Name, out _) || p.Name is "units" or "activation" or "recurrent_activation" or "use_bias" or "reset_after") p.WriteTo(w);
            foreach (var p in rnn.EnumerateObject()) if (p.Name is not ("cell" or "units" or "activation" or "recurrent_activation" or "use_bias" or "reset_after")) p.WriteTo(w);
            w.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(stream.ToArray());
        return doc.RootElement.Clone();
    }

    /// <summary>
    /// Positional weights (a Keras 3 file's vars/0..n) without a type from a config or the file's
    /// structure: a recurrent layer has [in,G*h], [h,G*h] (and a bias); a Dense [in,out] and [out];
    /// one table is an Embedding only when its group says so.
    /// </summary>
    static LayerType? GuessPositional(IReadOnlyList<Weight> weights, string? hint)
    {
        if (weights.Count == 0 || !weights.All(w => int.TryParse(w.Name.Split('/')[^1], out _))) return null;
        var s = weights.Select(w => w.Shape).ToList();
        if (s.Count is 2 or 3 && s[0].Length == 2 && s[1].Length == 2 && s[1][0] > 0 && s[1][1] % s[1][0] == 0 && s[0][1] == s[1][1])
            return (s[1][1] / s[1][0]) switch { 4 => LayerType.LSTM, 3 => LayerType.GRU, 1 => LayerType.SimpleRNN, _ => null };
        if (s.Count == 2 && s[0].Length == 2 && s[1].Length == 1 && s[1][0] == s[0][1]) return LayerType.Dense;
        if (s.Count == 1 && s[0].Length == 2 && hint is "Embedding") return LayerType.Embedding;
        return null;
    }

    // ---- directions -------------------------------------------------------------------------

    static (IReadOnlyList<Weight> Forward, IReadOnlyList<Weight> Backward) SplitDirections(IReadOnlyList<Weight> weights)
    {
        var fwd = new List<Weight>();
        var bwd = new List<Weight>();
        foreach (var w in weights)
        {
            // Keras 1: forward_lstm_1_W_i:0; Keras 2+: bidirectional_1/forward_lstm_1/kernel:0; .keras: forward_layer/cell/vars/0.
            var segments = w.Name.Split('/');
            if (segments.Any(s => s.StartsWith("backward_", StringComparison.Ordinal))) bwd.Add(w);
            else fwd.Add(w);
        }
        return (fwd, bwd);
    }

    // ---- roles --------------------------------------------------------------------------------

    static List<Classified> Classify(IReadOnlyList<Weight> weights, KerasVersion version, LayerType? positionalType)
    {
        var list = new List<Classified>();
        int position = 0;
        foreach (var w in weights)
        {
            var last = TensorIndex().Replace(w.Name.Split('/')[^1], "");
            Part part = last switch
            {
                "kernel" => Part.Kernel,
                "recurrent_kernel" => Part.Recurrent,
                "bias" => Part.Bias,
                "embeddings" => Part.Embeddings,
                _ => Part.Unknown,
            };
            char? gate = null;
            // Keras 1 names arrays <layer>_W, <layer>_U_f, <layer>_b_i. Later Keras versions say kernel/bias,
            // so a Keras 2 custom layer's "attention_W" is not mistaken for a kernel.
            if (part == Part.Unknown && version.Major < 2 && Keras1Suffix().Match(last) is { Success: true } m)
            {
                part = m.Groups["kind"].Value switch { "W" => Part.Kernel, "U" => Part.Recurrent, _ => Part.Bias };
                if (m.Groups["gate"].Success) gate = m.Groups["gate"].Value[0];
            }
            list.Add(new Classified(w, part, gate, position++));
        }
        // .keras archives: vars/0..N carry no names; the layer type gives their meaning.
        if (list.Count > 0 && list.All(c => c.Part == Part.Unknown && int.TryParse(c.Weight.Name.Split('/')[^1], out _)))
        {
            Part[] byPosition = positionalType switch
            {
                LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN => [Part.Kernel, Part.Recurrent, Part.Bias],
                LayerType.Dense => [Part.Kernel, Part.Bias],
                LayerType.Embedding => [Part.Embeddings],
                _ => [],
            };
            list = list.Select((c, i) => c with { Part = i < byPosition.Length ? byPosition[i] : Part.Unknown }).ToList();
        }
        return list;
    }

    static LayerType TypeOf(string className) => className switch
    {
        "LSTM" or "CuDNNLSTM" => LayerType.LSTM,
        "GRU" or "CuDNNGRU" => LayerType.GRU,
        "SimpleRNN" => LayerType.SimpleRNN,
        "Dense" => LayerType.Dense,
        "Embedding" => LayerType.Embedding,
        _ => LayerType.Other,
    };

    static bool Fits(LayerType type, List<Classified> parts) => type switch
    {
        LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN =>
            parts.Count(p => p.Part == Part.Kernel) >= 1 && parts.Count(p => p.Part == Part.Recurrent) >= 1,
        LayerType.Dense => parts.Count(p => p.Part == Part.Kernel) == 1 && parts.All(p => p.Part != Part.Recurrent),
        LayerType.Embedding => parts.Count(p => p.Part is Part.Embeddings or Part.Kernel) == 1,
        _ => true,
    };

    /// <summary>Weights-only files: the type follows from the shapes (recurrent kernel [h, gates*h]).</summary>
    static LayerType InferType(string layerName, List<Classified> parts)
    {
        var kernel = parts.Where(p => p.Part == Part.Kernel).ToList();
        var recurrent = parts.Where(p => p.Part == Part.Recurrent).ToList();
        if (parts.Any(p => p.Part == Part.Unknown) || kernel.Count == 0) return parts.Count == 1 && parts[0].Part == Part.Embeddings ? LayerType.Embedding : LayerType.Other;
        if (recurrent.Count > 0)
        {
            // Keras 1 per-gate arrays name their gates.
            var gates = recurrent.Where(r => r.Gate is not null).Select(r => r.Gate!.Value).ToHashSet();
            if (gates.SetEquals("ifco")) return LayerType.LSTM;
            if (gates.SetEquals("zrh")) return LayerType.GRU;
            if (gates.Count > 0 || recurrent.Count != 1 || recurrent[0].Weight.Shape.Length != 2) return LayerType.Other;
            var r = recurrent[0].Weight.Shape;
            if (r[0] == 0 || r[1] % r[0] != 0) return LayerType.Other;
            return (r[1] / r[0]) switch { 4 => LayerType.LSTM, 3 => LayerType.GRU, 1 => LayerType.SimpleRNN, _ => LayerType.Other };
        }
        if (kernel.Count == 1 && kernel[0].Weight.Shape.Length == 2)
        {
            bool hasBias = parts.Any(p => p.Part == Part.Bias);
            // Keras 1 names an embedding table W like a Dense kernel; only the layer name tells them apart.
            if (!hasBias && layerName.Contains("embed", StringComparison.OrdinalIgnoreCase)) return LayerType.Embedding;
            return LayerType.Dense;
        }
        return LayerType.Other;
    }

    // ---- assembling one direction -------------------------------------------------------------

    sealed record Piece(TensorRole Role, string Name, int[] Shape, string DType, Func<torch.Tensor> Load);

    sealed class Assembled
    {
        public required List<Piece> Pieces { get; init; }
        public int Units { get; init; }
        public int InputSize { get; init; }
        public int[]? BiasShape { get; init; }
        public bool BiasIsDoubled { get; init; }
        public bool BiasIsTwoRows { get; init; }
        public IEnumerable<int[]> Shapes() => Pieces.Select(p => p.Shape);
    }

    static Assembled Assemble(LayerType type, List<Classified> parts, Origin origin, Layer layer)
    {
        int gates = Gates.Blocks(type);
        string order = type == LayerType.LSTM ? "ifco" : "zrh";
        var pieces = new List<Piece>();

        Piece? Join(Part part, TensorRole role)
        {
            var found = parts.Where(p => p.Part == part).ToList();
            if (found.Count == 0) return null;
            if (found.Count == 1 && found[0].Gate is null)
            {
                var w = found[0].Weight;
                return new Piece(role, w.Name, w.Shape, w.DType, w.Load);
            }
            // Keras 1 per-gate arrays: one per gate, concatenated in Keras' own gate order.
            var letters = found.Select(f => f.Gate).ToList();
            if (type is not (LayerType.LSTM or LayerType.GRU) || letters.Any(g => g is null) || !letters.Select(g => g!.Value).ToHashSet().SetEquals(order) || found.Count != gates)
                throw Mismatch(origin, layer, $"its per-gate weights ({string.Join(", ", found.Select(f => f.Weight.Name))}) are not one per {type} gate ({string.Join(",", order.ToCharArray())})");
            var ordered = order.Select(g => found.Single(f => f.Gate == g).Weight).ToList();
            var first = ordered[0];
            if (ordered.Any(o => !o.Shape.SequenceEqual(first.Shape) || o.DType != first.DType))
                throw Mismatch(origin, layer, $"its per-gate weights differ in shape or type: {Describe(ordered)}");
            int axis = first.Shape.Length - 1;
            var shape = (int[])first.Shape.Clone();
            shape[axis] *= gates;
            var name = Keras1Joined(first.Name);
            return new Piece(role, name, shape, first.DType, () =>
            {
                var loaded = ordered.Select(o => o.Load()).ToList();
                try { return torch.cat(loaded, axis); }
                finally { foreach (var t in loaded) t.Dispose(); }
            });
        }

        if (type == LayerType.Embedding)
        {
            var table = parts.Single(p => p.Part is Part.Embeddings or Part.Kernel);
            pieces.Add(new Piece(TensorRole.Embeddings, table.Weight.Name, table.Weight.Shape, table.Weight.DType, table.Weight.Load));
            if (table.Weight.Shape.Length != 2)
                throw Mismatch(origin, layer, $"an embedding table is [input_dim, output_dim], but it is [{string.Join(",", table.Weight.Shape)}]");
            AddOthers(pieces, parts);
            return new Assembled { Pieces = pieces, Units = table.Weight.Shape[1], InputSize = table.Weight.Shape[0] };
        }

        var kernel = Join(Part.Kernel, TensorRole.Kernel)!;
        var recurrent = type == LayerType.Dense ? null : Join(Part.Recurrent, TensorRole.RecurrentKernel);
        var bias = Join(Part.Bias, TensorRole.Bias);
        pieces.Add(kernel);
        if (recurrent is not null) pieces.Add(recurrent);
        if (bias is not null) pieces.Add(bias);
        AddOthers(pieces, parts);

        if (kernel.Shape.Length != 2)
            throw Mismatch(origin, layer, $"the kernel should be a matrix [input, {(type == LayerType.Dense ? "units" : $"{gates}*units")}], but it is [{string.Join(",", kernel.Shape)}]");
        if (type == LayerType.Dense)
        {
            int outputs = kernel.Shape[1];
            if (bias is not null && !bias.Shape.SequenceEqual([outputs]))
                throw Mismatch(origin, layer, $"a Dense kernel [{kernel.Shape[0]},{outputs}] needs a bias [{outputs}], but it is [{string.Join(",", bias.Shape)}]");
            return new Assembled { Pieces = pieces, Units = outputs, InputSize = kernel.Shape[0], BiasShape = bias?.Shape };
        }

        var rk = recurrent!.Shape;
        if (rk.Length != 2 || rk[1] != gates * rk[0])
            throw Mismatch(origin, layer, $"an {type} recurrent kernel is [units, {gates}*units], but it is [{string.Join(",", rk)}]");
        int h = rk[0];
        if (kernel.Shape[1] != gates * h)
            throw Mismatch(origin, layer, $"with {h} units the kernel should be [input, {gates * h}], but it is [{string.Join(",", kernel.Shape)}]");
        bool doubled = false, twoRows = false;
        if (bias is not null)
        {
            var b = bias.Shape;
            if (b.SequenceEqual([gates * h])) { }
            else if (b.SequenceEqual([2 * gates * h]) && type is LayerType.LSTM or LayerType.GRU) doubled = true;   // CuDNN: input half, recurrent half
            else if (b.SequenceEqual([2, gates * h]) && type == LayerType.GRU) twoRows = true;                   // GRU reset_after=True
            else
                throw Mismatch(origin, layer, $"with {h} units the bias should be [{gates * h}]" +
                    (type == LayerType.GRU ? $", [2,{gates * h}] (reset_after) or [{6 * h}] (CuDNNGRU)" : type == LayerType.LSTM ? $" or [{8 * h}] (CuDNNLSTM)" : "") +
                    $", but it is [{string.Join(",", b)}]");
        }
        return new Assembled { Pieces = pieces, Units = h, InputSize = kernel.Shape[0], BiasShape = bias?.Shape, BiasIsDoubled = doubled, BiasIsTwoRows = twoRows };
    }

    /// <summary>Weights a known layer type does not define (e.g. a Keras 3 seed generator's state) are kept, as Other.</summary>
    static void AddOthers(List<Piece> pieces, List<Classified> parts)
    {
        foreach (var p in parts.Where(p => p.Part == Part.Unknown))
            pieces.Add(new Piece(TensorRole.Other, p.Weight.Name, p.Weight.Shape, p.Weight.DType, p.Weight.Load));
    }

    /// <summary>lstm_1_W_i:0 → lstm_1_W:0 (the name Keras 1 gives the same array when it fuses the gates).</summary>
    static string Keras1Joined(string name)
    {
        var m = Regex.Match(name, @"_(?<kind>[WUb])_[a-z](?<tail>(:\d+)?)$");
        return m.Success ? name[..m.Index] + "_" + m.Groups["kind"].Value + m.Groups["tail"].Value : name;
    }

    // ---- config -------------------------------------------------------------------------------

    static void FillConfig(Dictionary<string, object?> config, List<string> inferred, LayerType type, JsonElement? cfg, bool fromConfig,
        bool cudnn, Assembled fwd, Origin origin, Layer layer, bool bidirectional, string? mergeMode)
    {
        var version = origin.Version;
        void Set(string key, object? value, bool guessed)
        {
            config[key] = value;
            if (guessed) inferred.Add(key);
        }

        if (type is LayerType.Dense)
        {
            Set(ConfigKeys.Activation, Activation(cfg, "activation") ?? "linear", !fromConfig);
            Set(ConfigKeys.UseBias, fwd.BiasShape is not null, false);
            return;
        }
        if (type is LayerType.Embedding) return;

        if (cudnn)
        {
            // CuDNN layers have fixed activations and always two biases.
            Set(ConfigKeys.Activation, "tanh", false);
            Set(ConfigKeys.RecurrentActivation, "sigmoid", false);
            Set(ConfigKeys.Cudnn, true, !fromConfig);
            Set(ConfigKeys.UseBias, true, false);
            if (type == LayerType.GRU) Set(ConfigKeys.ResetAfter, true, false);
        }
        else
        {
            Set(ConfigKeys.Activation, Activation(cfg, "activation") ?? "tanh", !fromConfig);
            if (type != LayerType.SimpleRNN)
                Set(ConfigKeys.RecurrentActivation,
                    Activation(cfg, "recurrent_activation") ?? Activation(cfg, "inner_activation") ?? version.DefaultRecurrentActivation(layer.Weights),
                    !fromConfig);
            // use_bias (Keras 1: bias) is what the weights show; a config that disagrees is caught below.
            Set(ConfigKeys.UseBias, fwd.BiasShape is not null, false);
            // A [2,3h] bias is reset_after=True, a [3h] one False; without a bias only the config or the
            // version's default (True from Keras 3) tells, and it still changes the maths.
            if (type == LayerType.GRU)
                Set(ConfigKeys.ResetAfter, fwd.BiasIsTwoRows
                    || (fwd.BiasShape is null ? Bool(cfg, "reset_after") ?? version.Major >= 3 : fromConfig && Bool(cfg, "reset_after") == true), !fromConfig);
        }
        Set(ConfigKeys.GoBackwards, Bool(cfg, "go_backwards") ?? false, !fromConfig);
        Set(ConfigKeys.ReturnSequences, Bool(cfg, "return_sequences") ?? false, !fromConfig);
        Set(ConfigKeys.Stateful, Bool(cfg, "stateful") ?? false, !fromConfig);
        if (bidirectional) Set(ConfigKeys.MergeMode, fromConfig ? mergeMode : "concat", !fromConfig);
        if (config.TryGetValue(ConfigKeys.RecurrentActivation, out var ra) && ra is "hard_sigmoid"
            || config.TryGetValue(ConfigKeys.Activation, out var a) && a is "hard_sigmoid")
            Set(ConfigKeys.HardSigmoid, version.Major >= 3 ? "keras3" : "keras2", origin.KerasVersion is null);
    }

    static void CheckAgainstConfig(LayerType type, JsonElement? cfg, Assembled fwd, bool cudnn, Dictionary<string, object?> config,
        Origin origin, Layer layer, string? className)
    {
        if (cfg is not JsonElement c) return;
        int? units = Int(c, "units") ?? Int(c, "output_dim");
        if (type == LayerType.Embedding)
        {
            int? inputDim = Int(c, "input_dim");
            if (units is int o && o != fwd.Units || inputDim is int i && i != fwd.InputSize)
                throw Mismatch(origin, layer, $"its config says input_dim={inputDim}, output_dim={units}, but the table is [{fwd.InputSize},{fwd.Units}]");
            return;
        }
        if (units is int u && u != fwd.Units)
            throw Mismatch(origin, layer, $"its config says {u} units, but the weights have {fwd.Units} ({Describe(fwd)})");
        bool? useBias = Bool(c, "use_bias") ?? Bool(c, "bias");
        if (useBias is bool ub && ub != (fwd.BiasShape is not null))
            throw Mismatch(origin, layer, $"its config says use_bias={ub.ToString().ToLowerInvariant()}, but the layer {(ub ? "stores no bias" : "stores a bias")}");
        if (type == LayerType.GRU && !cudnn && config.TryGetValue(ConfigKeys.ResetAfter, out var ra) && fwd.BiasShape is not null)
        {
            bool resetAfter = ra is true;
            if (resetAfter != fwd.BiasIsTwoRows)
                throw Mismatch(origin, layer, $"its config says reset_after={resetAfter.ToString().ToLowerInvariant()}, so the bias should be " +
                    (resetAfter ? $"[2,{3 * fwd.Units}]" : $"[{3 * fwd.Units}]") + $", but it is [{string.Join(",", fwd.BiasShape)}]");
        }
        if (!cudnn && fwd.BiasIsDoubled)
            throw Mismatch(origin, layer, $"a {className} bias is [{(type == LayerType.GRU ? 3 : 4) * fwd.Units}], but this one is [{string.Join(",", fwd.BiasShape!)}] (a CuDNN layer's)");
        if (cudnn && fwd.BiasShape is int[] bs && !fwd.BiasIsDoubled)
            throw Mismatch(origin, layer, $"a {className} bias is [{2 * (type == LayerType.GRU ? 3 : 4) * fwd.Units}] (input and recurrent halves), but this one is [{string.Join(",", bs)}]");
    }

    static string? Activation(JsonElement? cfg, string key)
    {
        if (cfg is not JsonElement c || !c.TryGetProperty(key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            // Keras 3 may serialise an activation as an object: {"class_name": "function", "config": "tanh"} or a named config.
            JsonValueKind.Object => v.TryGetProperty("config", out var inner) && inner.ValueKind == JsonValueKind.String ? inner.GetString()
                : inner.ValueKind == JsonValueKind.Object && Str(inner, "name") is string n ? n : Str(v, "class_name"),
            _ => null,
        };
    }

    static bool? Bool(JsonElement? cfg, string key) =>
        cfg is JsonElement c && c.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    static int? Int(JsonElement c, string key) =>
        c.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

    static string? Str(JsonElement c, string key) =>
        c.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    // ---- output -------------------------------------------------------------------------------

    static void Emit(List<LstmTensor> result, string layer, LayerType type, Assembled a, Direction direction,
        Dictionary<string, object?> config, Origin origin)
    {
        var order = Gates.KerasOrder(type);
        foreach (var p in a.Pieces)
            result.Add(new LstmTensor(p.Name, layer, type, p.Role, Layout.Keras, p.Shape, p.DType, p.Load, direction,
                gateOrder: p.Role is TensorRole.Embeddings or TensorRole.Other ? GateOrder.None : order, units: a.Units, inputSize: a.InputSize,
                config: config, source: origin.Path, reloadable: true));
    }

    static LstmPortException Mismatch(Origin origin, Layer layer, string what) =>
        new(ErrorIds.LayerShapeMismatch, $"'{origin.Path}': layer '{layer.Name}' is not what a Keras layer of its kind should be: {what}.", origin.Path);

    static string Describe(IEnumerable<Weight> weights) =>
        string.Join(", ", weights.Select(w => $"{w.Name} [{string.Join(",", w.Shape)}]"));

    static string Describe(Assembled a) =>
        string.Join(", ", a.Pieces.Select(p => $"{p.Role} [{string.Join(",", p.Shape)}]"));

    sealed class ShapeComparer : IEqualityComparer<int[]>
    {
        public static readonly ShapeComparer Instance = new();
        public bool Equals(int[]? x, int[]? y) => x is not null && y is not null && x.SequenceEqual(y);
        public int GetHashCode(int[] obj) => obj.Length;
    }
}

/// <summary>A Keras version as files record it ("1.2.2", "2.2.4-tf", "3.11.2"), and the defaults it implies.</summary>
public readonly record struct KerasVersion(int Major, int Minor, bool TensorFlowBundled)
{
    public static KerasVersion Parse(string? text)
    {
        // Keras writes no keras_version before 1.x's last releases; its own loader then assumes "1".
        if (string.IsNullOrWhiteSpace(text)) return new(1, 0, false);
        var core = text.Split('-')[0].Split('.');
        int major = core.Length > 0 && int.TryParse(core[0], NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : 1;
        int minor = core.Length > 1 && int.TryParse(core[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
        return new(major, minor, text.EndsWith("-tf", StringComparison.Ordinal));
    }

    /// <summary>
    /// The LSTM/GRU recurrent_activation a layer had when its config is not in the file: hard_sigmoid
    /// up to Keras 2.2 and in TF 1.x's tf.keras; sigmoid from Keras 2.3, TF 2 and Keras 3. TF 2.0/2.1
    /// still report "2.2.4-tf"; they are told apart by the cell group TF 2 puts in weight names.
    /// </summary>
    public string DefaultRecurrentActivation(IEnumerable<KerasLayers.Weight> weights)
    {
        if (Major >= 3) return "sigmoid";
        if (Major < 2) return "hard_sigmoid";
        if (TensorFlowBundled && Minor <= 2)
            return weights.Any(w => w.Name.Split('/').Any(s => s.EndsWith("_cell", StringComparison.Ordinal) || s.Contains("_cell_", StringComparison.Ordinal)))
                ? "sigmoid" : "hard_sigmoid";
        return Minor >= 3 ? "sigmoid" : "hard_sigmoid";
    }
}
