using static TorchSharp.torch;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.Torch;

/// <summary>
/// The PyTorch layout to and from the canonical form, which is PyTorch's maths: reading is taking
/// the tensors as they are; writing names them as nn.LSTM / nn.GRU / nn.RNN (<c>weight_ih_l0</c>,
/// <c>_reverse</c>), as cells (-AsCell), or as the depths of one module (-StackAs), with zero
/// biases where the source had none, and refuses what PyTorch cannot compute (other activations,
/// a GRU that resets before its recurrent matmul, go_backwards, peepholes, cell_clip) unless -Force.
/// </summary>
internal sealed class TorchMapping : IToCanonical, IFromCanonical
{
    public Layout Layout => Layout.Torch;

    public bool KeepsOwnLayout => true;

    public CanonicalLayer ToCanonical(LayerGroup g, ConversionOptions options)
    {
        switch (g.LayerType)
        {
            case LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN:
                return Recurrent(g);
            case LayerType.Embedding:
                var e = g.Require(TensorRole.Embeddings);
                if (e.Shape.Length != 2) throw g.ShapeError(e, "[n,d]");
                return new CanonicalLayer(g, LayerType.Embedding, e.Shape[1], e.Shape[0], g.Config) { WeightIh = CanonicalTensor.Of(e) };
            case LayerType.Dense:
                var w = g.Require(TensorRole.Weight);
                if (w.Shape.Length != 2) throw g.ShapeError(w, "[out,in]");
                var b = g.Find(TensorRole.Bias);
                if (b is not null) g.CheckShape(b, w.Shape[0]);
                return new CanonicalLayer(g, LayerType.Dense, w.Shape[0], w.Shape[1], g.Config)
                {
                    WeightIh = CanonicalTensor.Of(w),
                    BiasIh = b is null ? null : CanonicalTensor.Of(b),
                };
            default:
                return new CanonicalLayer(g, g.LayerType, g.Units, g.InputSize, g.Config) { Unconverted = g.Tensors };
        }
    }

    static CanonicalLayer Recurrent(LayerGroup g)
    {
        int gates = Gates.Count(g.LayerType), h = g.Units;
        var weightIh = g.Require(TensorRole.Kernel);
        var weightHh = g.Require(TensorRole.RecurrentKernel);
        var projection = g.Find(TensorRole.ProjectionKernel);
        int inputSize = weightIh.Shape.Length == 2 ? weightIh.Shape[1] : 0;
        int recurrentIn = projection is { Shape: [var p, _] } ? p : h;
        g.CheckShape(weightIh, gates * h, inputSize);
        g.CheckShape(weightHh, gates * h, recurrentIn);
        if (projection is not null) g.CheckShape(projection, recurrentIn, h);
        var biasIh = g.Find(TensorRole.InputBias);
        var biasHh = g.Find(TensorRole.RecurrentBias);
        foreach (var b in new[] { biasIh, biasHh })
            if (b is not null) g.CheckShape(b, gates * h);

        // What nn.LSTM / nn.GRU / nn.RNN compute, in ConfigKeys spellings.
        var settings = new Dictionary<string, object?>(g.Config, StringComparer.OrdinalIgnoreCase)
        {
            [ConfigKeys.Activation] = g.Text(ConfigKeys.Activation) ?? "tanh",
        };
        if (g.LayerType == LayerType.SimpleRNN) settings.Remove(ConfigKeys.RecurrentActivation);
        else settings[ConfigKeys.RecurrentActivation] = "sigmoid";
        if (g.LayerType == LayerType.GRU) settings[ConfigKeys.ResetAfter] = true;
        return new CanonicalLayer(g, g.LayerType, h, inputSize, settings)
        {
            WeightIh = CanonicalTensor.Of(weightIh),
            WeightHh = CanonicalTensor.Of(weightHh),
            BiasIh = biasIh is null ? null : CanonicalTensor.Of(biasIh),
            BiasHh = biasHh is null ? null : CanonicalTensor.Of(biasHh),
            Projection = projection is null ? null : CanonicalTensor.Of(projection),
            SourceOrder = Gates.TorchOrder(g.LayerType),
        };
    }

