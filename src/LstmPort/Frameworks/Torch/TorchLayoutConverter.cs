using TorchSharp;
using static TorchSharp.torch;
using LstmPort.Conversion;
using LstmPort.Frameworks.Keras;
using LstmPort.Frameworks.TensorFlow;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.Torch;

/// <summary>
/// Keras layout to PyTorch layout: matrices transposed (Keras x@W, PyTorch W@x), gates reordered
/// (GRU z,r,h to r,z,n; LSTM i,f,c,o is already i,f,g,o), biases split into bias_ih/bias_hh (one
/// Keras bias goes whole into bias_ih; a GRU's [2,3h] and CuDNN's [8h]/[6h] keep their input and
/// recurrent halves), CuDNN kernels brought back to the standard layout, Dense to Linear.
/// </summary>
public static class TorchLayoutConverter
{
    public static ConversionResult Convert(IEnumerable<LstmTensor> input, TorchConversionOptions options)
    {
        var result = new ConversionResult();
        var groups = LayerGroup.Group(input);
        var stack = options.StackAs is null ? null : StackPlan(groups.Where(g => g.IsRecurrent).ToList(), options.StackAs);

        foreach (var g in groups)
        {
            if (g.Layout == Layout.Torch)
            {
                result.Tensors.AddRange(g.Tensors);
                continue;
            }
            if (g.LayerType == LayerType.Other)
            {
                result.Warnings.Add((g.Layer, $"{g.Layer}: not converted: no PyTorch equivalent is known for this layer, so it is left out."));
                continue;
            }
            if (g.Layout == Layout.TensorFlow && IsPlainProjectedLstm(g))
            {
                // num_proj has no Keras form but is PyTorch's proj_size: convert it directly.
                var (pm, pd, pds) = stack is not null && stack.TryGetValue(g, out var ps) ? ps : (g.Layer.Replace('/', '.'), 0, 1);
                try { ConvertTf1Projection(g, options, new TorchNames(pm, pd, g.Direction, options.AsCell, Stacked: pds > 1), result); }
                catch (LstmPortException e) { result.Refused.Add((g.Layer, e.ErrorId, e.Message)); }
                continue;
            }
            LayerGroup? keras;
            try
            {
                keras = g.Layout switch
                {
                    Layout.Keras => g,
                    Layout.TensorFlow => Tf1AsKeras(g, options, result),
                    _ => throw new LstmPortException(ErrorIds.UnsupportedLayout, $"{g.Describe()}: converting {g.Layout} layout to PyTorch is not supported", g.Layer),
                };
            }
            catch (LstmPortException e) { result.Refused.Add((g.Layer, e.ErrorId, e.Message)); continue; }
            if (keras is null) continue;
            var reason = TorchPortability.Blocker(keras.LayerType, keras.Layout, keras.Config);
            if (reason is not null)
            {
                if (!options.Force)
                {
                    result.Refused.Add((g.Layer, ErrorIds.NotTorchPortable, $"{g.Describe()}: no exact PyTorch equivalent ({reason}); use -Force to convert anyway"));
                    continue;
                }
                result.Warnings.Add((g.Layer, $"{g.Describe()}: converted with -Force although PyTorch cannot compute it exactly ({reason})."));
            }
            // A TF1 cell's scope becomes a module name with '/' replaced by '.'.
            var (module, depth, depths) = stack is not null && stack.TryGetValue(g, out var slot) ? slot : (g.Layer.Replace('/', '.'), 0, 1);
            var name = new TorchNames(module, depth, g.Direction, options.AsCell, Stacked: depths > 1);
            try
            {
                if (keras.IsRecurrent) ConvertRecurrent(keras, name, result, g.Describe());
                else ConvertPlain(keras, name.Module, result);
            }
            catch (LstmPortException e) { result.Refused.Add((g.Layer, e.ErrorId, e.Message)); }
        }
        return result;
    }

