using static TorchSharp.torch;
using LstmPort.Conversion;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// The Keras layout to and from the canonical form. Keras multiplies x @ W: kernels [in,G*h] and
/// recurrent kernels [h,G*h] are transposed, gates z,r,h / i,f,c,o are reordered. One bias [G*h]
/// is the input bias; a GRU's [2,G*h] (reset_after=True) and CuDNN's [2*G*h] keep their input and
/// recurrent halves; CuDNN kernels are brought to the standard layout. Written back with the names
/// tf.keras 2.x gives (<c>lstm/lstm_cell/kernel:0</c>, <c>bidirectional/forward_lstm/lstm_cell/kernel:0</c>,
/// <c>dense/kernel:0</c>): the two biases of an LSTM or SimpleRNN summed, a GRU's kept as the [2,3h]
/// bias of reset_after=True (its recurrent new-gate bias cannot be summed away), each depth of a
/// multi-layer module its own layer.
/// </summary>
internal sealed class KerasMapping : IToCanonical, IFromCanonical
{
    public Layout Layout => Layout.Keras;

    public bool KeepsOwnLayout => false;

    public CanonicalLayer ToCanonical(LayerGroup g, ConversionOptions options) => g.LayerType switch
    {
        LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN => Recurrent(g),
        _ => PlainLayers.FromRight(g),
    };

    static CanonicalLayer Recurrent(LayerGroup g)
    {
        int gates = Gates.Count(g.LayerType), h = g.Units;
        var (kernelT, recurrentT, inputSize) = g.KerasMatrices();
        var from = g.GateOrder == GateOrder.None ? Gates.KerasOrder(g.LayerType) : g.GateOrder;
        var to = Gates.Canonical(g.LayerType);
        if (!Gates.SameOrder(from, to)) _ = Gates.Permutation(from, to); // mismatched orders fail here, not at the first read
        bool cudnn = g.Flag(ConfigKeys.Cudnn);
        var settings = new Dictionary<string, object?>(g.Config, StringComparer.OrdinalIgnoreCase);

        var biasT = g.Find(TensorRole.Bias);
        CanonicalTensor? biasIh = null, biasHh = null;
        if (biasT is null) { }
        else if (biasT.Shape.SequenceEqual([gates * h]))
            biasIh = CanonicalTensor.Of(biasT).Map([gates * h], b => InOrder(b, from, to));
        else if (biasT.Shape.SequenceEqual([2, gates * h]) || biasT.Shape.SequenceEqual([2 * gates * h]))
        {
            biasIh = CanonicalTensor.Of(biasT).Map([gates * h], b => InOrder(b.reshape(2, gates * h)[0], from, to));
            biasHh = CanonicalTensor.Of(biasT).Map([gates * h], b => InOrder(b.reshape(2, gates * h)[1], from, to));
        }
        else throw g.ShapeError(biasT, $"[{gates * h}], [2,{gates * h}] or [{2 * gates * h}]");

        if (g.LayerType == LayerType.GRU && !settings.ContainsKey(ConfigKeys.ResetAfter))
            settings[ConfigKeys.ResetAfter] = biasHh is not null; // Keras stores the recurrent half only when it resets after the matmul
        var steps = new List<string>();
        if (cudnn)
        {
            // CuDNNLSTM/CuDNNGRU compute a plain LSTM/GRU (reset_after=True) with tanh and sigmoid.
            settings.Remove(ConfigKeys.Cudnn);
            settings[ConfigKeys.Activation] = "tanh";
            settings[ConfigKeys.RecurrentActivation] = "sigmoid";
            if (g.LayerType == LayerType.GRU) settings[ConfigKeys.ResetAfter] = true;
            steps.Add("CuDNN kernels to standard layout");
        }
        var c = new CanonicalLayer(g, g.LayerType, h, inputSize, settings)
        {
            WeightIh = CanonicalTensor.Of(kernelT).Map([gates * h, inputSize],
                k => InOrder(TensorMemory.Transposed(cudnn ? CudnnKernels.StandardKernel(k, gates, h, inputSize) : k), from, to)),
            WeightHh = CanonicalTensor.Of(recurrentT).Map([gates * h, h],
                r => InOrder(TensorMemory.Transposed(cudnn ? CudnnKernels.StandardRecurrentKernel(r, gates) : r), from, to)),
            BiasIh = biasIh,
            BiasHh = biasHh,
            SourceOrder = from,
            SourceFromRight = true,
        };
        c.Steps.AddRange(steps);
        return c;
    }

    /// <summary>Gate blocks along <paramref name="dim"/> in the target order, in new contiguous memory when reordered.</summary>
    static Tensor InOrder(Tensor t, GateOrder from, GateOrder to, long dim = 0) =>
        Gates.SameOrder(from, to) ? t : Gates.Reorder(t, dim, from, to).contiguous();