    public void FromCanonical(IReadOnlyList<CanonicalLayer> layers, ConversionOptions options, ConversionResult result)
    {
        var stack = options.StackAs is null ? null
            : StackPlan(layers.Where(c => c.IsRecurrent).ToList(), options.StackAs);
        foreach (var c in layers)
        {
            if (c.From.Layout == Layout.Torch)
            {
                result.Tensors.AddRange(c.Unconverted); // already PyTorch's: passed on as it is
                continue;
            }
            if (c.LayerType == LayerType.Other)
            {
                result.Warnings.Add((c.From.Layer, $"{c.From.Layer}: not converted: no PyTorch equivalent is known for this layer, so it is left out."));
                continue;
            }
            var settings = new Dictionary<string, object?>(c.Settings, StringComparer.OrdinalIgnoreCase);
            var reason = TorchPortability.Blocker(c.LayerType, c.Settings) ?? (c.Peepholes is not null ? "peepholes" : null);
            if (reason is not null)
            {
                if (!options.Force)
                {
                    result.Refused.Add((c.From.Layer, ErrorIds.NotTorchPortable, $"{c.Describe()}: no exact PyTorch equivalent ({reason}); use -Force to convert anyway"));
                    continue;
                }
                result.Warnings.Add((c.From.Layer, $"{c.Describe()}: converted with -Force although PyTorch cannot compute it exactly ({reason})."));
                // Written without what PyTorch has no place for.
                settings.Remove(ConfigKeys.UsePeepholes);
                settings.Remove(ConfigKeys.CellClip);
            }
            var (module, depth, depths) = stack is not null && stack.TryGetValue(c, out var slot) ? slot : (c.Layer.Replace('/', '.'), c.Depth, c.Depth + 1);
            var name = new TorchNames(module, depth, c.Direction, options.AsCell, Stacked: depths > 1);
            if (c.IsRecurrent) WriteRecurrent(c, name, settings, result);
            else WritePlain(c, name.Module, result);
        }
    }

    static void WriteRecurrent(CanonicalLayer c, TorchNames name, Dictionary<string, object?> config, ConversionResult result)
    {
        int gates = Gates.Count(c.LayerType), h = c.Units;
        var weightIh = c.WeightIh!;
        var steps = c.StepsTo(targetFromRight: false, Gates.TorchOrder(c.LayerType));
        var someBias = c.BiasIh ?? c.BiasHh;
        var biasDType = someBias?.DType ?? weightIh.DType;
        var zero = CanonicalTensor.Make([gates * h], biasDType, c.Source, () => zeros(gates * h, DTypes.Parse(biasDType)));
        steps.Add(c.BiasIh is null && c.BiasHh is null ? "no bias: bias_ih = bias_hh = 0"
            : c.BiasHh is null ? "bias → bias_ih, bias_hh = 0"
            : c.BiasIh is null ? "bias → bias_hh, bias_ih = 0"
            : "bias input half → bias_ih, recurrent half → bias_hh");
        var order = Gates.TorchOrder(c.LayerType);
        void Out(CanonicalTensor t, string param, TensorRole role) => result.Tensors.Add(new LstmTensor(name.Key(param), name.Layer, c.LayerType, role,
            Layout.Torch, t.Shape, t.DType, t.Loader(), c.Direction, name.AsCell ? 0 : name.Depth, order, h, c.InputSize, config, c.Source, reloadable: true));
        Out(weightIh, "weight_ih", TensorRole.Kernel);
        Out(c.WeightHh!, "weight_hh", TensorRole.RecurrentKernel);
        Out(c.BiasIh ?? zero, "bias_ih", TensorRole.InputBias);
        Out(c.BiasHh ?? zero, "bias_hh", TensorRole.RecurrentBias);
        if (c.Projection is { } proj)
        {
            Out(proj, "weight_hr", TensorRole.ProjectionKernel);
            steps.Add($"projection → weight_hr (proj_size {proj.Shape[0]})");
        }
        var target = name.AsCell ? name.Layer : $"{name.Module} (l{name.Depth}{(c.Direction == Direction.Backward ? ", reverse" : "")})";
        result.Log.Add($"{c.Describe()} → {target}: {string.Join(", ", steps)}");
    }

