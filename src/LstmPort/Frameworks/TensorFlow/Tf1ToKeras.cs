using TorchSharp;
using LstmPort.Conversion;
using LstmPort.Frameworks.Keras;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>
/// TF1 cell layout to Keras layout, for one layer, depth and direction.
/// <list type="bullet">
/// <item>LSTMCell / BasicLSTMCell / LSTMBlockCell / LSTMBlockFusedCell: the fused kernel
/// <c>[in+h,4h]</c> splits into Kernel <c>[in,4h]</c> (input rows first) and RecurrentKernel
/// <c>[h,4h]</c>; gates i,j,f,o become i,f,c,o; forget_bias (added at run time in TF1:
/// <c>sigmoid(f + forget_bias)</c>) is folded into the f block of the bias.</item>
/// <item>GRUCell: <c>r,u = sigmoid([x,h]·gates + b)</c>, <c>c = tanh([x, r*h]·candidate + b)</c>,
/// <c>h' = u*h + (1-u)*c</c>. That is Keras GRU with <c>reset_after=False</c> exactly, with Keras z = u,
/// r = r, h = c: Kernel/RecurrentKernel/Bias are [u | r | candidate].</item>
/// <item>BasicRNNCell: <c>tanh([x,h]·W + b)</c> = Keras SimpleRNN.</item>
/// </list>
/// Peepholes, a projection (num_proj) and cell_clip have no Keras LSTM equivalent: such layers are
/// refused with ErrorId <c>NotKerasPortable</c>.
/// </summary>
public static class Tf1ToKeras
{
    public static IReadOnlyList<LstmTensor> Convert(LayerGroup g)
    {
        if (g.Layout != Layout.TensorFlow)
            throw new LstmPortException(ErrorIds.UnsupportedLayout, $"{g.Describe()}: expected a TF1 (TensorFlow layout) layer, got {g.Layout}.", g.Layer);
        if (Blocker(g) is { } reason)
            throw new LstmPortException(ErrorIds.NotKerasPortable, $"{g.Describe()}: no exact Keras equivalent ({reason}).", g.Layer);
        return g.LayerType switch
        {
            LayerType.LSTM => Lstm(g),
            LayerType.GRU => Gru(g),
            LayerType.SimpleRNN => SimpleRnn(g),
            _ => throw new LstmPortException(ErrorIds.NotKerasPortable, $"{g.Describe()}: a {g.LayerType} TF1 variable has no Keras layer to go to.", g.Layer),
        };
    }

    /// <summary>Why a TF1 layer cannot be written as a Keras layer, or null when it can.</summary>
    public static string? Blocker(LayerGroup g)
    {
        if (g.LayerType != LayerType.LSTM) return null;
        if (g.Flag(ConfigKeys.UsePeepholes) || g.Find(TensorRole.Peephole) is not null)
            return "peephole connections (w_i_diag, w_f_diag, w_o_diag): Keras LSTM has none";
        if (g.Find(TensorRole.ProjectionKernel) is not null || g.Config.ContainsKey(ConfigKeys.NumProj))
            return "an output projection (num_proj): Keras LSTM has none";
        if (g.Config.TryGetValue(ConfigKeys.CellClip, out var clip) && clip is not null && System.Convert.ToDouble(clip, System.Globalization.CultureInfo.InvariantCulture) > 0)
            return $"cell_clip {clip}: Keras LSTM does not clip its cell state";
        return null;
    }

    static IReadOnlyList<LstmTensor> Lstm(LayerGroup g)
    {
        var fused = g.Require(TensorRole.FusedKernel);
        var bias = g.Find(TensorRole.Bias);
        int h = g.Units, input = g.InputSize;
        CheckRows(g, fused, input + h, 4 * h);
        double forgetBias = g.Config.TryGetValue(ConfigKeys.ForgetBias, out var fb) && fb is not null
            ? System.Convert.ToDouble(fb, System.Globalization.CultureInfo.InvariantCulture) : Frameworks.TensorFlow.Tf1Scopes.DefaultForgetBias;
        var config = KerasConfig(g, ("recurrent_activation", "sigmoid"));
        var names = new Names(g, "lstm_cell");
        return
        [
            Make(g, names.Of("kernel"), TensorRole.Kernel, [input, 4 * h], fused.DType, GateOrder.IFCO, config,
                () => Gates.Reorder(fused.Tensor.narrow(0, 0, input), 1, GateOrder.IJFO, GateOrder.IFCO).contiguous()),
            Make(g, names.Of("recurrent_kernel"), TensorRole.RecurrentKernel, [h, 4 * h], fused.DType, GateOrder.IFCO, config,
                () => Gates.Reorder(fused.Tensor.narrow(0, input, h), 1, GateOrder.IJFO, GateOrder.IFCO).contiguous()),
            Make(g, names.Of("bias"), TensorRole.Bias, [4 * h], bias?.DType ?? fused.DType, GateOrder.IFCO, config, () =>
            {
                var b = bias is null ? torch.zeros(4 * h, fused.Tensor.dtype) : Gates.Reorder(bias.Tensor, 0, GateOrder.IJFO, GateOrder.IFCO).clone();
                // TF1 adds forget_bias inside the sigmoid at run time; Keras keeps it in the bias.
                using (var f = b.narrow(0, h, h)) f.add_(forgetBias);
                return b;
            }),
        ];
    }