    public void FromCanonical(IReadOnlyList<CanonicalLayer> layers, ConversionOptions options, ConversionResult result)
    {
        // Keras lists a Bidirectional layer's forward half first, whatever order the source had.
        var layerOrder = layers.Select(c => c.Layer).Distinct().Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
        foreach (var c in layers.OrderBy(c => layerOrder[c.Layer]).ThenBy(c => c.Depth).ThenBy(c => c.Direction))
        {
            try
            {
                if (c.IsRecurrent) Write(c, layers, result);
                else WritePlain(c, result);
            }
            catch (LstmPortException e) { result.Refused.Add((c.From.Layer, e.ErrorId, e.Message)); }
        }
    }

    /// <summary>Why Keras cannot compute this layer exactly, or null when it can.</summary>
    static string? Blocker(CanonicalLayer c)
    {
        if (c.Projection is not null) return "an output projection (PyTorch proj_size, TF1 num_proj): Keras LSTM has none";
        if (c.Peepholes is not null || c.Flag(ConfigKeys.UsePeepholes)) return "peephole connections (w_i_diag, w_f_diag, w_o_diag): Keras LSTM has none";
        if (c.CellClip is double clip) return $"cell_clip {clip}: Keras LSTM does not clip its cell state";
        if (c.Text(ConfigKeys.Clip) is string onnxClip) return $"ONNX clip {onnxClip}: Keras does not clip the gates' inputs";
        if (c.Flag(ConfigKeys.InputForget)) return "ONNX input_forget=1 (input and forget gates coupled): Keras LSTM has no such option";
        return null;
    }

    static void Write(CanonicalLayer c, IReadOnlyList<CanonicalLayer> all, ConversionResult result)
    {
        if (Blocker(c) is { } reason)
            throw new LstmPortException(ErrorIds.NotKerasPortable, $"{c.Describe()}: no exact Keras equivalent ({reason}).", c.From.Layer);
        int gates = Gates.Count(c.LayerType), h = c.Units;
        var from = c.GateOrder;
        var to = Gates.KerasOrder(c.LayerType);
        int[] kernelShape = [c.InputSize, gates * h], recurrentShape = [h, gates * h];
        var kernel = c.WeightIh!.Map(kernelShape, w => InOrder(TensorMemory.Transposed(w), from, to, dim: 1));
        var recurrent = c.WeightHh!.Map(recurrentShape, w => InOrder(TensorMemory.Transposed(w), from, to, dim: 1));
        bool resetAfter = c.LayerType == LayerType.GRU && c.Bool(ConfigKeys.ResetAfter) != false;

        CanonicalTensor? bias;
        string? biasNote = null;
        if (c.BiasIh is null && c.BiasHh is null) { bias = null; biasNote = c.SourceFromRight ? null : "no biases (use_bias=False)"; }
        else if (resetAfter)
        {
            var zero = CanonicalTensor.Make([gates * h], (c.BiasIh ?? c.BiasHh)!.DType, c.Source, () => zeros(gates * h, DTypes.Parse((c.BiasIh ?? c.BiasHh)!.DType)));
            bias = CanonicalTensor.Combine(c.BiasIh ?? zero, c.BiasHh ?? zero, [2, gates * h],
                (ih, hh) => stack([InOrder(ih, from, to), InOrder(hh, from, to)]).contiguous());
            if (!c.SourceFromRight) biasNote = "bias_ih, bias_hh → bias [2,3h] (reset_after=True)";
        }
        else if (c.BiasHh is null) bias = c.BiasIh!.Map([gates * h], b => InOrder(b, from, to));
        else if (c.BiasIh is null) bias = c.BiasHh.Map([gates * h], b => InOrder(b, from, to));
        else
        {
            // An LSTM's and a SimpleRNN's two biases only ever appear summed (as do a reset-before GRU's).
            bias = CanonicalTensor.Combine(c.BiasIh, c.BiasHh, [gates * h], (ih, hh) => InOrder(ih + hh, from, to));
            biasNote = c.SourceFromRight ? "bias halves summed" : "bias = bias_ih + bias_hh";
        }

        // One Keras layer per depth of a multi-layer module: the module's name, then name_1, name_2, ...
        var layer = Name(c) + (c.Depth == 0 ? "" : $"_{c.Depth}");
        bool bidirectional = all.Any(o => o.Layer == c.Layer && o.Depth == c.Depth && o.Direction != c.Direction);
        int depths = all.Where(o => o.Layer == c.Layer).Max(o => o.Depth) + 1;
        var config = new Dictionary<string, object?>(c.Settings, StringComparer.OrdinalIgnoreCase);
        config[ConfigKeys.Activation] = c.Text(ConfigKeys.Activation) ?? "tanh";
        if (c.LayerType == LayerType.SimpleRNN) config.Remove(ConfigKeys.RecurrentActivation);
        else config[ConfigKeys.RecurrentActivation] = c.Text(ConfigKeys.RecurrentActivation) ?? "sigmoid";
        config[ConfigKeys.UseBias] = bias is not null;
        if (c.LayerType == LayerType.GRU) config[ConfigKeys.ResetAfter] = resetAfter;
        if (bidirectional && !config.ContainsKey(ConfigKeys.MergeMode)) config[ConfigKeys.MergeMode] = "concat";
        if (c.Depth < depths - 1) config[ConfigKeys.ReturnSequences] = true; // it feeds the next depth

        var type = c.LayerType switch { LayerType.LSTM => "lstm", LayerType.GRU => "gru", _ => "simple_rnn" };
        var prefix = bidirectional
            ? $"{layer}/{(c.Direction == Direction.Forward ? "forward" : "backward")}_{type}/{type}_cell"
            : $"{layer}/{type}_cell";
        var order = Gates.KerasOrder(c.LayerType);
        void Out(CanonicalTensor t, string name, TensorRole role) => result.Tensors.Add(new LstmTensor($"{prefix}/{name}:0", layer, c.LayerType, role,
            Layout.Keras, t.Shape, t.DType, t.Loader(), c.Direction, 0, order, h, c.InputSize, config, t.Source, reloadable: true));
        Out(kernel, "kernel", TensorRole.Kernel);
        Out(recurrent, "recurrent_kernel", TensorRole.RecurrentKernel);
        if (bias is not null) Out(bias, "bias", TensorRole.Bias);

        var steps = c.StepsTo(targetFromRight: true, to);
        if (biasNote is not null) steps.Add(biasNote);
        if (steps.Count == 0) steps.Add("renamed to tf.keras 2.x names");
        var target = layer + (bidirectional ? $" ({c.Direction.ToString().ToLowerInvariant()})" : "");
        result.Log.Add($"{c.Describe()} → {target}: {string.Join(", ", steps)}");
    }

