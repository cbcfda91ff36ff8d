using TorchSharp;
using static TorchSharp.torch;
using static LstmPort.Conversion.LayerSettings;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>
/// TF1 cells from tensorflow/python/ops/rnn_cell_impl.py, in float64 TorchSharp ops. LSTMCell /
/// BasicLSTMCell: one kernel over concat(x, h), gates i,j,f,o, <c>sigmoid(f + forget_bias)</c>
/// (forget_bias is a run-time setting, default 1.0), optional peepholes, cell_clip and projection.
/// GRUCell: gates r,u over concat(x, h); candidate over concat(x, r*h); <c>h = u*h + (1-u)*c</c>.
/// CudnnCompatibleGRUCell (tensorflow/contrib/cudnn_rnn/python/ops/cudnn_rnn_ops.py): candidate
/// <c>tanh(x·Wi + bi + r*(h·Wh + bh))</c>. BasicRNNCell: <c>h = act(concat(x, h) @ kernel + bias)</c>.
/// tf.contrib.cudnn_rnn's opaque layers compute cuDNN's equations (its user guide, as that file quotes
/// them): per gate <c>W x + bW + R h + bR</c>, LSTM gates i,f,c,o without forget_bias, GRU
/// <c>h' = tanh(W_h x + bW_h + r*(R_h h + bR_h))</c>, <c>h = (1-u)*h' + u*h</c>.
/// </summary>
public static class Tf1Reference
{
    public static (Tensor Output, Tensor? FinalH, Tensor? FinalC) Run(LayerGroup layer, Tensor x)
    {
        // In the check's precision: libtorch refuses to mix float32 and float64 operands.
        var r = RunLayer(layer, x.to_type(Precision));
        return (r.Output, r.FinalH, r.FinalC);
    }

    internal static LayerOutputs RunLayer(LayerGroup g, Tensor x)
    {
        // A TF1 bidirectional_dynamic_rnn's backward cell reads the reversed sequence and its outputs are reversed back.
        bool reversed = g.Direction == Direction.Backward;
        var input = reversed ? x.flip(0) : x;
        var (outputs, h, c) = g.LayerType switch
        {
            LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN when g.Flag(ConfigKeys.Cudnn) => Cudnn(g, input),
            LayerType.LSTM => Lstm(g, input),
            LayerType.GRU => Gru(g, input),
            LayerType.SimpleRNN => BasicRnn(g, input),
            _ => throw new LstmPortException(ErrorIds.UnsupportedLayerType,
                $"{g.Describe()}: TF1 {g.LayerType} cells have no reference implementation.", g),
        };
        var seq = torch.stack(outputs, 0);
        return new LayerOutputs(reversed ? seq.flip(0) : seq, h, c);
    }

    static LstmTensor Peephole(LayerGroup g, string gate) =>
        g.All(TensorRole.Peephole).FirstOrDefault(t => t.Name.Contains($"w_{gate}_diag", StringComparison.OrdinalIgnoreCase))
        ?? throw new LstmPortException(ErrorIds.MissingTensor,
            $"{g.Describe()}: uses peepholes but has no w_{gate}_diag tensor.", g);

    static (List<Tensor>, Tensor, Tensor?) Lstm(LayerGroup g, Tensor x)
    {
        long inputSize = x.shape[^1];
        var kernel = g.Require(TensorRole.FusedKernel);
        if (kernel.Shape.Length != 2 || kernel.Shape[1] % 4 != 0 || kernel.Shape[1] == 0)
            throw ShapeError(g, kernel, "[in+h,4h]");
        int h = kernel.Shape[1] / 4;
        var projection = g.Find(TensorRole.ProjectionKernel);
        int stateSize = h;
        if (projection is not null)
        {
            if (projection.Shape.Length != 2 || projection.Shape[0] != h) throw ShapeError(g, projection, $"[{h},num_proj]");
            stateSize = projection.Shape[1];
        }
        CheckShape(g, kernel, inputSize + stateSize, 4 * h);
        var bias = g.Find(TensorRole.Bias);
        if (bias is not null) CheckShape(g, bias, 4 * h);

        bool peepholes = Bool(g, ConfigKeys.UsePeepholes) ?? g.All(TensorRole.Peephole).Count > 0;
        Tensor? wi = null, wf = null, wo = null;
        if (peepholes)
        {
            var (pi, pf, po) = (Peephole(g, "i"), Peephole(g, "f"), Peephole(g, "o"));
            foreach (var p in new[] { pi, pf, po }) CheckShape(g, p, h);
            (wi, wf, wo) = (Data(pi), Data(pf), Data(po));
        }
        float forgetBias = (float)(Double(g, ConfigKeys.ForgetBias) ?? 1.0);
        double? cellClip = Double(g, ConfigKeys.CellClip);
        var act = Activation(g, ConfigKeys.Activation, "tanh");

        var wx = Data(kernel)[..(int)inputSize];
        var wh = Data(kernel)[(int)inputSize..];
        var xw = MatMul(x, wx);
        if (bias is not null) xw = xw + Data(bias);
        var proj = projection is null ? null : Data(projection);
        var m = torch.zeros(x.shape[1], stateSize, dtype: Precision);
        var c = torch.zeros(x.shape[1], h, dtype: Precision);
        var outputs = new List<Tensor>((int)x.shape[0]);
        for (long t = 0; t < x.shape[0]; t++)
        {
            var gates = (xw[t] + MatMul(m, wh)).chunk(4, -1); // i, j, f, o
            var (i, j, f, o) = (gates[0], gates[1], gates[2], gates[3]);
            if (peepholes)
                c = torch.sigmoid(f + forgetBias + wf! * c) * c + torch.sigmoid(i + wi! * c) * act(j);
            else
                c = torch.sigmoid(f + forgetBias) * c + torch.sigmoid(i) * act(j);
            if (cellClip is double clip && clip > 0) c = c.clamp(-clip, clip);
            m = (peepholes ? torch.sigmoid(o + wo! * c) : torch.sigmoid(o)) * act(c);
            if (proj is not null) m = MatMul(m, proj);
            outputs.Add(m);
        }
        return (outputs, m, c);
    }

