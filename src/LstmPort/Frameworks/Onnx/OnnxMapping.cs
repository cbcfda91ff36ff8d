using static TorchSharp.torch;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.Onnx;

/// <summary>
/// The Onnx layout to and from the canonical form. ONNX's W <c>[dirs,G*h,in]</c> and R
/// <c>[dirs,G*h,h]</c> multiply from the left as PyTorch's do: each direction's slice is reordered
/// (LSTM i,o,f,c ↔ i,f,g,o; GRU z,r,h ↔ r,z,n); B <c>[dirs,2*G*h]</c> is [Wb, Rb], the input and the
/// recurrent bias; P <c>[dirs,3h]</c> (i,o,f) ↔ the canonical peepholes (i,f,o). Activations become
/// Keras spellings (HardSigmoid(0.2, 0.5) is Keras 2's hard_sigmoid), linear_before_reset is
/// reset_after, a one-direction reverse layer is go_backwards. Written back, the directions of one
/// layer and depth are one node's tensors, named <c>&lt;layer&gt;.W</c>, <c>.R</c>, <c>.B</c>, <c>.P</c>;
/// what ONNX's operators cannot compute (a projection, TF1's cell_clip, other activations) is refused
/// with the reason.
/// </summary>
internal sealed class OnnxMapping : IToCanonical, IFromCanonical
{
    public Layout Layout => Layout.Onnx;

    public bool KeepsOwnLayout => true;

    public CanonicalLayer ToCanonical(LayerGroup g, ConversionOptions options)
    {
        if (g.IsRecurrent) return Recurrent(g);
        if (g.LayerType != LayerType.Dense) return new CanonicalLayer(g, g.LayerType, g.Units, g.InputSize, g.Config) { Unconverted = g.Tensors };
        if (g.Find(TensorRole.Weight) is { } w)
        {
            if (w.Shape.Length != 2) throw g.ShapeError(w, "[out,in]");
            var b = g.Find(TensorRole.Bias);
            if (b is not null) g.CheckShape(b, w.Shape[0]);
            return new CanonicalLayer(g, LayerType.Dense, w.Shape[0], w.Shape[1], g.Config)
            {
                WeightIh = CanonicalTensor.Of(w),
                BiasIh = b is null ? null : CanonicalTensor.Of(b),
            };
        }
        return PlainLayers.FromRight(g);
    }

    static int DirIndex(LayerGroup g) => g.Direction == Direction.Backward ? 1 : 0;