    static void WritePlain(CanonicalLayer c, ConversionResult result)
    {
        var layer = Name(c);
        switch (c.LayerType)
        {
            case LayerType.Embedding:
                var e = c.WeightIh!;
                result.Tensors.Add(new LstmTensor($"{layer}/embeddings:0", layer, LayerType.Embedding, TensorRole.Embeddings, Layout.Keras,
                    e.Shape, e.DType, e.Loader(), units: c.Units, inputSize: c.InputSize, config: c.Settings, source: e.Source, reloadable: true));
                result.Log.Add($"{c.Describe()} → {layer}: {(c.SourceFromRight ? "renamed to tf.keras 2.x names" : "embeddings unchanged")}");
                return;
            case LayerType.Dense:
                var w = c.WeightIh!;
                result.Tensors.Add(new LstmTensor($"{layer}/kernel:0", layer, LayerType.Dense, TensorRole.Kernel, Layout.Keras,
                    [c.InputSize, c.Units], w.DType, w.Map([c.InputSize, c.Units], TensorMemory.Transposed).Loader(),
                    units: c.Units, inputSize: c.InputSize, config: c.Settings, source: w.Source, reloadable: true));
                if (c.BiasIh is { } b)
                    result.Tensors.Add(new LstmTensor($"{layer}/bias:0", layer, LayerType.Dense, TensorRole.Bias, Layout.Keras,
                        b.Shape, b.DType, b.Loader(), units: c.Units, inputSize: c.InputSize, config: c.Settings, source: b.Source, reloadable: true));
                result.Log.Add($"{c.Describe()} → {layer}: {(c.SourceFromRight ? "renamed to tf.keras 2.x names" : "Linear weight transposed to Dense kernel")}");
                return;
            default:
                // A TF1 variable of unknown kind is no Keras layer either: only Keras's own layers pass through.
                if (c.From.Layout != Layout.Keras)
                {
                    result.Warnings.Add((c.From.Layer, $"{c.From.Layer}: not converted: no Keras equivalent is known for this layer, so it is left out."));
                    return;
                }
                // A layer Keras stored that no framework converts: kept as read, under Keras-style names.
                foreach (var t in c.Unconverted)
                    result.Tensors.Add(LstmTensor.FromTensor(t.Tensor, $"{c.Layer}/{LastPart(t.Name)}:0", c.Layer, t.LayerType, t.Role, Layout.Keras,
                        t.Direction, 0, t.GateOrder, t.Units, t.InputSize, t.Config, t.Source));
                result.Log.Add($"{c.Describe()}: renamed to tf.keras 2.x names");
                return;
        }
    }

    /// <summary>Keras layer names cannot hold '/': a TF1 scope's become '_'.</summary>
    static string Name(CanonicalLayer c) => c.Layer.Replace('/', '_');

    static string LastPart(string name) => name.Split('/')[^1].Split(':')[0];
}