    /// <summary>A GRUCell's gates kernel [in+h,2h] and candidate kernel (by role; by name or width when both are FusedKernel).</summary>
    static (LstmTensor Gates, LstmTensor Candidate) GruKernels(LayerGroup g)
    {
        var kernels = g.All(TensorRole.FusedKernel);
        var candidate = g.Find(TensorRole.CandidateKernel) ?? kernels.FirstOrDefault(k => k.Name.Contains("candidate", StringComparison.OrdinalIgnoreCase));
        var gatesKernel = kernels.FirstOrDefault(k => k != candidate && (kernels.Count == 1 || k.Name.Contains("gates", StringComparison.OrdinalIgnoreCase)));
        // Without roles or scope names, tell them apart by width: gates [in+h,2h], candidate [in+h,h].
        if (kernels.Count == 2 && (candidate is null || gatesKernel is null))
            (gatesKernel, candidate) = kernels[0].Shape.ElementAtOrDefault(1) > kernels[1].Shape.ElementAtOrDefault(1)
                ? (kernels[0], kernels[1]) : (kernels[1], kernels[0]);
        if (gatesKernel is null || candidate is null)
            throw new LstmPortException(ErrorIds.MissingTensor,
                $"{g.Describe()}: a TF1 GRUCell needs gates/kernel and candidate/kernel; found {string.Join(", ", g.Tensors.Select(k => k.Name))}.", g);
        return (gatesKernel, candidate);
    }

    static (List<Tensor>, Tensor, Tensor?) Gru(LayerGroup g, Tensor x)
    {
        long inputSize = x.shape[^1];
        var (gatesKernel, candidate) = GruKernels(g);
        var hidden = g.Find(TensorRole.RecurrentKernel);
        if (candidate.Shape.Length != 2 || candidate.Shape[1] == 0) throw ShapeError(g, candidate, hidden is null ? "[in+h,h]" : "[in,h]");
        int h = candidate.Shape[1];
        CheckShape(g, candidate, hidden is null ? inputSize + h : inputSize, h);
        CheckShape(g, gatesKernel, inputSize + h, 2 * h);
        if (hidden is not null) CheckShape(g, hidden, h, h);
        Tensor gatesBias = torch.zeros(2 * h, dtype: Precision), candidateBias = torch.zeros(h, dtype: Precision), hiddenBias = torch.zeros(h, dtype: Precision);
        foreach (var b in g.All(TensorRole.Bias).Concat(g.All(TensorRole.CandidateBias)))
        {
            if (b.Shape is [var n] && n == 2 * h) gatesBias = Data(b);
            else if (b.Shape is [var n1] && n1 == h) candidateBias = Data(b);
            else throw ShapeError(g, b, $"[{2 * h}] (gates) or [{h}] (candidate)");
        }
        if (g.Find(TensorRole.RecurrentBias) is { } rb) { CheckShape(g, rb, h); hiddenBias = Data(rb); }
        var act = Activation(g, ConfigKeys.Activation, "tanh");

        var gk = Data(gatesKernel);
        var ck = Data(candidate);
        var (gx, gh) = (gk[..(int)inputSize], gk[(int)inputSize..]);
        var xg = MatMul(x, gx) + gatesBias;
        var state = torch.zeros(x.shape[1], h, dtype: Precision);
        var outputs = new List<Tensor>((int)x.shape[0]);
        if (hidden is null)
        {
            // GRUCell: the reset gate scales h before the candidate's recurrent matmul.
            var (cx, ch) = (ck[..(int)inputSize], ck[(int)inputSize..]);
            var xc = MatMul(x, cx) + candidateBias;
            for (long t = 0; t < x.shape[0]; t++)
            {
                var ru = torch.sigmoid(xg[t] + MatMul(state, gh)).chunk(2, -1);
                var (r, u) = (ru[0], ru[1]);
                var c = act(xc[t] + MatMul(r * state, ch));
                state = u * state + (1 - u) * c;
                outputs.Add(state);
            }
        }
        else
        {
            // CudnnCompatibleGRUCell: the reset gate scales the hidden projection after its matmul and bias.
            var xc = MatMul(x, ck) + candidateBias;
            var wh = Data(hidden);
            for (long t = 0; t < x.shape[0]; t++)
            {
                var ru = torch.sigmoid(xg[t] + MatMul(state, gh)).chunk(2, -1);
                var (r, u) = (ru[0], ru[1]);
                var c = act(xc[t] + r * (MatMul(state, wh) + hiddenBias));
                state = u * state + (1 - u) * c;
                outputs.Add(state);
            }
        }
        return (outputs, state, null);
    }

