using static TorchSharp.torch;
using LstmPort.Conversion;
using LstmPort.Frameworks.TensorFlow;
using LstmPort.Frameworks.Torch;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// Any layout to the Keras layout with the weight names tf.keras 2.x gives
/// (<c>lstm/lstm_cell/kernel:0</c>, <c>bidirectional/forward_lstm/lstm_cell/kernel:0</c>,
/// <c>dense/kernel:0</c>). From PyTorch: matrices transposed, gates reordered, the two biases summed
/// (a GRU keeps them as the [2,3h] bias of reset_after=True, since its recurrent new-gate bias
/// cannot be summed away), each depth of a multi-layer module becomes its own layer, _reverse the
/// backward half of a Bidirectional layer. From Keras: CuDNN weights become plain LSTM/GRU weights,
/// Keras 1 and Keras 3 names become tf.keras 2.x names.
/// </summary>
public static class KerasLayoutConverter
{
    public static ConversionResult Convert(IEnumerable<LstmTensor> input)
    {
        var result = new ConversionResult();
        var groups = LayerGroup.Group(input);
        // Keras lists a Bidirectional layer's forward half first, whatever order the source had.
        var layerOrder = groups.Select(g => g.Layer).Distinct().Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
        foreach (var g in groups.OrderBy(g => layerOrder[g.Layer]).ThenBy(g => g.StackIndex).ThenBy(g => g.Direction))
        {
            bool bidirectional = groups.Any(o => o.Layout == g.Layout && o.Layer == g.Layer && o.StackIndex == g.StackIndex && o.Direction != g.Direction);
            try
            {
                switch (g.Layout)
                {
                    case Layout.Torch: FromTorch(g, groups, bidirectional, result); break;
                    case Layout.Keras: FromKeras(g, bidirectional, result); break;
                    case Layout.TensorFlow when !g.IsRecurrent: FromKeras(g, bidirectional, result); break;
                    case Layout.TensorFlow:
                        result.Log.Add($"{g.Describe()}: TF1 cell to Keras {g.LayerType}: fused kernel split, gates to Keras order{(g.LayerType == LayerType.LSTM ? $", forget_bias {g.Text(ConfigKeys.ForgetBias) ?? "1"} folded into the forget-gate bias" : "")}");
                        FromKeras(LayerGroup.Group(Tf1ToKeras.Convert(g)).Single(), bidirectional, result, log: false);
                        break;
                    default:
                        result.Refused.Add((g.Layer, ErrorIds.UnsupportedLayout, $"{g.Describe()}: converting {g.Layout} layout to Keras is not supported"));
                        break;
                }
            }
            catch (LstmPortException e) { result.Refused.Add((g.Layer, e.ErrorId, e.Message)); }
        }
        return result;
    }