    /// <summary>
    /// A TF1 cell as the Keras layer that computes the same (Tf1ToKeras: fused kernel split, i,j,f,o
    /// reordered, forget_bias folded). Peepholes and cell_clip have no PyTorch equivalent: refused,
    /// or dropped with a warning under -Force.
    /// </summary>
    static LayerGroup? Tf1AsKeras(LayerGroup g, TorchConversionOptions options, ConversionResult result)
    {
        if (!g.IsRecurrent) return g; // tf.layers.dense keeps kernel [in,out] and bias, as Keras does
        var tensors = options.ForgetBias is double fb ? Frameworks.TensorFlow.Tf1Settings.WithForgetBias(g.Tensors, fb) : g.Tensors;
        var cell = LayerGroup.Group(tensors).Single();
        if (Tf1ToKeras.Blocker(cell) is { } blocker)
        {
            if (!options.Force)
            {
                result.Refused.Add((g.Layer, ErrorIds.NotTorchPortable, $"{g.Describe()}: no exact PyTorch equivalent ({blocker}); use -Force to convert anyway"));
                return null;
            }
            if (cell.Find(TensorRole.ProjectionKernel) is not null)
                throw new LstmPortException(ErrorIds.NotTorchPortable, $"{g.Describe()}: a TF1 projection (num_proj) cannot be converted even with -Force", g.Layer);
            result.Warnings.Add((g.Layer, $"{g.Describe()}: converted with -Force without what PyTorch cannot compute ({blocker})."));
            var drop = new[] { ConfigKeys.UsePeepholes, ConfigKeys.CellClip };
            cell = LayerGroup.Group(tensors.Where(t => t.Role != TensorRole.Peephole).Select(t => WithoutConfig(t, drop))).Single();
        }
        var keras = LayerGroup.Group(Tf1ToKeras.Convert(cell)).Single();
        result.Log.Add($"{g.Describe()}: TF1 cell: fused kernel split into input and recurrent rows{(g.LayerType == LayerType.LSTM ? $", gates IJFO→IFCO, forget_bias {cell.Text(ConfigKeys.ForgetBias) ?? "1"} folded into the forget-gate bias" : "")}");
        return keras;
    }

    static bool IsPlainProjectedLstm(LayerGroup g) =>
        g.LayerType == LayerType.LSTM && g.Find(TensorRole.ProjectionKernel) is not null
        && g.Find(TensorRole.Peephole) is null && !g.Flag(ConfigKeys.UsePeepholes)
        && !(g.Config.TryGetValue(ConfigKeys.CellClip, out var clip) && clip is not null && System.Convert.ToDouble(clip, System.Globalization.CultureInfo.InvariantCulture) > 0);

    /// <summary>
    /// A TF1 LSTMCell with num_proj p: the fused kernel's rows are the input and the projected
    /// output m [in+p,4h]; PyTorch's LSTM(proj_size=p) has weight_hh [4h,p] and weight_hr [p,h].
    /// </summary>
    static void ConvertTf1Projection(LayerGroup g, TorchConversionOptions options, TorchNames name, ConversionResult result)
    {
        var fusedT = g.Require(TensorRole.FusedKernel);
        var projT = g.Require(TensorRole.ProjectionKernel);
        int h = g.Units, p = projT.Shape.Length == 2 ? projT.Shape[1] : 0, input = fusedT.Shape[0] - p;
        g.CheckShape(projT, h, p);
        g.CheckShape(fusedT, input + p, 4 * h);
        double forgetBias = options.ForgetBias ?? (g.Config.TryGetValue(ConfigKeys.ForgetBias, out var fb) && fb is not null
            ? System.Convert.ToDouble(fb, System.Globalization.CultureInfo.InvariantCulture) : Frameworks.TensorFlow.Tf1Scopes.DefaultForgetBias);
        var fused = fusedT.Tensor;
        var weightIh = Gates.Reorder(fused.narrow(0, 0, input).t(), 0, GateOrder.IJFO, GateOrder.IFGO).contiguous();
        var weightHh = Gates.Reorder(fused.narrow(0, input, p).t(), 0, GateOrder.IJFO, GateOrder.IFGO).contiguous();
        var bias = g.Find(TensorRole.Bias) is { } b ? Gates.Reorder(b.Tensor, 0, GateOrder.IJFO, GateOrder.IFGO).clone() : zeros(4 * h, fused.dtype);
        using (var f = bias.narrow(0, h, h)) f.add_(forgetBias);
        var config = new Dictionary<string, object?>(g.Config, StringComparer.OrdinalIgnoreCase) { [ConfigKeys.ForgetBias] = forgetBias };
        LstmTensor Out(Tensor t, string param, TensorRole role) => LstmTensor.FromTensor(t, name.Key(param), name.Layer, LayerType.LSTM, role,
            Layout.Torch, g.Direction, name.AsCell ? 0 : name.Depth, GateOrder.IFGO, h, input, config, fusedT.Source);
        result.Tensors.Add(Out(weightIh, "weight_ih", TensorRole.Kernel));
        result.Tensors.Add(Out(weightHh, "weight_hh", TensorRole.RecurrentKernel));
        result.Tensors.Add(Out(bias, "bias_ih", TensorRole.InputBias));
        result.Tensors.Add(Out(zeros_like(bias), "bias_hh", TensorRole.RecurrentBias));
        result.Tensors.Add(Out(projT.Tensor.t().contiguous(), "weight_hr", TensorRole.ProjectionKernel));
        result.Log.Add($"{g.Describe()} → {name.Module} (l{name.Depth}): TF1 cell with num_proj {p}: fused kernel split, gates IJFO→IFGO, forget_bias {forgetBias} folded, projection → weight_hr (proj_size {p})");
    }

