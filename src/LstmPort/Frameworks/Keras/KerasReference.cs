using TorchSharp;
using static TorchSharp.torch;
using static LstmPort.Conversion.LayerSettings;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// Keras layers written out from Keras's own equations (keras/layers/recurrent.py and the Keras 3
/// rnn layers), in float64 TorchSharp ops: inputs multiply from the right (<c>x @ kernel</c>),
/// LSTM gates i,f,c,o, GRU gates z,r,h with reset before (<c>reset_after=False</c>) or after the
/// recurrent matmul, CuDNN biases as an input half plus a recurrent half.
/// </summary>
public static class KerasReference
{
    /// <summary>
    /// Runs one layer (or one half of a Bidirectional) on <paramref name="x"/> [T,B,in] from zero
    /// state. The backward half of a Bidirectional and a <c>go_backwards</c> layer read the
    /// sequence reversed; their outputs are returned in input time order, as a Bidirectional
    /// merges them (for a plain go_backwards layer Keras returns them in reading order).
    /// </summary>
    public static (Tensor Output, Tensor? FinalH, Tensor? FinalC) Run(LayerGroup layer, Tensor x)
    {
        // In the check's precision: libtorch refuses to mix float32 and float64 operands.
        var r = RunLayer(layer, x.to_type(Precision));
        return (r.Output, r.FinalH, r.FinalC);
    }

    internal static LayerOutputs RunLayer(LayerGroup g, Tensor x)
    {
        if (g.LayerType == LayerType.Dense) return DenseFromRight(g, x);
        bool reversed = (g.Direction == Direction.Backward) ^ (Bool(g, ConfigKeys.GoBackwards) ?? false);
        var input = reversed ? x.flip(0) : x;
        var (outputs, h, c) = g.LayerType switch
        {
            LayerType.LSTM => Lstm(g, input),
            LayerType.GRU => Gru(g, input),
            LayerType.SimpleRNN => SimpleRnn(g, input),
            _ => throw new LstmPortException(ErrorIds.UnsupportedLayerType,
                $"{g.Describe()}: {g.LayerType} layers have no reference implementation.", g),
        };
        var seq = torch.stack(outputs, 0);
        return new LayerOutputs(reversed ? seq.flip(0) : seq, h, c);
    }

    /// <summary>Kernel [in,g*h], recurrent kernel [h,g*h]; returns h.</summary>
    static (Tensor K, Tensor U, int H) Matrices(LayerGroup g, int gates, long inputSize)
    {
        var k = g.Require(TensorRole.Kernel);
        var u = g.Require(TensorRole.RecurrentKernel);
        if (u.Shape.Length != 2 || u.Shape[1] != gates * u.Shape[0] || u.Shape[0] == 0)
            throw ShapeError(g, u, $"[h,{gates}*h] for a {g.LayerType}");
        int h = u.Shape[0];
        CheckShape(g, k, inputSize, gates * h);
        // CuDNN layers keep each gate's matrices in cuDNN's order (see CudnnKernels).
        if (Bool(g, ConfigKeys.Cudnn) == true)
            return (CudnnKernels.StandardKernel(Data(k), gates, h, (int)inputSize), CudnnKernels.StandardRecurrentKernel(Data(u), gates), h);
        return (Data(k), Data(u), h);
    }

    /// <summary>(input bias, recurrent bias) as [g*h] each; a single Keras bias is all input bias.</summary>
    static (Tensor Input, Tensor? Recurrent) Biases(LayerGroup g, int gates, int h, bool twoRows)
    {
        var b = g.Find(TensorRole.Bias);
        if (b is null) return (torch.zeros(gates * h, dtype: Precision), null);
        long n = gates * h;
        var data = Data(b);
        if (b.Shape is [var len] && len == n && !twoRows) return (data, null);
        if (b.Shape is [var len2] && len2 == 2 * n) return (data[..(int)n], data[(int)n..]);   // CuDNN: input half, recurrent half
        if (b.Shape is [2, var cols] && cols == n) return (data[0], data[1]);                 // GRU reset_after=True
        throw ShapeError(g, b, twoRows ? $"[2,{n}] or [{2 * n}] (reset_after=True)" : $"[{n}] or [{2 * n}] (CuDNN)");
    }

