using static TorchSharp.torch;
using LstmPort.Conversion;
using LstmPort.Formats;

namespace LstmPort.Frameworks.Onnx;

/// <summary>
/// Reads an ONNX model (<c>.onnx</c>): every LSTM, GRU and RNN node (also inside If/Loop/Scan
/// subgraphs) as an Onnx-layout layer, W <c>[dirs,G*h,in]</c> (Kernel), R <c>[dirs,G*h,h]</c>
/// (RecurrentKernel), B <c>[dirs,2*G*h]</c> (Bias) and P <c>[dirs,3h]</c> (Peephole, left out when
/// all zero), gates IOFC / ZRH; the operator's attributes in Config; Gemm and MatMul+Add with a
/// constant weight as Dense layers (Gemm's B as Weight <c>[out,in]</c> when transB=1, else Kernel
/// <c>[in,out]</c>). Weights may be initializers or computed from them by constant operators
/// (<see cref="OnnxScope"/>), which are folded without running the model. initial_h, initial_c and
/// sequence_lens are run-time inputs, never weights.
/// <para>
/// Weights that are graph inputs (the ONNX backend tests' models): their values are read from a
/// <c>test_data_set_0</c> folder beside the model, <c>input_&lt;k&gt;.pb</c> being the k-th graph input
/// that has no initializer, as the backend test runner feeds them; a note says so.
/// </para>
/// </summary>
public sealed class OnnxReader : IWeightReader
{
    /// <summary>Models above this size keep their weights in external data files (protobuf's 2 GB limit).</summary>
    const long MaxModelBytes = int.MaxValue;

    public WeightFormat Format => WeightFormat.Onnx;

    /// <summary>A ModelProto starts with field 1 (ir_version, varint 1..20) and is followed by a string or message field.</summary>
    public int Probe(FileProbe file)
    {
        var h = file.Head.Span;
        bool shaped = h.Length >= 3 && h[0] == 0x08 && h[1] is >= 1 and <= 20 && h[2] is 0x12 or 0x1a or 0x22 or 0x28 or 0x32 or 0x3a or 0x42 or 0x72;
        if (!shaped) return 0;
        return file.Extension == ".onnx" ? 90 : 40;
    }