    static LstmTensor WithoutConfig(LstmTensor t, string[] keys)
    {
        var source = t;
        return new LstmTensor(t.Name, t.Layer, t.LayerType, t.Role, t.Layout, t.Shape, t.DType, () => source.Tensor, t.Direction,
            t.StackIndex, t.GateOrder, t.Units, t.InputSize, t.Config.Where(kv => !keys.Contains(kv.Key)), t.Source);
    }

    /// <summary>How a converted layer is named: a module with depth and direction suffixes, or a cell module.</summary>
    readonly record struct TorchNames(string Module, int Depth, Direction Direction, bool AsCell, bool Stacked)
    {
        public string Layer => AsCell
            ? Module + (Stacked ? $"_l{Depth}" : "") + (Direction == Direction.Backward ? "_reverse" : "")
            : Module;

        public string Key(string param) => AsCell
            ? $"{Layer}.{param}"
            : TorchNaming.Key(Module, param, Depth, Direction);
    }

    /// <param name="source">How the log names the layer (a TF1 cell's scope, not its Keras stand-in).</param>
    static void ConvertRecurrent(LayerGroup g, TorchNames name, ConversionResult result, string source)
    {
        int gates = Gates.Count(g.LayerType), h = g.Units;
        var (kernelT, recurrentT, inputSize) = g.KerasMatrices();
        var from = g.GateOrder == GateOrder.None ? Gates.KerasOrder(g.LayerType) : g.GateOrder;
        var to = Gates.TorchOrder(g.LayerType);
        bool cudnn = g.Flag(ConfigKeys.Cudnn);
        var steps = new List<string> { "transposed" };

        if (from != to && from != GateOrder.None) _ = Gates.Permutation(from, to); // mismatched orders fail here, not at the first use
        // Each converted tensor is computed from its source when first used (see Derived).
        var weightIh = Derived(kernelT, k => InTorchOrder(TensorMemory.Transposed(cudnn ? CudnnKernels.StandardKernel(k, gates, h, inputSize) : k), from, to));
        var weightHh = Derived(recurrentT, r => InTorchOrder(TensorMemory.Transposed(cudnn ? CudnnKernels.StandardRecurrentKernel(r, gates) : r), from, to));
        if (cudnn) steps.Add("CuDNN kernels to standard layout");
        if (from.ToString() != to.ToString() && g.LayerType != LayerType.SimpleRNN) steps.Add($"gates {from}→{to}");

        Func<Tensor> biasIh, biasHh;
        string biasDType;
        var biasT = g.Find(TensorRole.Bias);
        if (biasT is null)
        {
            var dtype = DTypes.Parse(kernelT.DType);
            biasDType = kernelT.DType;
            biasIh = biasHh = () => zeros(gates * h, dtype);
            steps.Add("no bias: bias_ih = bias_hh = 0");
        }
        else if (biasT.Shape.SequenceEqual([gates * h]))
        {
            var dtype = DTypes.Parse(biasT.DType);
            biasDType = biasT.DType;
            biasIh = Derived(biasT, b => Reordered(b, from, to));
            biasHh = () => zeros(gates * h, dtype);
            steps.Add("bias → bias_ih, bias_hh = 0");
        }
        else if (biasT.Shape.SequenceEqual([2, gates * h]) || biasT.Shape.SequenceEqual([2 * gates * h]))
        {
            biasDType = biasT.DType;
            biasIh = Derived(biasT, b => Reordered(b.reshape(2, gates * h)[0], from, to));
            biasHh = Derived(biasT, b => Reordered(b.reshape(2, gates * h)[1], from, to));
            steps.Add("bias input half → bias_ih, recurrent half → bias_hh");
        }
        else throw g.ShapeError(biasT, $"[{gates * h}], [2,{gates * h}] or [{2 * gates * h}]");

        var order = Gates.TorchOrder(g.LayerType);
        // The converted weights are plain LSTM/GRU weights, whatever layer they came from.
        var config = new Dictionary<string, object?>(g.Config, StringComparer.OrdinalIgnoreCase);
        config.Remove(ConfigKeys.Cudnn);
        LstmTensor Out(Func<Tensor> compute, int[] shape, string dtype, string param, TensorRole role) => new(name.Key(param), name.Layer, g.LayerType, role,
            Layout.Torch, shape, dtype, compute, g.Direction, name.AsCell ? 0 : name.Depth, order, h, inputSize, config, kernelT.Source, reloadable: true);
        result.Tensors.Add(Out(weightIh, [gates * h, inputSize], kernelT.DType, "weight_ih", TensorRole.Kernel));
        result.Tensors.Add(Out(weightHh, [gates * h, h], recurrentT.DType, "weight_hh", TensorRole.RecurrentKernel));
        result.Tensors.Add(Out(biasIh, [gates * h], biasDType, "bias_ih", TensorRole.InputBias));
        result.Tensors.Add(Out(biasHh, [gates * h], biasDType, "bias_hh", TensorRole.RecurrentBias));
        var target = name.AsCell ? name.Layer : $"{name.Module} (l{name.Depth}{(g.Direction == Direction.Backward ? ", reverse" : "")})";
        result.Log.Add($"{source} → {target}: {string.Join(", ", steps)}");
    }

