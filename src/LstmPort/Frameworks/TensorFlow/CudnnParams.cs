using System.Globalization;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>
/// What a graph records about a tf.contrib.cudnn_rnn layer (CudnnRNNParamsToCanonical,
/// CudnnRNNCanonicalToParams, CudnnRNNParamsSize: sizes as inputs, the rest as attributes), keyed by
/// the name of the opaque parameter variable.
/// </summary>
internal sealed record CudnnHints(string RnnMode, int NumLayers, int NumUnits, int InputSize, bool Bidirectional, string InputMode, int NumProj);

/// <summary>
/// tf.contrib.cudnn_rnn's opaque parameter buffer (<c>cudnn_lstm/opaque_kernel</c>, one 1-D variable
/// for all layers and directions) split into one layer per depth and direction.
/// <para>
/// Layout, from TensorFlow's sources: tensorflow/contrib/cudnn_rnn/python/ops/cudnn_rnn_ops.py
/// (CudnnOpaqueParamsSaveable) gives cuDNN's canonical parameters per layer as the input matrices
/// of each gate, then the recurrent ones, each <c>[units, input]</c> row-major, then as many bias
/// vectors <c>[units]</c>, the input ones first; the gates are i, f, c, o for LSTM (TF's own cells
/// use i, c, f, o) and r, u, h for GRU; layers are ordered by depth, the forward direction before
/// the backward. tensorflow/python/keras/layers/recurrent_v2.py (<c>_canonical_to_params</c>) packs
/// the buffer it hands cuDNN as every weight flattened, then every bias; MXNet's cuDNN-compatible
/// fused RNN (gluon rnn_layer, operator/rnn_impl.h) packs several layers the same way: all matrices
/// of all layers, then all biases. cuDNN's maths (its user guide, quoted by CudnnCompatibleGRUCell)
/// keeps both biases of every gate and resets a GRU after the recurrent matmul, which is PyTorch's
/// nn.LSTM/nn.GRU exactly; the LSTM has no forget_bias. So each layer and direction here is a
/// <c>Kernel [G*h,in]</c> (input weights, multiplying from the left), <c>RecurrentKernel [G*h,h]</c>,
/// <c>InputBias [G*h]</c> and <c>RecurrentBias [G*h]</c>, gates in cuDNN's order (i,f,c,o = IFGO;
/// r,u,h = RZN), Config <c>cudnn</c> true.
/// </para>
/// The buffer does not record its sizes: they come from the graph (a <c>.meta</c> beside the
/// checkpoint, or the frozen graph). When the file also holds the canonical copy TensorFlow's saver
/// writes (<c>.../cudnn_compatible_lstm_cell/kernel</c>), that copy is read and the buffer left out.
/// </summary>
internal static class CudnnParams
{
    public static int Gates(string mode) => mode switch
    {
        "lstm" => 4,
        "gru" => 3,
        "rnn_tanh" or "rnn_relu" => 1,
        _ => throw new ArgumentException(mode),
    };

    static string? ModeFromName(string scope) => scope.Split('/')[^1] switch
    {
        var s when s.StartsWith("cudnn_lstm", StringComparison.Ordinal) => "lstm",
        var s when s.StartsWith("cudnn_gru", StringComparison.Ordinal) => "gru",
        var s when s.StartsWith("cudnn_rnn_tanh", StringComparison.Ordinal) => "rnn_tanh",
        var s when s.StartsWith("cudnn_rnn_relu", StringComparison.Ordinal) => "rnn_relu",
        _ => null,
    };

    /// <summary>The total number of values of a buffer with these sizes (checked arithmetic: the sizes come from a file).</summary>
    public static long Count(string mode, int layers, int units, int inputSize, bool bidirectional)
    {
        int g = Gates(mode), dirs = bidirectional ? 2 : 1;
        long total = 0;
        for (int l = 0; l < layers; l++)
        {
            long input = l == 0 ? inputSize : (long)units * dirs;
            total = checked(total + dirs * ((long)g * units * input + (long)g * units * units + 2L * g * units));
        }
        return total;
    }