    static void WritePlain(CanonicalLayer c, string module, ConversionResult result)
    {
        var w = c.WeightIh!;
        if (c.LayerType == LayerType.Embedding)
        {
            result.Tensors.Add(new LstmTensor($"{module}.weight", module, LayerType.Embedding, TensorRole.Embeddings, Layout.Torch, w.Shape, w.DType,
                w.Loader(), units: c.Units, inputSize: c.InputSize, config: c.Settings, source: w.Source, reloadable: true));
            result.Log.Add($"{c.Describe()} → {module}.weight: embeddings unchanged");
            return;
        }
        result.Tensors.Add(new LstmTensor($"{module}.weight", module, LayerType.Dense, TensorRole.Weight, Layout.Torch, w.Shape, w.DType,
            w.Loader(), units: c.Units, inputSize: c.InputSize, config: c.Settings, source: w.Source, reloadable: true));
        if (c.BiasIh is { } b)
            result.Tensors.Add(new LstmTensor($"{module}.bias", module, LayerType.Dense, TensorRole.Bias, Layout.Torch, b.Shape, b.DType,
                b.Loader(), units: c.Units, inputSize: c.InputSize, config: c.Settings, source: b.Source, reloadable: true));
        result.Log.Add($"{c.Describe()} → {module}.weight: {(c.SourceFromRight ? "kernel transposed to Linear weight" : "Linear weight")}");
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

    /// <summary>
    /// -StackAs: the recurrent layers become depths l0..l(n-1) of one module. They must be one
    /// type and one direction count, and each layer's input must be the previous layer's output.
    /// </summary>
    static Dictionary<CanonicalLayer, (string Module, int Depth, int Depths)> StackPlan(List<CanonicalLayer> recurrent, string module)
    {
        var layers = recurrent.Select(c => c.Layer).Distinct().ToList();
        if (layers.Count == 0)
            throw new LstmPortException(ErrorIds.NothingToStack, "-StackAs was given but the input has no recurrent layers.", module);
        var plan = new Dictionary<CanonicalLayer, (string, int, int)>();
        CanonicalLayer? previous = null;
        int previousDirections = 0;
        for (int depth = 0; depth < layers.Count; depth++)
        {
            var halves = recurrent.Where(c => c.Layer == layers[depth]).ToList();
            var first = halves[0];
            if (previous is not null)
            {
                if (first.LayerType != previous.LayerType)
                    throw StackError(module, $"{first.Layer} is {first.LayerType} but {previous.Layer} is {previous.LayerType}");
                if (first.Units != previous.Units)
                    throw StackError(module, $"{first.Layer} has {first.Units} units but {previous.Layer} has {previous.Units}; one PyTorch module has one hidden size");
                if (halves.Count != previousDirections)
                    throw StackError(module, $"{first.Layer} has {halves.Count} direction(s) but {previous.Layer} has {previousDirections}");
                int previousOutput = (previous.Projection?.Shape[0] ?? previous.Units) * previousDirections;
                if (first.InputSize != previousOutput)
                    throw StackError(module, $"{first.Layer} takes {first.InputSize} inputs but {previous.Layer} gives {previousOutput}");
            }
            if (halves.Count == 2 && halves.Any(c => c.Text(ConfigKeys.MergeMode) is { } m && m != "concat"))
                throw StackError(module, $"{first.Layer} merges its directions by '{first.Text(ConfigKeys.MergeMode)}'; a PyTorch module concatenates them");
            foreach (var c in halves) plan[c] = (module, depth, layers.Count);
            previous = first;
            previousDirections = halves.Count;
        }
        return plan;
    }

    static LstmPortException StackError(string module, string why) =>
        new(ErrorIds.CannotStack, $"Cannot stack the recurrent layers into one module '{module}': {why}.", module);
}