    static void ConvertPlain(LayerGroup g, string module, ConversionResult result)
    {
        if (g.LayerType == LayerType.Embedding)
        {
            var e = g.Require(TensorRole.Embeddings);
            result.Tensors.Add(new LstmTensor($"{module}.weight", module, LayerType.Embedding, TensorRole.Embeddings, Layout.Torch, e.Shape, e.DType,
                Derived(e, t => t), units: e.Shape[1], inputSize: e.Shape[0], config: g.Config, source: e.Source, reloadable: true));
            result.Log.Add($"{g.Describe()} → {module}.weight: embeddings unchanged");
            return;
        }
        var kernel = g.Require(TensorRole.Kernel);
        if (kernel.Shape.Length != 2) throw g.ShapeError(kernel, "[in,out]");
        int inputSize = kernel.Shape[0], units = kernel.Shape[1];
        result.Tensors.Add(new LstmTensor($"{module}.weight", module, LayerType.Dense, TensorRole.Weight, Layout.Torch, [units, inputSize], kernel.DType,
            Derived(kernel, TensorMemory.Transposed), units: units, inputSize: inputSize, config: g.Config, source: kernel.Source, reloadable: true));
        if (g.Find(TensorRole.Bias) is { } bias)
        {
            g.CheckShape(bias, units);
            result.Tensors.Add(new LstmTensor($"{module}.bias", module, LayerType.Dense, TensorRole.Bias, Layout.Torch, bias.Shape, bias.DType,
                Derived(bias, b => b), units: units, inputSize: inputSize, config: g.Config, source: bias.Source, reloadable: true));
        }
        result.Log.Add($"{g.Describe()} → {module}.weight: kernel transposed to Linear weight");
    }