    static (List<Tensor>, Tensor, Tensor?) Lstm(LayerGroup g, Tensor x)
    {
        var (k, u, h) = Matrices(g, 4, x.shape[^1]);
        var (bi, br) = Biases(g, 4, h, twoRows: false);
        var bias = br is null ? bi : bi + br;
        bool cudnn = Bool(g, ConfigKeys.Cudnn) ?? false;
        var act = cudnn ? torch.tanh : Activation(g, ConfigKeys.Activation, "tanh");
        var rec = cudnn ? torch.sigmoid : Activation(g, ConfigKeys.RecurrentActivation, "sigmoid");

        var xw = MatMul(x, k) + bias;
        var state = torch.zeros(x.shape[1], h, dtype: Precision);
        var cell = torch.zeros(x.shape[1], h, dtype: Precision);
        var outputs = new List<Tensor>((int)x.shape[0]);
        for (long t = 0; t < x.shape[0]; t++)
        {
            var z = xw[t] + MatMul(state, u);
            var gates = z.chunk(4, -1);
            var i = rec(gates[0]);
            var f = rec(gates[1]);
            cell = f * cell + i * act(gates[2]);
            var o = rec(gates[3]);
            state = o * act(cell);
            outputs.Add(state);
        }
        return (outputs, state, cell);
    }

    static (List<Tensor>, Tensor, Tensor?) Gru(LayerGroup g, Tensor x)
    {
        var (k, u, h) = Matrices(g, 3, x.shape[^1]);
        var bias = g.Find(TensorRole.Bias);
        bool cudnn = Bool(g, ConfigKeys.Cudnn) ?? false;
        // reset_after as configured, else as the bias shape says ([2,3h] or CuDNN's [6h]: after).
        bool resetAfter = cudnn || (Bool(g, ConfigKeys.ResetAfter) ?? (bias is { Shape.Length: 2 } || bias?.Shape[0] == 6 * h));
        var (bi, br) = Biases(g, 3, h, twoRows: resetAfter);
        var act = cudnn ? torch.tanh : Activation(g, ConfigKeys.Activation, "tanh");
        var rec = cudnn ? torch.sigmoid : Activation(g, ConfigKeys.RecurrentActivation, "sigmoid");
        if (!resetAfter && br is not null)
            throw ShapeError(g, bias!, $"[{3 * h}] for reset_after=False");

        var xw = MatMul(x, k) + bi;
        var uzr = u[.., ..(2 * h)];
        var uh = u[.., (2 * h)..];
        var state = torch.zeros(x.shape[1], h, dtype: Precision);
        var outputs = new List<Tensor>((int)x.shape[0]);
        for (long t = 0; t < x.shape[0]; t++)
        {
            var xg = xw[t].chunk(3, -1);
            Tensor z, r, candidate;
            if (resetAfter)
            {
                var inner = MatMul(state, u);
                if (br is not null) inner = inner + br;
                var ig = inner.chunk(3, -1);
                z = rec(xg[0] + ig[0]);
                r = rec(xg[1] + ig[1]);
                candidate = act(xg[2] + r * ig[2]);
            }
            else
            {
                var zr = MatMul(state, uzr).chunk(2, -1);
                z = rec(xg[0] + zr[0]);
                r = rec(xg[1] + zr[1]);
                candidate = act(xg[2] + MatMul(r * state, uh));
            }
            state = z * state + (1 - z) * candidate;
            outputs.Add(state);
        }
        return (outputs, state, null);
    }

    static (List<Tensor>, Tensor, Tensor?) SimpleRnn(LayerGroup g, Tensor x)
    {
        var (k, u, h) = Matrices(g, 1, x.shape[^1]);
        var (bi, _) = Biases(g, 1, h, twoRows: false);
        var act = Activation(g, ConfigKeys.Activation, "tanh");
        var xw = MatMul(x, k) + bi;
        var state = torch.zeros(x.shape[1], h, dtype: Precision);
        var outputs = new List<Tensor>((int)x.shape[0]);
        for (long t = 0; t < x.shape[0]; t++)
        {
            state = act(xw[t] + MatMul(state, u));
            outputs.Add(state);
        }
        return (outputs, state, null);
    }
}
