using TorchSharp;
using static TorchSharp.torch;

namespace LstmPort.Tests;

/// <summary>
/// Builds weight sets in memory for the equivalence tests: Keras- and TF1-layout layers from a
/// seeded generator, and their PyTorch counterparts converted by hand here (independently of the
/// project's converters), correctly or with one deliberate classic mistake.
/// </summary>
internal sealed class EquivalenceBuild(int seed = 3)
{
    readonly torch.Generator _gen = new((ulong)seed);

    /// <summary>Weights are uniform in [-Scale, Scale].</summary>
    public double Scale { get; init; } = 0.4;

    public Tensor Rand(params long[] shape) => (torch.rand(shape, generator: _gen) * 2 - 1) * Scale;

    public static Dictionary<string, object?> Config(params (string Key, object? Value)[] items) =>
        items.ToDictionary(i => i.Key, i => i.Value);

    public static LstmTensor Keras(string layer, LayerType type, TensorRole role, Tensor t, Direction dir = Direction.Forward,
        IDictionary<string, object?>? config = null, int units = 0, int input = 0) =>
        LstmTensor.FromTensor(t, $"{layer}/{(dir == Direction.Backward ? "backward" : "forward")}/{role}", layer, type, role, Layout.Keras, dir,
            gateOrder: type switch { LayerType.LSTM => GateOrder.IFCO, LayerType.GRU => GateOrder.ZRH, _ => GateOrder.None },
            units: units, inputSize: input, config: config);

    public static LstmTensor Torch(string module, string param, LayerType type, Tensor t, int depth = 0, Direction dir = Direction.Forward)
    {
        var role = param switch
        {
            "weight_ih" => TensorRole.Kernel, "weight_hh" => TensorRole.RecurrentKernel,
            "bias_ih" => TensorRole.InputBias, "bias_hh" => TensorRole.RecurrentBias,
            "weight" => TensorRole.Weight, _ => TensorRole.Bias,
        };
        bool recurrent = type != LayerType.Dense;
        var name = recurrent ? $"{module}.{param}_l{depth}{(dir == Direction.Backward ? "_reverse" : "")}" : $"{module}.{param}";
        return LstmTensor.FromTensor(t, name, module, type, role, Layout.Torch, dir, depth,
            type switch { LayerType.LSTM => GateOrder.IFGO, LayerType.GRU => GateOrder.RZN, _ => GateOrder.None });
    }

    /// <summary>A Keras LSTM/GRU/SimpleRNN layer (or one half of a Bidirectional).</summary>
    public List<LstmTensor> KerasLayer(string layer, LayerType type, int input, int h, Direction dir = Direction.Forward,
        bool resetAfter = true, IDictionary<string, object?>? config = null)
    {
        int gates = type switch { LayerType.LSTM => 4, LayerType.GRU => 3, _ => 1 };
        config ??= new Dictionary<string, object?>();
        if (type == LayerType.GRU) config[ConfigKeys.ResetAfter] = resetAfter;
        var bias = type == LayerType.GRU && resetAfter ? Rand(2, 3 * h) : Rand(gates * h);
        return
        [
            Keras(layer, type, TensorRole.Kernel, Rand(input, gates * h), dir, config, h, input),
            Keras(layer, type, TensorRole.RecurrentKernel, Rand(h, gates * h), dir, config, h, input),
            Keras(layer, type, TensorRole.Bias, bias, dir, config, h, input),
        ];
    }

    /// <summary>Keras gate blocks z,r,h in PyTorch's order r,z,n (axis 0 of a [3h,...] tensor).</summary>
    public static Tensor ZrhToRzn(Tensor t)
    {
        var c = t.chunk(3, 0);
        return torch.cat([c[1], c[0], c[2]], 0);
    }

    /// <summary>The correct PyTorch form of a Keras layer: transpose, GRU gate reorder, bias into bias_ih (zeros in bias_hh) or, for reset_after, row 0 into bias_ih and row 1 into bias_hh.</summary>
    public static List<LstmTensor> ToTorch(IReadOnlyList<LstmTensor> keras, string module, int depth = 0, bool swapDirection = false)
    {
        var type = keras[0].LayerType;
        var dir = keras[0].Direction;
        if (swapDirection) dir = dir == Direction.Forward ? Direction.Backward : Direction.Forward;
        Func<Tensor, Tensor> order = type == LayerType.GRU ? ZrhToRzn : t => t;
        var k = keras.Single(t => t.Role == TensorRole.Kernel).Tensor;
        var u = keras.Single(t => t.Role == TensorRole.RecurrentKernel).Tensor;
        var b = keras.Single(t => t.Role == TensorRole.Bias).Tensor;
        var (bih, bhh) = b.dim() == 2 ? (b[0], b[1]) : (b, torch.zeros_like(b));
        return
        [
            Torch(module, "weight_ih", type, order(k.t()).contiguous(), depth, dir),
            Torch(module, "weight_hh", type, order(u.t()).contiguous(), depth, dir),
            Torch(module, "bias_ih", type, order(bih).contiguous(), depth, dir),
            Torch(module, "bias_hh", type, order(bhh).contiguous(), depth, dir),
        ];
    }

    /// <summary>A TF1 LSTMCell: kernel [in+h,4h] over concat(x,h), gates i,j,f,o, bias [4h].</summary>
    public List<LstmTensor> Tf1Lstm(string scope, int input, int h, double? forgetBias = null)
    {
        var config = new Dictionary<string, object?>();
        if (forgetBias is double fb) config[ConfigKeys.ForgetBias] = fb;
        return
        [
            LstmTensor.FromTensor(Rand(input + h, 4 * h), $"{scope}/lstm_cell/kernel", scope, LayerType.LSTM, TensorRole.FusedKernel,
                Layout.TensorFlow, gateOrder: GateOrder.IJFO, units: h, inputSize: input, config: config),
            LstmTensor.FromTensor(Rand(4 * h), $"{scope}/lstm_cell/bias", scope, LayerType.LSTM, TensorRole.Bias,
                Layout.TensorFlow, gateOrder: GateOrder.IJFO, units: h, inputSize: input, config: config),
        ];
    }

    /// <summary>PyTorch form of a TF1 LSTMCell: split the fused kernel, transpose, reorder i,j,f,o to i,f,g,o, and (when asked) fold forget_bias into the f bias.</summary>
    public static List<LstmTensor> Tf1ToTorch(IReadOnlyList<LstmTensor> tf, string module, int input, bool reorder = true, double foldForgetBias = 1.0)
    {
        var kernel = tf.Single(t => t.Role == TensorRole.FusedKernel).Tensor;
        var bias = tf.Single(t => t.Role == TensorRole.Bias).Tensor.clone();
        int h = (int)kernel.shape[1] / 4;
        bias[(2 * h)..(3 * h)] += (float)foldForgetBias;
        Func<Tensor, Tensor> order = t =>
        {
            if (!reorder) return t;
            var c = t.chunk(4, 0); // i, j, f, o
            return torch.cat([c[0], c[2], c[1], c[3]], 0);
        };
        return
        [
            Torch(module, "weight_ih", LayerType.LSTM, order(kernel[..input].t()).contiguous()),
            Torch(module, "weight_hh", LayerType.LSTM, order(kernel[input..].t()).contiguous()),
            Torch(module, "bias_ih", LayerType.LSTM, order(bias).contiguous()),
            Torch(module, "bias_hh", LayerType.LSTM, torch.zeros(4 * h)),
        ];
    }
}