    static CanonicalLayer Recurrent(LayerGroup g)
    {
        int gates = Gates.Blocks(g.LayerType), h = g.Units, dirs = OnnxSettings.Directions(g.Config), d = DirIndex(g);
        var w = g.Require(TensorRole.Kernel);
        var r = g.Require(TensorRole.RecurrentKernel);
        int input = w.Shape.Length == 3 ? w.Shape[2] : 0;
        g.CheckShape(w, dirs, gates * h, input);
        g.CheckShape(r, dirs, gates * h, h);
        var b = g.Find(TensorRole.Bias);
        if (b is not null) g.CheckShape(b, dirs, 2 * gates * h);
        var p = g.Find(TensorRole.Peephole);
        if (p is not null) g.CheckShape(p, dirs, 3 * h);
        var from = OnnxOps.Order(g.LayerType);
        var to = Gates.Canonical(g.LayerType);
        Tensor Order(Tensor t) => g.LayerType == LayerType.SimpleRNN ? t.contiguous() : Gates.Reorder(t, 0, from, to).contiguous();

        var settings = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in g.Config)
            if (k is not (ConfigKeys.Activations or ConfigKeys.ActivationAlpha or ConfigKeys.ActivationBeta or ConfigKeys.HiddenSize or ConfigKeys.OnnxLayout or ConfigKeys.Direction))
                settings[k] = v;
        settings.Remove(ConfigKeys.HardSigmoid);
        foreach (var (k, v) in OnnxSettings.Keras(g.LayerType, g.Config, d)) settings[k] = v;
        if (p is not null) settings[ConfigKeys.UsePeepholes] = true;
        var c = new CanonicalLayer(g, g.LayerType, h, input, settings)
        {
            WeightIh = CanonicalTensor.Of(w).Map([gates * h, input], t => Order(t[d])),
            WeightHh = CanonicalTensor.Of(r).Map([gates * h, h], t => Order(t[d])),
            BiasIh = b is null ? null : CanonicalTensor.Of(b).Map([gates * h], t => Order(t[d].narrow(0, 0, gates * h))),
            BiasHh = b is null ? null : CanonicalTensor.Of(b).Map([gates * h], t => Order(t[d].narrow(0, gates * h, gates * h))),
            // ONNX P is i,o,f; the canonical peepholes are i,f,o.
            Peepholes = p is null ? null : CanonicalTensor.Of(p).Map([3 * h], t => cat([t[d].narrow(0, 0, h), t[d].narrow(0, 2 * h, h), t[d].narrow(0, h, h)])),
            SourceOrder = from,
        };
        c.Steps.Add(dirs == 2 ? $"direction {d} of [{dirs},...]" : "W[0], R[0]");
        if (b is not null) c.Steps.Add("B split into Wb (input bias) and Rb (recurrent bias)");
        return c;
    }

    /// <summary>Why ONNX's operator cannot compute this layer exactly, or null.</summary>
    static string? Blocker(CanonicalLayer c, out List<(string Name, double? Alpha, double? Beta)> activations)
    {
        activations = [];
        if (c.Projection is not null) return $"an output projection (PyTorch proj_size {c.Projection.Shape[0]}, TF1 num_proj): ONNX LSTM has none";
        if (c.CellClip is double clip) return $"TF1 cell_clip {clip} clips the cell state; ONNX's clip bounds the gates' inputs instead";
        var variant = c.Text(ConfigKeys.HardSigmoid)?.ToLowerInvariant() ?? (c.Text(ConfigKeys.KerasVersion) is string v && v.StartsWith('3') ? "keras3" : "keras2");
        string act = c.Text(ConfigKeys.Activation) ?? "tanh", rec = c.Text(ConfigKeys.RecurrentActivation) ?? "sigmoid";
        var names = c.LayerType == LayerType.SimpleRNN ? new[] { act } : c.LayerType == LayerType.GRU ? [rec, act] : [rec, act, act];
        foreach (var n in names)
        {
            if (OnnxOps.FromKeras(n, variant) is not { } a) return $"activation '{n}': ONNX's recurrent operators have no activation that computes it";
            activations.Add(a);
        }
        return null;
    }

    public void FromCanonical(IReadOnlyList<CanonicalLayer> layers, ConversionOptions options, ConversionResult result)
    {
        var seen = new HashSet<LstmTensor>(ReferenceEqualityComparer.Instance);
        var depths = layers.GroupBy(c => c.Layer).ToDictionary(x => x.Key, x => x.Max(c => c.Depth) + 1);
        foreach (var node in layers.GroupBy(c => (c.Layer, c.Depth)))
        {
            var halves = node.OrderBy(c => c.Direction).ToList();
            var first = halves[0];
            if (first.From.Layout == Layout.Onnx && first.Unconverted.Count > 0)
            {
                // Already ONNX's: passed on as it is (both directions of a layer share its tensors).
                foreach (var t in halves.SelectMany(c => c.Unconverted)) if (seen.Add(t)) result.Tensors.Add(t);
                continue;
            }
            var name = Name(first, depths[first.Layer]);
            try
            {
                if (first.IsRecurrent) WriteRecurrent(halves, name, result);
                else if (first.LayerType == LayerType.Dense) WriteDense(first, name, result);
                else result.Warnings.Add((first.From.Layer, $"{first.From.Layer}: not converted: ONNX layout holds recurrent and dense layers only ({first.LayerType} is left out)."));
            }
            catch (LstmPortException e) { result.Refused.Add((first.From.Layer, e.ErrorId, e.Message)); }
        }
    }

    /// <summary>A layer's ONNX name: the source layer's name, with the depth of a multi-layer module (<c>lstm_l1</c>).</summary>
    static string Name(CanonicalLayer c, int depths) => c.Layer.Replace('/', '.') + (depths > 1 ? $"_l{c.Depth}" : "");

    static void WriteRecurrent(List<CanonicalLayer> halves, string layer, ConversionResult result)
    {
        var first = halves[0];
        if (halves.Count > 2 || halves.Select(c => c.Direction).Distinct().Count() != halves.Count)
            throw new LstmPortException(ErrorIds.NotOnnxPortable, $"{first.Describe()}: {halves.Count} parts with one depth and direction; expected one per direction.", first.From.Layer);
        var acts = new List<(string Name, double? Alpha, double? Beta)>();
        foreach (var c in halves)
        {
            if (Blocker(c, out var a) is { } reason)
                throw new LstmPortException(ErrorIds.NotOnnxPortable, $"{c.Describe()}: no exact ONNX equivalent ({reason}).", c.From.Layer);
            acts.AddRange(a);
        }
        int dirs = halves.Count, gates = Gates.Blocks(first.LayerType), h = first.Units, input = first.InputSize;
        bool goBackwards = first.Flag(ConfigKeys.GoBackwards);
        if (dirs == 2 && halves.Any(c => c.Flag(ConfigKeys.GoBackwards)))
            throw new LstmPortException(ErrorIds.NotOnnxPortable, $"{first.Describe()}: a bidirectional layer whose halves read reversed input (go_backwards) has no ONNX equivalent.", first.From.Layer);
        if (halves.Any(c => c.Units != h || c.InputSize != input || c.LayerType != first.LayerType))
            throw new LstmPortException(ErrorIds.NotOnnxPortable, $"{first.Describe()}: its directions differ in type or size; one ONNX node has one.", first.From.Layer);
        bool? resetAfter = first.LayerType == LayerType.GRU ? first.Bool(ConfigKeys.ResetAfter) ?? true : null;
        if (halves.Any(c => c.LayerType == LayerType.GRU && (c.Bool(ConfigKeys.ResetAfter) ?? true) != resetAfter))
            throw new LstmPortException(ErrorIds.NotOnnxPortable, $"{first.Describe()}: its directions differ in reset_after; one ONNX node has one linear_before_reset.", first.From.Layer);

        var from = Gates.Canonical(first.LayerType);
        var to = OnnxOps.Order(first.LayerType);
        void Order(Tensor source, Tensor target) => Gates.CopyInOrder(source, target, 0, from, to);
        var dtype = first.WeightIh!.DType;
        var st = DTypes.Parse(dtype);
        // Each direction written into its slice of one new tensor (an absent part is zeros).
        CanonicalTensor Stack(int[] shape, Func<CanonicalLayer, CanonicalTensor?> part, int[] partShape, Action<Tensor, Tensor> fill) =>
            CanonicalTensor.Stack(halves.Select(c => part(c) ?? CanonicalTensor.Make(partShape, dtype, c.Source, () => zeros(partShape.Select(x => (long)x).ToArray(), st))).ToList(),
                shape, dtype, fill);
        var W = Stack([dirs, gates * h, input], c => c.WeightIh, [gates * h, input], Order);
        var R = Stack([dirs, gates * h, h], c => c.WeightHh, [gates * h, h], Order);
        bool hasBias = halves.Any(c => c.BiasIh is not null || c.BiasHh is not null);
        var Wb = hasBias ? Stack([dirs, gates * h], c => c.BiasIh, [gates * h], Order) : null;
        var Rb = hasBias ? Stack([dirs, gates * h], c => c.BiasHh, [gates * h], Order) : null;
        var B = hasBias ? CanonicalTensor.Combine(Wb!, Rb!, [dirs, 2 * gates * h], (a, b) => cat([a, b], 1).contiguous()) : null;
        bool peep = halves.Any(c => c.Peepholes is not null);
        // Canonical peepholes i,f,o; ONNX P i,o,f.
        var P = peep ? Stack([dirs, 3 * h], c => c.Peepholes, [3 * h], (s, t) =>
        {
            t.narrow(0, 0, h).copy_(s.narrow(0, 0, h));
            t.narrow(0, h, h).copy_(s.narrow(0, 2 * h, h));
            t.narrow(0, 2 * h, h).copy_(s.narrow(0, h, h));
        }) : null;

        var config = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase)
        {
            [ConfigKeys.HiddenSize] = h,
            [ConfigKeys.Direction] = dirs == 2 ? "bidirectional" : goBackwards ? "reverse" : "forward",
            [ConfigKeys.OnnxLayout] = 0,
            [ConfigKeys.Activations] = acts.Select(a => a.Name).ToArray(),
        };
        if (acts.Any(a => a.Alpha is not null)) config[ConfigKeys.ActivationAlpha] = acts.Where(a => a.Alpha is not null).Select(a => a.Alpha!.Value).ToArray();
        if (acts.Any(a => a.Beta is not null)) config[ConfigKeys.ActivationBeta] = acts.Where(a => a.Beta is not null).Select(a => a.Beta!.Value).ToArray();
        if (first.LayerType == LayerType.LSTM) config[ConfigKeys.InputForget] = first.Flag(ConfigKeys.InputForget);
        if (first.LayerType == LayerType.GRU) config[ConfigKeys.LinearBeforeReset] = resetAfter;
        if (first.Text(ConfigKeys.Clip) is string clip) config[ConfigKeys.Clip] = double.Parse(clip, System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (k, v) in OnnxSettings.Keras(first.LayerType, config, 0)) config[k] = v;
        if (peep) config[ConfigKeys.UsePeepholes] = true;

        var order = OnnxOps.Order(first.LayerType);
        void Out(CanonicalTensor t, string part, TensorRole role) => result.Tensors.Add(new LstmTensor($"{layer}.{part}", layer, first.LayerType, role, Layout.Onnx,
            t.Shape, t.DType, t.Loader(), Direction.Forward, 0, role == TensorRole.Peephole ? GateOrder.None : order, h, input, config, first.Source, reloadable: true));
        Out(W, "W", TensorRole.Kernel);
        Out(R, "R", TensorRole.RecurrentKernel);
        if (B is not null) Out(B, "B", TensorRole.Bias);
        if (P is not null) Out(P, "P", TensorRole.Peephole);
        foreach (var c in halves)
        {
            var steps = c.StepsTo(targetFromRight: false, order);
            if (dirs == 2) steps.Add($"direction {(c.Direction == Direction.Backward ? 1 : 0)} of {dirs}");
            if (goBackwards) steps.Add("go_backwards → direction reverse");
            if (c.BiasIh is null && c.BiasHh is null && hasBias) steps.Add("no bias: zeros in B");
            else if (c.BiasHh is null && c.BiasIh is not null) steps.Add("bias → Wb, Rb = 0");
            else if (c.BiasIh is not null) steps.Add("bias_ih → Wb, bias_hh → Rb");
            if (first.LayerType == LayerType.GRU) steps.Add($"linear_before_reset={(resetAfter == true ? 1 : 0)}");
            if (c.Peepholes is not null) steps.Add("peepholes i,f,o → P i,o,f");
            result.Log.Add($"{c.Describe()} → {layer}: {string.Join(", ", steps)}");
        }
    }

    static void WriteDense(CanonicalLayer c, string layer, ConversionResult result)
    {
        var act = c.Text(ConfigKeys.Activation) ?? "linear";
        if (act is not ("linear" or "none" or ""))
            throw new LstmPortException(ErrorIds.NotOnnxPortable, $"{c.Describe()}: no exact ONNX Gemm equivalent (activation '{act}' after the product; ONNX's Gemm has none).", c.From.Layer);
        var w = c.WeightIh!;
        var config = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase) { [ConfigKeys.Activation] = "linear" };
        result.Tensors.Add(new LstmTensor($"{layer}.weight", layer, LayerType.Dense, TensorRole.Weight, Layout.Onnx, w.Shape, w.DType, w.Loader(),
            units: c.Units, inputSize: c.InputSize, config: config, source: w.Source, reloadable: true));
        if (c.BiasIh is { } b)
            result.Tensors.Add(new LstmTensor($"{layer}.bias", layer, LayerType.Dense, TensorRole.Bias, Layout.Onnx, b.Shape, b.DType, b.Loader(),
                units: c.Units, inputSize: c.InputSize, config: config, source: b.Source, reloadable: true));
        result.Log.Add($"{c.Describe()} → {layer}: {(c.SourceFromRight ? "kernel transposed to Gemm B (transB=1)" : "Gemm B (transB=1)")}");
    }
}