    static void FromTorch(LayerGroup g, IReadOnlyList<LayerGroup> all, bool bidirectional, ConversionResult result)
    {
        if (!g.IsRecurrent)
        {
            FromTorchPlain(g, result);
            return;
        }
        if (g.Find(TensorRole.ProjectionKernel) is not null)
            throw new LstmPortException(ErrorIds.NotKerasPortable,
                $"{g.Describe()}: an LSTM with proj_size (weight_hr) has no Keras equivalent.", g.Layer);
        int gates = Gates.Count(g.LayerType), h = g.Units;
        var weightIh = g.Require(TensorRole.Kernel);
        var weightHh = g.Require(TensorRole.RecurrentKernel);
        int inputSize = weightIh.Shape[1];
        g.CheckShape(weightIh, gates * h, inputSize);
        g.CheckShape(weightHh, gates * h, h);
        var from = Gates.TorchOrder(g.LayerType);
        var to = Gates.KerasOrder(g.LayerType);

        var kernel = Gates.Reorder(weightIh.Tensor.t(), 1, from, to).contiguous();
        var recurrent = Gates.Reorder(weightHh.Tensor.t(), 1, from, to).contiguous();
        var bih = g.Find(TensorRole.InputBias)?.Tensor;
        var bhh = g.Find(TensorRole.RecurrentBias)?.Tensor;
        foreach (var b in new[] { g.Find(TensorRole.InputBias), g.Find(TensorRole.RecurrentBias) })
            if (b is not null) g.CheckShape(b, gates * h);
        Tensor? bias = null;
        string biasNote;
        if (bih is null && bhh is null) biasNote = "no biases (use_bias=False)";
        else if (g.LayerType == LayerType.GRU)
        {
            var zero = zeros(gates * h, kernel.dtype);
            bias = stack([Gates.Reorder(bih ?? zero, 0, from, to), Gates.Reorder(bhh ?? zero, 0, from, to)]).contiguous();
            biasNote = "bias_ih, bias_hh → bias [2,3h] (reset_after=True)";
        }
        else
        {
            bias = Gates.Reorder(bih is null ? bhh! : bhh is null ? bih : bih + bhh, 0, from, to).contiguous();
            biasNote = "bias = bias_ih + bias_hh";
        }

        // One Keras layer per depth: the module's name, then name_1, name_2, ... for deeper layers.
        var layer = g.StackIndex == 0 ? g.Layer : $"{g.Layer}_{g.StackIndex}";
        int depths = all.Where(o => o.Layout == Layout.Torch && o.Layer == g.Layer).Max(o => o.StackIndex) + 1;
        var config = new Dictionary<string, object?>(g.Config, StringComparer.OrdinalIgnoreCase)
        {
            [ConfigKeys.Activation] = g.Text(ConfigKeys.Activation) ?? "tanh",
            [ConfigKeys.RecurrentActivation] = g.LayerType == LayerType.SimpleRNN ? null : "sigmoid",
            [ConfigKeys.UseBias] = bias is not null,
        };
        if (g.LayerType != LayerType.LSTM && g.LayerType != LayerType.GRU) config.Remove(ConfigKeys.RecurrentActivation);
        if (g.LayerType == LayerType.GRU) config[ConfigKeys.ResetAfter] = true;
        if (bidirectional) config[ConfigKeys.MergeMode] = "concat";
        if (g.StackIndex < depths - 1) config[ConfigKeys.ReturnSequences] = true; // it feeds the next depth

        Emit(result, g, layer, bidirectional, kernel, recurrent, bias, inputSize, config, weightIh.Source);
        result.Log.Add($"{g.Describe()} → {layer}{(bidirectional ? $" ({g.Direction.ToString().ToLowerInvariant()})" : "")}: transposed, gates {from}→{to}, {biasNote}");
    }

    static void FromTorchPlain(LayerGroup g, ConversionResult result)
    {
        if (g.LayerType == LayerType.Embedding)
        {
            var e = g.Require(TensorRole.Embeddings);
            result.Tensors.Add(LstmTensor.FromTensor(e.Tensor, $"{g.Layer}/embeddings:0", g.Layer, LayerType.Embedding, TensorRole.Embeddings,
                Layout.Keras, units: e.Shape[1], inputSize: e.Shape[0], config: g.Config, source: e.Source));
            result.Log.Add($"{g.Describe()} → {g.Layer}: embeddings unchanged");
            return;
        }
        if (g.LayerType != LayerType.Dense)
        {
            result.Warnings.Add((g.Layer, $"{g.Layer}: not converted: no Keras equivalent is known for this layer, so it is left out."));
            return;
        }
        var weight = g.Require(TensorRole.Weight);
        result.Tensors.Add(LstmTensor.FromTensor(weight.Tensor.t().contiguous(), $"{g.Layer}/kernel:0", g.Layer, LayerType.Dense, TensorRole.Kernel,
            Layout.Keras, units: weight.Shape[0], inputSize: weight.Shape[1], config: g.Config, source: weight.Source));
        if (g.Find(TensorRole.Bias) is { } bias)
            result.Tensors.Add(LstmTensor.FromTensor(bias.Tensor, $"{g.Layer}/bias:0", g.Layer, LayerType.Dense, TensorRole.Bias,
                Layout.Keras, units: weight.Shape[0], inputSize: weight.Shape[1], config: g.Config, source: bias.Source));
        result.Log.Add($"{g.Describe()} → {g.Layer}: Linear weight transposed to Dense kernel");
    }