    /// <summary>
    /// A converted tensor's loader: borrows the source (a file-backed source is read for this
    /// computation and freed after it, a loaded one is used as it is), computes, and frees every
    /// intermediate, so converting and writing a model holds about one layer's tensors at a time.
    /// </summary>
    static Func<Tensor> Derived(LstmTensor source, Func<Tensor, Tensor> compute) => () =>
    {
        using var lease = source.Borrow();
        using var scope = NewDisposeScope();
        var result = compute(lease.Tensor);
        // A new handle when the computation is the identity, so releasing the result never frees the source's own tensor.
        if (ReferenceEquals(result, lease.Tensor)) result = result.detach();
        return result.MoveToOuterDisposeScope();
    };

    /// <summary>Gate blocks along dim 0 in the target order, in new contiguous memory.</summary>
    static Tensor Reordered(Tensor t, GateOrder from, GateOrder to) =>
        !Gates.SameOrder(from, to) ? Gates.Reorder(t, 0, from, to).contiguous() : t.is_contiguous() ? t.clone() : t.contiguous();

    /// <summary>A freshly computed tensor in the target gate order; it is kept as it is when the order is the same (Keras IFCO is PyTorch IFGO).</summary>
    static Tensor InTorchOrder(Tensor fresh, GateOrder from, GateOrder to) =>
        Gates.SameOrder(from, to) ? fresh : Gates.Reorder(fresh, 0, from, to).contiguous();

    /// <summary>
    /// -StackAs: the recurrent layers become depths l0..l(n-1) of one module. They must be one
    /// type and one direction count, and each layer's input must be the previous layer's output.
    /// </summary>
    static Dictionary<LayerGroup, (string Module, int Depth, int Depths)> StackPlan(List<LayerGroup> recurrent, string module)
    {
        var layers = recurrent.Select(g => g.Layer).Distinct().ToList();
        if (layers.Count == 0)
            throw new LstmPortException(ErrorIds.NothingToStack, "-StackAs was given but the input has no recurrent layers.", module);
        var plan = new Dictionary<LayerGroup, (string, int, int)>();
        LayerGroup? previous = null;
        int previousDirections = 0;
        for (int depth = 0; depth < layers.Count; depth++)
        {
            var halves = recurrent.Where(g => g.Layer == layers[depth]).ToList();
            var first = halves[0];
            if (previous is not null)
            {
                if (first.LayerType != previous.LayerType)
                    throw StackError(module, $"{first.Layer} is {first.LayerType} but {previous.Layer} is {previous.LayerType}");
                if (first.Units != previous.Units)
                    throw StackError(module, $"{first.Layer} has {first.Units} units but {previous.Layer} has {previous.Units}; one PyTorch module has one hidden size");
                if (halves.Count != previousDirections)
                    throw StackError(module, $"{first.Layer} has {halves.Count} direction(s) but {previous.Layer} has {previousDirections}");
                int previousOutput = (previous.Find(TensorRole.ProjectionKernel)?.Shape[1] ?? previous.Units) * previousDirections;
                if (first.InputSize != previousOutput)
                    throw StackError(module, $"{first.Layer} takes {first.InputSize} inputs but {previous.Layer} gives {previousOutput}");
            }
            if (halves.Count == 2 && halves.Any(g => g.Text(ConfigKeys.MergeMode) is { } m && m != "concat"))
                throw StackError(module, $"{first.Layer} merges its directions by '{first.Text(ConfigKeys.MergeMode)}'; a PyTorch module concatenates them");
            foreach (var g in halves) plan[g] = (module, depth, layers.Count);
            previous = first;
            previousDirections = halves.Count;
        }
        return plan;
    }

    static LstmPortException StackError(string module, string why) =>
        new(ErrorIds.CannotStack, $"Cannot stack the recurrent layers into one module '{module}': {why}.", module);

}