    /// <summary>A layer of a cuDNN buffer: W [G*h,in] and R [G*h,h] from the left, both biases, gates in cuDNN's order.</summary>
    static (List<Tensor>, Tensor, Tensor?) Cudnn(LayerGroup g, Tensor x)
    {
        int gates = Gates.Count(g.LayerType);
        long inputSize = x.shape[^1];
        var w = g.Require(TensorRole.Kernel);
        var r = g.Require(TensorRole.RecurrentKernel);
        if (w.Shape.Length != 2 || w.Shape[0] % gates != 0 || w.Shape[0] == 0) throw ShapeError(g, w, $"[{gates}*h,in]");
        int h = w.Shape[0] / gates;
        CheckShape(g, w, gates * h, inputSize);
        CheckShape(g, r, gates * h, h);
        Tensor Bias(TensorRole role)
        {
            if (g.Find(role) is not { } b) return torch.zeros(gates * h, dtype: Precision);
            CheckShape(g, b, gates * h);
            return Data(b);
        }
        var (bw, br) = (Bias(TensorRole.InputBias), Bias(TensorRole.RecurrentBias));
        // cuDNN's order is i,f,c,o (LSTM) and r,u,h (GRU); a reordered layer says so in its GateOrder.
        var order = g.GateOrder == GateOrder.None ? Gates.Canonical(g.LayerType) : g.GateOrder;
        Tensor InCudnnOrder(Tensor t) => Gates.SameOrder(order, Gates.Canonical(g.LayerType)) ? t : Gates.Reorder(t, 0, order, Gates.Canonical(g.LayerType));
        var wt = InCudnnOrder(Data(w)).t();
        var rt = InCudnnOrder(Data(r)).t();
        (bw, br) = (InCudnnOrder(bw), InCudnnOrder(br));
        var act = Activation(g, ConfigKeys.Activation, "tanh");
        var xw = MatMul(x, wt) + bw;
        var state = torch.zeros(x.shape[1], h, dtype: Precision);
        var cell = torch.zeros(x.shape[1], h, dtype: Precision);
        var outputs = new List<Tensor>((int)x.shape[0]);
        for (long t = 0; t < x.shape[0]; t++)
        {
            var hr = MatMul(state, rt) + br;
            if (g.LayerType == LayerType.LSTM)
            {
                var z = (xw[t] + hr).chunk(4, -1); // i, f, c, o
                cell = torch.sigmoid(z[1]) * cell + torch.sigmoid(z[0]) * act(z[2]);
                state = torch.sigmoid(z[3]) * act(cell);
            }
            else if (g.LayerType == LayerType.GRU)
            {
                var xi = xw[t].chunk(3, -1); var hh = hr.chunk(3, -1); // r, u, h
                var reset = torch.sigmoid(xi[0] + hh[0]);
                var update = torch.sigmoid(xi[1] + hh[1]);
                var candidate = act(xi[2] + reset * hh[2]);
                state = (1 - update) * candidate + update * state;
            }
            else state = act(xw[t] + hr);
            outputs.Add(state);
        }
        return (outputs, state, g.LayerType == LayerType.LSTM ? cell : null);
    }

    static (List<Tensor>, Tensor, Tensor?) BasicRnn(LayerGroup g, Tensor x)
    {
        long inputSize = x.shape[^1];
        var kernel = g.Require(TensorRole.FusedKernel);
        if (kernel.Shape.Length != 2 || kernel.Shape[1] == 0) throw ShapeError(g, kernel, "[in+h,h]");
        int h = kernel.Shape[1];
        CheckShape(g, kernel, inputSize + h, h);
        var bias = g.Find(TensorRole.Bias);
        if (bias is not null) CheckShape(g, bias, h);
        var act = Activation(g, ConfigKeys.Activation, "tanh");
        var k = Data(kernel);
        var xw = MatMul(x, k[..(int)inputSize]);
        if (bias is not null) xw = xw + Data(bias);
        var wh = k[(int)inputSize..];
        var state = torch.zeros(x.shape[1], h, dtype: Precision);
        var outputs = new List<Tensor>((int)x.shape[0]);
        for (long t = 0; t < x.shape[0]; t++)
        {
            state = act(xw[t] + MatMul(state, wh));
            outputs.Add(state);
        }
        return (outputs, state, null);
    }
}