    static void FromKeras(LayerGroup g, bool bidirectional, ConversionResult result, bool log = true)
    {
        if (!g.IsRecurrent)
        {
            foreach (var t in g.Tensors)
            {
                var suffix = t.Role switch { TensorRole.Kernel => "kernel", TensorRole.Bias => "bias", TensorRole.Embeddings => "embeddings", _ => LastPart(t.Name) };
                result.Tensors.Add(LstmTensor.FromTensor(t.Tensor, $"{g.Layer}/{suffix}:0", g.Layer, t.LayerType, t.Role, Layout.Keras,
                    t.Direction, 0, t.GateOrder, t.Units, t.InputSize, t.Config, t.Source));
            }
            if (log) result.Log.Add($"{g.Describe()}: renamed to tf.keras 2.x names");
            return;
        }
        int gates = Gates.Count(g.LayerType), h = g.Units;
        var (kernelT, recurrentT, inputSize) = g.KerasMatrices();
        Tensor kernel = kernelT.Tensor, recurrent = recurrentT.Tensor;
        var bias = g.Find(TensorRole.Bias)?.Tensor;
        var config = new Dictionary<string, object?>(g.Config, StringComparer.OrdinalIgnoreCase);
        var note = "renamed to tf.keras 2.x names";
        if (g.Flag(ConfigKeys.Cudnn))
        {
            kernel = CudnnKernels.StandardKernel(kernel, gates, h, inputSize);
            recurrent = CudnnKernels.StandardRecurrentKernel(recurrent, gates);
            if (bias is not null && bias.numel() == 2L * gates * h) // not yet merged by Merge-LstmBias
            {
                var halves = bias.reshape(2, gates * h);
                // An LSTM's two biases only ever appear summed; a GRU keeps both as reset_after=True does.
                bias = g.LayerType == LayerType.LSTM ? halves[0] + halves[1] : halves.contiguous();
            }
            else if (bias is not null && g.LayerType == LayerType.GRU) // merged already: the recurrent half is zero
                bias = stack([bias, zeros_like(bias)]).contiguous();
            config.Remove(ConfigKeys.Cudnn);
            config[ConfigKeys.Activation] = "tanh";
            config[ConfigKeys.RecurrentActivation] = "sigmoid";
            if (g.LayerType == LayerType.GRU) config[ConfigKeys.ResetAfter] = true;
            note = $"CuDNN{g.LayerType} weights to plain {g.LayerType} (kernels per gate to the standard layout{(g.LayerType == LayerType.LSTM ? ", bias halves summed" : ", bias [6h] → [2,3h]")})";
        }
        Emit(result, g, g.Layer, bidirectional, kernel, recurrent, bias, inputSize, config, kernelT.Source);
        if (log) result.Log.Add($"{g.Describe()}: {note}");
    }

    /// <summary>Writes one Keras recurrent layer (or one half of a Bidirectional) with tf.keras 2.x names.</summary>
    static void Emit(ConversionResult result, LayerGroup g, string layer, bool bidirectional, Tensor kernel, Tensor recurrent,
        Tensor? bias, int inputSize, Dictionary<string, object?> config, string? source)
    {
        var type = g.LayerType switch { LayerType.LSTM => "lstm", LayerType.GRU => "gru", _ => "simple_rnn" };
        var prefix = bidirectional
            ? $"{layer}/{(g.Direction == Direction.Forward ? "forward" : "backward")}_{type}/{type}_cell"
            : $"{layer}/{type}_cell";
        var order = Gates.KerasOrder(g.LayerType);
        LstmTensor Out(Tensor t, string name, TensorRole role) => LstmTensor.FromTensor(t, $"{prefix}/{name}:0", layer, g.LayerType, role,
            Layout.Keras, g.Direction, 0, order, g.Units, inputSize, config, source);
        result.Tensors.Add(Out(kernel, "kernel", TensorRole.Kernel));
        result.Tensors.Add(Out(recurrent, "recurrent_kernel", TensorRole.RecurrentKernel));
        if (bias is not null) result.Tensors.Add(Out(bias, "bias", TensorRole.Bias));
    }

    static string LastPart(string name) => name.Split('/')[^1].Split(':')[0];
}