    static IReadOnlyList<LstmTensor> Gru(LayerGroup g)
    {
        var gates = g.Require(TensorRole.FusedKernel);
        var candidate = g.Require(TensorRole.CandidateKernel);
        var gatesBias = g.Find(TensorRole.Bias);
        var candidateBias = g.Find(TensorRole.CandidateBias);
        int h = g.Units, input = g.InputSize;
        CheckRows(g, gates, input + h, 2 * h);
        CheckRows(g, candidate, input + h, h);
        var config = KerasConfig(g, ("recurrent_activation", "sigmoid"), (ConfigKeys.ResetAfter, false));
        var names = new Names(g, "gru_cell");
        // Keras z,r,h = TF u (second half of gates), r (first half), candidate.
        torch.Tensor Rows(int start, int count) => torch.cat(
            [gates.Tensor.narrow(0, start, count).narrow(1, h, h), gates.Tensor.narrow(0, start, count).narrow(1, 0, h),
             candidate.Tensor.narrow(0, start, count)], 1);
        return
        [
            Make(g, names.Of("kernel"), TensorRole.Kernel, [input, 3 * h], gates.DType, GateOrder.ZRH, config, () => Rows(0, input)),
            Make(g, names.Of("recurrent_kernel"), TensorRole.RecurrentKernel, [h, 3 * h], gates.DType, GateOrder.ZRH, config, () => Rows(input, h)),
            Make(g, names.Of("bias"), TensorRole.Bias, [3 * h], gatesBias?.DType ?? gates.DType, GateOrder.ZRH, config, () =>
            {
                var gb = gatesBias?.Tensor ?? torch.zeros(2 * h, gates.Tensor.dtype);
                var cb = candidateBias?.Tensor ?? torch.zeros(h, gates.Tensor.dtype);
                return torch.cat([gb.narrow(0, h, h), gb.narrow(0, 0, h), cb], 0);
            }),
        ];
    }

    static IReadOnlyList<LstmTensor> SimpleRnn(LayerGroup g)
    {
        var fused = g.Require(TensorRole.FusedKernel);
        var bias = g.Find(TensorRole.Bias);
        int h = g.Units, input = g.InputSize;
        CheckRows(g, fused, input + h, h);
        var config = KerasConfig(g);
        var names = new Names(g, "simple_rnn_cell");
        return
        [
            Make(g, names.Of("kernel"), TensorRole.Kernel, [input, h], fused.DType, GateOrder.None, config, () => fused.Tensor.narrow(0, 0, input).contiguous()),
            Make(g, names.Of("recurrent_kernel"), TensorRole.RecurrentKernel, [h, h], fused.DType, GateOrder.None, config, () => fused.Tensor.narrow(0, input, h).contiguous()),
            Make(g, names.Of("bias"), TensorRole.Bias, [h], bias?.DType ?? fused.DType, GateOrder.None, config,
                () => bias?.Tensor.clone() ?? torch.zeros(h, fused.Tensor.dtype)),
        ];
    }

    /// <summary>Keras names: the TF1 scope with '/' as '_' is the layer; the backward half sits under backward_&lt;layer&gt;.</summary>
    readonly record struct Names(LayerGroup G, string Cell)
    {
        public string Layer => G.Layer.Replace('/', '_');
        public string Of(string weight) => G.Direction == Direction.Backward
            ? $"{Layer}/backward_{Layer}/{Cell}/{weight}:0"
            : $"{Layer}/{Cell}/{weight}:0";
    }

    static Dictionary<string, object?> KerasConfig(LayerGroup g, params (string Key, object? Value)[] extra)
    {
        var config = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase)
        {
            [ConfigKeys.Activation] = g.Text(ConfigKeys.Activation) ?? "tanh",
            [ConfigKeys.UseBias] = true,
            // A bw cell is the backward half of a Bidirectional (Direction says so), not a go_backwards layer.
            [ConfigKeys.GoBackwards] = false,
            [ConfigKeys.ReturnSequences] = true,
        };
        foreach (var (key, value) in extra) config[key] = value;
        return config;
    }

    static void CheckRows(LayerGroup g, LstmTensor t, int rows, int cols)
    {
        if (t.Shape.Length != 2 || t.Shape[0] != rows || t.Shape[1] != cols)
            throw new LstmPortException(ErrorIds.LayerShapeMismatch,
                $"{g.Describe()}: '{t.Name}' is [{string.Join(",", t.Shape)}], expected [{rows},{cols}] for input {g.InputSize} and {g.Units} units.", g.Layer);
    }

    static LstmTensor Make(LayerGroup g, string name, TensorRole role, int[] shape, string dtype, GateOrder order,
        Dictionary<string, object?> config, Func<torch.Tensor> load) =>
        new(name, g.Layer.Replace('/', '_'), g.LayerType, role, Layout.Keras, shape, dtype, load,
            g.Direction, 0, order, g.Units, g.InputSize, config, g.Tensors[0].Source);
}