    public static void Describe(TfVariable v, string name, CudnnHints? hints, IReadOnlyList<string> scopes, string source, TfDescription d)
    {
        var slash = name.LastIndexOf('/');
        var layer = slash > 0 ? name[..slash] : name;
        var outer = layer.LastIndexOf('/') is var o && o > 0 ? layer[..o] + "/" : "";
        var canonical = scopes.Where(s => s.StartsWith(outer, StringComparison.Ordinal)
                                          && s.Split('/')[^1].StartsWith("cudnn_compatible_", StringComparison.Ordinal)).ToList();
        if (canonical.Count > 0)
        {
            d.Notes.Add($"left out '{v.Name}', the cuDNN opaque parameter buffer: the file also holds its weights under their canonical names " +
                        $"({string.Join(", ", canonical.Take(2))}{(canonical.Count > 2 ? ", ..." : "")}), which are read instead");
            return;
        }
        var mode = hints?.RnnMode ?? ModeFromName(layer);
        if (hints is null || mode is null)
            throw new LstmPortException(ErrorIds.CudnnSizesUnknown,
                $"'{v.Name}' is a cuDNN opaque parameter buffer of {string.Join("x", v.Shape)} values{(mode is null ? "" : $" ({mode})")}, which does not record its " +
                "number of layers, units, input size and direction; expected a graph that does (the checkpoint's .meta file beside it, or the frozen graph), " +
                "or the canonical copy TensorFlow's Saver writes (.../cudnn_compatible_lstm_cell/kernel).", layer);
        if (hints.NumLayers is < 1 or > 1024 || hints.NumUnits is < 1 or > (1 << 20) || hints.InputSize is < 1 or > (1 << 24))
            throw new LstmPortException(ErrorIds.LayerShapeMismatch,
                $"cuDNN layer {layer}: the graph gives {hints.NumLayers} layers, {hints.NumUnits} units, input size {hints.InputSize}; expected positive sizes.", layer);
        if (hints.InputMode != "linear_input")
            throw new LstmPortException(ErrorIds.UnsupportedLayout,
                $"cuDNN layer {layer}: input_mode '{hints.InputMode}' feeds the input to the first layer without its input weights; only 'linear_input' converts.", layer);
        if (hints.NumProj > 0)
            throw new LstmPortException(ErrorIds.UnsupportedLayout,
                $"cuDNN layer {layer}: num_proj {hints.NumProj} (a projection in the cuDNN buffer) is not read.", layer);
        if (v.Shape.Length != 1)
            throw new LstmPortException(ErrorIds.LayerShapeMismatch,
                $"cuDNN layer {layer}: '{v.Name}' is [{string.Join(",", v.Shape)}]; the opaque buffer is one vector.", layer);
        int g = Gates(mode), h = hints.NumUnits, dirs = hints.Bidirectional ? 2 : 1;
        long expected = Count(mode, hints.NumLayers, h, hints.InputSize, hints.Bidirectional);
        if (expected != v.Shape[0])
            throw new LstmPortException(ErrorIds.LayerShapeMismatch,
                $"cuDNN layer {layer}: '{v.Name}' holds {v.Shape[0]} values, but {hints.NumLayers} {mode} layer(s) of {h} units on input {hints.InputSize}" +
                $"{(hints.Bidirectional ? ", bidirectional," : "")} hold {expected}.", layer);

        var type = mode switch { "lstm" => LayerType.LSTM, "gru" => LayerType.GRU, _ => LayerType.SimpleRNN };
        var order = LstmPort.Conversion.Gates.TorchOrder(type);
        var config = new Dictionary<string, object?>
        {
            [ConfigKeys.Cudnn] = true,
            [ConfigKeys.Activation] = mode == "rnn_relu" ? "relu" : "tanh",
            [ConfigKeys.UseBias] = true,
        };
        if (type != LayerType.SimpleRNN) config[ConfigKeys.RecurrentActivation] = "sigmoid";
        if (type == LayerType.GRU) config[ConfigKeys.ResetAfter] = true;

        long weights = 0, biases = Count(mode, hints.NumLayers, h, hints.InputSize, hints.Bidirectional) - (long)hints.NumLayers * dirs * 2 * g * h;
        for (int l = 0; l < hints.NumLayers; l++)
            for (int dir = 0; dir < dirs; dir++)
            {
                int input = l == 0 ? hints.InputSize : h * dirs;
                var direction = dir == 0 ? Direction.Forward : Direction.Backward;
                var prefix = $"{name}/cell_{l.ToString(CultureInfo.InvariantCulture)}/{(dir == 0 ? "fw" : "bw")}";
                LstmTensor Part(string part, TensorRole role, long offset, int[] shape) =>
                    new($"{prefix}/{part}", layer, type, role, Layout.TensorFlow, shape, v.DType, Slice(v, offset, shape),
                        direction, l, order, h, input, config, source, reloadable: true);
                d.Tensors.Add(Part("input_weights", TensorRole.Kernel, weights, [g * h, input]));
                weights += (long)g * h * input;
                d.Tensors.Add(Part("recurrent_weights", TensorRole.RecurrentKernel, weights, [g * h, h]));
                weights += (long)g * h * h;
                d.Tensors.Add(Part("input_bias", TensorRole.InputBias, biases, [g * h]));
                biases += g * h;
                d.Tensors.Add(Part("recurrent_bias", TensorRole.RecurrentBias, biases, [g * h]));
                biases += g * h;
            }
    }

    /// <summary>One part of the buffer: the buffer is read (its checksum checked), the part copied out, the rest freed.</summary>
    static Func<TorchSharp.torch.Tensor> Slice(TfVariable v, long offset, int[] shape) => () =>
    {
        using var all = v.Load();
        long n = shape.Aggregate(1L, (a, b) => a * b);
        return all.narrow(0, offset, n).reshape(shape.Select(s => (long)s).ToArray()).clone();
    };
}