    public WeightFile Read(string path, ReadOptions options)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxModelBytes)
            throw new LstmPortException(ErrorIds.TensorTooLarge, $"'{path}' is {length} bytes; an ONNX model file is at most 2 GB (larger models keep weights in external data).", path);
        // Mapped, not read: parsing touches only the protobuf's headers, so listing a 1 GB model's
        // layers reads kilobytes; the initializers' raw data is read when a tensor is used.
        var bytes = LstmPort.Runtime.MappedFile.Open(path);
        OnnxModel model;
        try { model = OnnxProto.ParseModel(bytes); }
        catch (InvalidDataException e) { throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' is not a valid ONNX model: {e.Message}.", path, e); }
        if (model.Graph is null)
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' is not a valid ONNX model: it has no graph.", path);
        var reading = new Reading(path, model);
        reading.Run();
        return new WeightFile(path, Format, reading.Tensors, reading.Warnings, reading.Errors, reading.Notes);
    }

    sealed class Reading(string path, OnnxModel model)
    {
        public readonly List<LstmTensor> Tensors = [];
        public readonly List<string> Warnings = [];
        public readonly List<LstmPortException> Errors = [];
        public readonly List<string> Notes = [];
        readonly OnnxFile _file = new(path);
        readonly HashSet<string> _layerNames = new(StringComparer.Ordinal);
        readonly Dictionary<string, int> _unnamed = new(StringComparer.Ordinal);

        public void Run()
        {
            var graph = model.Graph!;
            var supplied = TestData(graph);
            var scope = new OnnxScope(graph, _file, model.Opset, null, supplied);
            Visit(scope);
        }

        /// <summary>Graph inputs without an initializer, fed from test_data_set_0/input_k.pb when that folder is beside the model.</summary>
        Dictionary<string, OnnxTensorProto> TestData(OnnxGraph graph)
        {
            var supplied = new Dictionary<string, OnnxTensorProto>(StringComparer.Ordinal);
            var initializers = graph.Initializers.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
            var inputs = graph.Inputs.Where(i => !initializers.Contains(i.Name)).ToList();
            var weightInputs = graph.Nodes.Where(n => OnnxOps.IsRecurrent(n.OpType)).SelectMany(n => new[] { n.Input(1), n.Input(2), n.Input(3), n.Input(7) })
                .Where(s => s is not null).ToHashSet(StringComparer.Ordinal);
            if (!inputs.Any(i => weightInputs.Contains(i.Name))) return supplied;
            var folder = Path.Combine(_file.Folder, "test_data_set_0");
            if (!Directory.Exists(folder)) return supplied;
            for (int k = 0; k < inputs.Count; k++)
            {
                if (!weightInputs.Contains(inputs[k].Name)) continue;
                var file = Path.Combine(folder, $"input_{k}.pb");
                if (!File.Exists(file)) continue;
                var info = new FileInfo(file);
                if (info.Length > MaxModelBytes) throw new LstmPortException(ErrorIds.TensorTooLarge, $"'{file}' is too large for one tensor.", file);
                try
                {
                    var t = OnnxProto.ParseTensor(File.ReadAllBytes(file));
                    t.Name = inputs[k].Name;
                    supplied[inputs[k].Name] = t;
                }
                catch (InvalidDataException e) { throw new LstmPortException(ErrorIds.CorruptFile, $"'{file}' is not a valid TensorProto: {e.Message}.", file, e); }
            }
            if (supplied.Count > 0)
                Notes.Add($"weights {string.Join(", ", supplied.Keys)} are graph inputs; their values were read from test_data_set_0 (input_<k>.pb for the k-th graph input without an initializer).");
            return supplied;
        }

        void Visit(OnnxScope scope)
        {
            var consumers = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
            foreach (var n in scope.Graph.Nodes)
                foreach (var i in n.Inputs.Where(i => i.Length > 0))
                    (consumers.TryGetValue(i, out var l) ? l : consumers[i] = []).Add(n);
            foreach (var n in scope.Graph.Nodes)
            {
                if (n.Domain is not ("" or "ai.onnx")) continue;
                try
                {
                    if (OnnxOps.IsRecurrent(n.OpType)) Recurrent(scope, n);
                    else if (n.OpType == "Gemm") Gemm(scope, n);
                    else if (n.OpType == "MatMul") MatMul(scope, n, consumers);
                }
                catch (LstmPortException e) { Errors.Add(e); }
                foreach (var a in n.Attributes)
                    foreach (var sub in a.Graphs)
                        Visit(new OnnxScope(sub, _file, model.Opset, scope));
            }
        }

        string Name(OnnxNode n, string kind)
        {
            var fallback = $"{kind.ToLowerInvariant()}_{(_unnamed.TryGetValue(kind, out var k) ? k : 0)}";
            if (n.Name.Length == 0) _unnamed[kind] = k + 1;
            var name = OnnxOps.LayerName(n.Name, fallback);
            var unique = name;
            for (int i = 1; !_layerNames.Add(unique); i++) unique = $"{name}_{i}";
            return unique;
        }

        (int[] Shape, string DType) Describe(OnnxScope scope, string value)
        {
            var shape = scope.Shape(value);
            if (shape.Any(d => d > int.MaxValue)) throw new LstmPortException(ErrorIds.TensorTooLarge, $"'{value}' has a dimension above 2^31.", value);
            using var d = NewDisposeScope();
            // The dtype: an initializer's is in its proto (its data is not read); a folded value's comes from folding it (once).
            return (shape.Select(x => (int)x).ToArray(), DTypes.Name(scope.DType(value)));
        }

        void Recurrent(OnnxScope scope, OnnxNode n)
        {
            var type = OnnxOps.TypeOf(n.OpType);
            string layer = Name(n, n.OpType);
            int gates = Gates.Blocks(type);
            string W = n.Input(1) ?? throw Missing(layer, n, "W"), R = n.Input(2) ?? throw Missing(layer, n, "R");
            foreach (var v in new[] { W, R, n.Input(3), type == LayerType.LSTM ? n.Input(7) : null })
                if (v is not null && !scope.IsConstant(v, out var why))
                    throw new LstmPortException(ErrorIds.OnnxNotConstant, $"{path}: layer {layer} ({n.OpType} node '{n.Name}'): weight {why}", layer);
            var (wShape, dtype) = Describe(scope, W);
            var (rShape, _) = Describe(scope, R);
            string direction = n.Attribute("direction")?.S ?? "forward";
            if (direction is not ("forward" or "reverse" or "bidirectional"))
                throw new LstmPortException(ErrorIds.CorruptFile, $"{path}: layer {layer}: direction '{direction}' is not forward, reverse or bidirectional.", layer);
            int dirs = direction == "bidirectional" ? 2 : 1;
            if (wShape.Length != 3 || rShape.Length != 3 || wShape[0] != dirs || rShape[0] != dirs || rShape[2] <= 0 || wShape[1] != gates * rShape[2] || rShape[1] != gates * rShape[2])
                throw new LstmPortException(ErrorIds.ShapeMismatch,
                    $"{path}: layer {layer} ({n.OpType}): W is [{string.Join(",", wShape)}] and R [{string.Join(",", rShape)}]; expected [{dirs},{gates}*h,in] and [{dirs},{gates}*h,h] for direction {direction}.", layer);
            int h = rShape[2], input = wShape[2];
            if (n.Attribute("hidden_size") is { } hs && hs.I != h)
                throw new LstmPortException(ErrorIds.ShapeMismatch, $"{path}: layer {layer}: hidden_size is {hs.I} but R is [{string.Join(",", rShape)}].", layer);

            var config = Config(n, type, h, direction, dirs);
            var order = OnnxOps.Order(type);
            void Add(string value, TensorRole role, int[] shape, string dt) => Tensors.Add(new LstmTensor(value, layer, type, role, Layout.Onnx, shape, dt,
                () => scope.Value(value), Direction.Forward, 0, role == TensorRole.Peephole ? GateOrder.None : order, h, input, config, path, reloadable: true));
            var tensors = new List<(string, TensorRole, int[], string)> { (W, TensorRole.Kernel, wShape, dtype), (R, TensorRole.RecurrentKernel, rShape, dtype) };
            if (n.Input(3) is { } b)
            {
                var (bShape, bt) = Describe(scope, b);
                if (!bShape.SequenceEqual([dirs, 2 * gates * h]))
                    throw new LstmPortException(ErrorIds.ShapeMismatch, $"{path}: layer {layer}: B is [{string.Join(",", bShape)}]; expected [{dirs},{2 * gates * h}].", layer);
                tensors.Add((b, TensorRole.Bias, bShape, bt));
            }
            if (type == LayerType.LSTM && n.Input(7) is { } p)
            {
                var (pShape, pt) = Describe(scope, p);
                if (!pShape.SequenceEqual([dirs, 3 * h]))
                    throw new LstmPortException(ErrorIds.ShapeMismatch, $"{path}: layer {layer}: P is [{string.Join(",", pShape)}]; expected [{dirs},{3 * h}].", layer);
                bool zero;
                using (var pv = scope.Value(p)) zero = pv.count_nonzero().item<long>() == 0;
                if (zero) Notes.Add($"layer {layer}: peepholes P are all zero, so the layer has none (P left out).");
                else
                {
                    tensors.Add((p, TensorRole.Peephole, pShape, pt));
                    config[ConfigKeys.UsePeepholes] = true;
                }
            }
            foreach (var (value, role, shape, dt) in tensors) Add(value, role, shape, dt);
        }

        Dictionary<string, object?> Config(OnnxNode n, LayerType type, int h, string direction, int dirs)
        {
            var acts = n.Attribute("activations") is { Strings.Count: > 0 } a ? a.Strings.Select(OnnxOps.Spell).ToArray()
                : Enumerable.Repeat(OnnxOps.DefaultActivations(type), dirs).SelectMany(x => x).ToArray();
            var config = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase)
            {
                [ConfigKeys.HiddenSize] = h,
                [ConfigKeys.Direction] = direction,
                [ConfigKeys.OnnxLayout] = (int)(n.Attribute("layout")?.I ?? 0),
                [ConfigKeys.Activations] = acts,
            };
            if (n.Attribute("activation_alpha") is { Floats.Count: > 0 } al) config[ConfigKeys.ActivationAlpha] = al.Floats.Select(f => (double)f).ToArray();
            if (n.Attribute("activation_beta") is { Floats.Count: > 0 } be) config[ConfigKeys.ActivationBeta] = be.Floats.Select(f => (double)f).ToArray();
            if (n.Attribute("clip") is { } clip) config[ConfigKeys.Clip] = (double)clip.F;
            if (type == LayerType.LSTM) config[ConfigKeys.InputForget] = (n.Attribute("input_forget")?.I ?? 0) != 0;
            if (type == LayerType.GRU) config[ConfigKeys.LinearBeforeReset] = (n.Attribute("linear_before_reset")?.I ?? 0) != 0;
            // The same settings in Keras spellings (the forward direction's), as every layout's Config has them.
            foreach (var (key, value) in OnnxSettings.Keras(type, config, 0)) config[key] = value;
            return config;
        }

        void Gemm(OnnxScope scope, OnnxNode n)
        {
            if (n.Input(1) is not { } b || !scope.IsConstant(b, out _)) return; // a product of two run-time values: no weights
            string layer = Name(n, "Gemm");
            if ((n.Attribute("transA")?.I ?? 0) != 0)
                throw new LstmPortException(ErrorIds.UnsupportedLayerType, $"{path}: layer {layer}: a Gemm with transA=1 is not a dense layer LstmPort reads.", layer);
            bool transB = (n.Attribute("transB")?.I ?? 0) != 0;
            double alpha = n.Attribute("alpha")?.F ?? 1.0, beta = n.Attribute("beta")?.F ?? 1.0;
            var (shape, dtype) = Describe(scope, b);
            if (shape.Length != 2) throw new LstmPortException(ErrorIds.ShapeMismatch, $"{path}: layer {layer}: Gemm's B is [{string.Join(",", shape)}]; expected a matrix.", layer);
            int units = transB ? shape[0] : shape[1], input = transB ? shape[1] : shape[0];
            var config = new Dictionary<string, object?> { [ConfigKeys.Activation] = "linear" };
            Tensors.Add(new LstmTensor(b, layer, LayerType.Dense, transB ? TensorRole.Weight : TensorRole.Kernel, Layout.Onnx, shape, dtype,
                () => Scaled(scope.Value(b), alpha), units: units, inputSize: input, config: config, source: path, reloadable: true));
            if (n.Input(2) is { } c && scope.IsConstant(c, out _))
            {
                var (cShape, ct) = Describe(scope, c);
                if (cShape.Aggregate(1L, (x, y) => x * y) != units)
                    throw new LstmPortException(ErrorIds.ShapeMismatch, $"{path}: layer {layer}: Gemm's C is [{string.Join(",", cShape)}]; expected [{units}] (a broadcast row).", layer);
                Tensors.Add(new LstmTensor(c, layer, LayerType.Dense, TensorRole.Bias, Layout.Onnx, [units], ct,
                    () => Scaled(scope.Value(c), beta).reshape(units), units: units, inputSize: input, config: config, source: path, reloadable: true));
            }
        }

        static Tensor Scaled(Tensor t, double factor)
        {
            if (factor == 1.0) return t;
            using (t) return t * factor;
        }

        void MatMul(OnnxScope scope, OnnxNode n, Dictionary<string, List<OnnxNode>> consumers)
        {
            if (n.Input(1) is not { } w || !scope.IsConstant(w, out _) || scope.Shape(w).Length != 2) return;
            string layer = Name(n, "MatMul");
            var (shape, dtype) = Describe(scope, w);
            var config = new Dictionary<string, object?> { [ConfigKeys.Activation] = "linear" };
            Tensors.Add(new LstmTensor(w, layer, LayerType.Dense, TensorRole.Kernel, Layout.Onnx, shape, dtype, () => scope.Value(w),
                units: shape[1], inputSize: shape[0], config: config, source: path, reloadable: true));
            // MatMul then Add of a constant row: the dense layer's bias.
            if (n.Outputs.Count == 1 && consumers.TryGetValue(n.Outputs[0], out var next) && next is [{ OpType: "Add" } add])
            {
                var other = add.Inputs.FirstOrDefault(i => i != n.Outputs[0] && i.Length > 0);
                if (other is not null && scope.IsConstant(other, out _) && scope.Shape(other) is var s && s.Aggregate(1L, (x, y) => x * y) == shape[1] && s.Length <= 2)
                {
                    var (_, bt) = Describe(scope, other);
                    Tensors.Add(new LstmTensor(other, layer, LayerType.Dense, TensorRole.Bias, Layout.Onnx, [shape[1]], bt,
                        () => scope.Value(other).reshape(shape[1]), units: shape[1], inputSize: shape[0], config: config, source: path, reloadable: true));
                }
            }
        }

        LstmPortException Missing(string layer, OnnxNode n, string what) =>
            new(ErrorIds.MissingTensor, $"{path}: layer {layer} ({n.OpType} node '{n.Name}') has no {what} input.", layer);
    }
}
