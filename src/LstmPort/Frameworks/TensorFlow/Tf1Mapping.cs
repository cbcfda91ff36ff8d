using System.Globalization;
using static TorchSharp.torch;
using LstmPort.Conversion;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>
/// TF1 cells to the canonical form, for one layer, depth and direction.
/// <list type="bullet">
/// <item>LSTMCell / BasicLSTMCell / LSTMBlockCell / LSTMBlockFusedCell: the fused kernel
/// <c>[in+h,4h]</c> (<c>[in+p,4h]</c> with num_proj p) splits into the input rows and the recurrent
/// rows, both transposed; gates i,j,f,o become i,f,g,o; forget_bias (added at run time in TF1:
/// <c>sigmoid(f + forget_bias)</c>, in no file) is folded into the forget-gate part of the input bias;
/// the projection <c>[h,p]</c> becomes weight_hr <c>[p,h]</c>; peepholes and cell_clip stay as they
/// are, for the target to refuse or (with -Force) drop.</item>
/// <item>GRUCell: <c>r,u = sigmoid([x,h]·gates + b)</c>, <c>c = tanh([x, r*h]·candidate + b)</c>,
/// <c>h' = u*h + (1-u)*c</c>: a GRU that resets before the recurrent matmul (Keras reset_after=False)
/// with z = u. CudnnCompatibleGRUCell: <c>c = tanh(x·Wi + bi + r*(h·Wh + bh))</c>, which resets after
/// it (PyTorch's GRU): its input projection joins the gates' input rows, its hidden projection the
/// recurrent rows, and its hidden bias is the new gate's recurrent bias.</item>
/// <item>BasicRNNCell: <c>tanh([x,h]·W + b)</c>.</item>
/// <item>tf.contrib.cudnn_rnn's opaque buffer, split by the reader (<see cref="CudnnParams"/>): already
/// the canonical form (input and recurrent matrices from the left, both biases, PyTorch's gate order).</item>
/// <item>tf.layers.dense / fully_connected: a kernel <c>[in,units]</c> multiplying from the right, as Keras's.</item>
/// </list>
/// Each cell's scope names it (<c>rnn/multi_rnn_cell/cell_1</c>), so each is its own layer at depth 0;
/// the layers of one cuDNN buffer share its scope and keep their depths.
/// </summary>
internal sealed class Tf1Mapping : IToCanonical
{
    public Layout Layout => Layout.TensorFlow;

    public CanonicalLayer ToCanonical(LayerGroup g, ConversionOptions options) => g.LayerType switch
    {
        LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN when g.Flag(ConfigKeys.Cudnn) => Cudnn(g),
        LayerType.LSTM => Lstm(g, options),
        LayerType.GRU => Gru(g),
        LayerType.SimpleRNN => SimpleRnn(g),
        _ => PlainLayers.FromRight(g),
    };

    /// <summary>One layer and direction of a cuDNN buffer: its parts are the canonical ones already.</summary>
    static CanonicalLayer Cudnn(LayerGroup g)
    {
        int gates = Gates.Count(g.LayerType), h = g.Units, input = g.InputSize;
        var w = g.Require(TensorRole.Kernel);
        var r = g.Require(TensorRole.RecurrentKernel);
        g.CheckShape(w, gates * h, input);
        g.CheckShape(r, gates * h, h);
        var bi = g.Find(TensorRole.InputBias);
        var bh = g.Find(TensorRole.RecurrentBias);
        if (bi is not null) g.CheckShape(bi, gates * h);
        if (bh is not null) g.CheckShape(bh, gates * h);
        var from = g.GateOrder == GateOrder.None ? Gates.Canonical(g.LayerType) : g.GateOrder;
        var to = Gates.Canonical(g.LayerType);
        CanonicalTensor Ordered(LstmTensor t, int[] shape) => CanonicalTensor.Of(t).Map(shape, x => Gates.SameOrder(from, to) ? x : Gates.Reorder(x, 0, from, to).contiguous());
        var settings = new Dictionary<string, object?>(g.Config, StringComparer.OrdinalIgnoreCase)
        {
            [ConfigKeys.GoBackwards] = false,
            [ConfigKeys.ReturnSequences] = true,
        };
        settings.Remove(ConfigKeys.Cudnn);
        if (g.LayerType == LayerType.GRU) settings[ConfigKeys.ResetAfter] = true;
        var c = new CanonicalLayer(g, g.LayerType, h, input, settings)
        {
            WeightIh = Ordered(w, [gates * h, input]),
            WeightHh = Ordered(r, [gates * h, h]),
            BiasIh = bi is null ? null : Ordered(bi, [gates * h]),
            BiasHh = bh is null ? null : Ordered(bh, [gates * h]),
            SourceOrder = from,
            SourceFromRight = false,
        };
        c.Steps.Add("cuDNN buffer split into layers");
        return c;
    }

    static readonly GateOrder Order = Gates.Tf1Order(LayerType.LSTM), Canonical = Gates.Canonical(LayerType.LSTM);

    static CanonicalLayer Lstm(LayerGroup g, ConversionOptions options)
    {
        var fused = g.Require(TensorRole.FusedKernel);
        var bias = g.Find(TensorRole.Bias);
        var projection = g.Find(TensorRole.ProjectionKernel);
        if (projection is null && g.Config.TryGetValue(ConfigKeys.NumProj, out var numProj))
            throw new LstmPortException(ErrorIds.MissingTensor,
                $"{g.Describe()}: the cell has num_proj {numProj} but no projection kernel among {string.Join(", ", g.Tensors.Select(t => t.Name))}.", g.Layer);
        int h = g.Units, input = g.InputSize;
        int recurrentIn = h;
        if (projection is not null)
        {
            recurrentIn = projection.Shape is [_, var p] ? p : 0;
            CheckRows(g, projection, h, recurrentIn);
        }
        CheckRows(g, fused, input + recurrentIn, 4 * h);
        if (bias is not null) g.CheckShape(bias, 4 * h);
        double forgetBias = options.ForgetBias ?? (g.Config.TryGetValue(ConfigKeys.ForgetBias, out var fb) && fb is not null
            ? System.Convert.ToDouble(fb, CultureInfo.InvariantCulture) : Tf1Scopes.DefaultForgetBias);

        var settings = Settings(g, (ConfigKeys.RecurrentActivation, "sigmoid"), (ConfigKeys.ForgetBias, forgetBias));
        if (options.ForgetBias is not null && settings.TryGetValue(ConfigKeys.Inferred, out var inferred) && inferred is string[] keys)
            settings[ConfigKeys.Inferred] = keys.Where(k => k != ConfigKeys.ForgetBias).ToArray();
        var kernel = CanonicalTensor.Of(fused);
        var c = new CanonicalLayer(g, LayerType.LSTM, h, input, settings)
        {
            Depth = 0,
            WeightIh = kernel.Map([4 * h, input], k => Gates.Reorder(TensorMemory.Transposed(k.narrow(0, 0, input)), 0, Order, Canonical).contiguous()),
            WeightHh = kernel.Map([4 * h, recurrentIn], k => Gates.Reorder(TensorMemory.Transposed(k.narrow(0, input, recurrentIn)), 0, Order, Canonical).contiguous()),
            BiasIh = CanonicalTensor.Make([4 * h], bias?.DType ?? fused.DType, fused.Source, () =>
            {
                using var lease = bias?.Borrow();
                var b = lease is { } l ? Gates.Reorder(l.Tensor, 0, Order, Canonical).clone() : zeros(4 * h, DTypes.Parse(fused.DType));
                // TF1 adds forget_bias inside the sigmoid at run time; the canonical form keeps it in the bias.
                using (var f = b.narrow(0, h, h)) f.add_(forgetBias);
                return b;
            }),
            Projection = projection is null ? null : CanonicalTensor.Of(projection).Map([recurrentIn, h], TensorMemory.Transposed),
            Peepholes = Peepholes(g, h),
            SourceOrder = Order,
            SourceFromRight = true,
        };
        c.Steps.Add("fused kernel split into input and recurrent rows");
        c.Steps.Add($"forget_bias {forgetBias.ToString(CultureInfo.InvariantCulture)} folded into the forget-gate bias");
        return c;
    }

    /// <summary>w_i_diag, w_f_diag, w_o_diag (found by name) as one [3h] tensor in the canonical order i, f, o; a missing one is zeros.</summary>
    static CanonicalTensor? Peepholes(LayerGroup g, int h)
    {
        var all = g.All(TensorRole.Peephole);
        if (all.Count == 0) return null;
        LstmTensor? Diag(string gate) => all.FirstOrDefault(t => t.Name.Split('/')[^1].Split(':')[0] == $"w_{gate}_diag");
        var parts = new[] { Diag("i"), Diag("f"), Diag("o") };
        foreach (var p in parts) if (p is not null) g.CheckShape(p, h);
        var dtype = all[0].DType;
        return CanonicalTensor.Make([3 * h], dtype, all[0].Source, () =>
        {
            var leases = parts.Select(p => p?.Borrow()).ToList();
            try { return cat(leases.Select(l => l is not { } lease ? zeros(h, DTypes.Parse(dtype)) : lease.Tensor.to_type(DTypes.Parse(dtype))).ToList(), 0); }
            finally { foreach (var l in leases) l?.Dispose(); }
        });
    }

    static CanonicalLayer Gru(LayerGroup g)
    {
        var gates = g.Require(TensorRole.FusedKernel);
        var candidate = g.Require(TensorRole.CandidateKernel);
        var gatesBias = g.Find(TensorRole.Bias);
        var candidateBias = g.Find(TensorRole.CandidateBias);
        var hidden = g.Find(TensorRole.RecurrentKernel);
        var hiddenBias = g.Find(TensorRole.RecurrentBias);
        int h = g.Units, input = g.InputSize;
        CheckRows(g, gates, input + h, 2 * h);
        if (hidden is null) CheckRows(g, candidate, input + h, h);
        else
        {
            // CudnnCompatibleGRUCell: candidate/input_projection [in,h], candidate/hidden_projection [h,h].
            CheckRows(g, candidate, input, h);
            CheckRows(g, hidden, h, h);
            if (hiddenBias is not null) g.CheckShape(hiddenBias, h);
        }
        if (gatesBias is not null) g.CheckShape(gatesBias, 2 * h);
        if (candidateBias is not null) g.CheckShape(candidateBias, h);
        var dtype = DTypes.Parse(gates.DType);
        CanonicalTensor Zeros(int n) => CanonicalTensor.Make([n], gates.DType, gates.Source, () => zeros(n, dtype));
        // The gates' columns are r | u, which are the canonical r | z; the candidate is n.
        CanonicalTensor Rows(LstmTensor newGate, int start, int count, int newStart) =>
            CanonicalTensor.Combine(CanonicalTensor.Of(gates), CanonicalTensor.Of(newGate), [3 * h, count],
                (gk, ck) => TensorMemory.Transposed(cat([gk.narrow(0, start, count), ck.narrow(0, newStart, count)], 1)));
        var gb = gatesBias is null ? Zeros(2 * h) : CanonicalTensor.Of(gatesBias);
        var cb = candidateBias is null ? Zeros(h) : CanonicalTensor.Of(candidateBias);
        bool resetAfter = hidden is not null;
        var c = new CanonicalLayer(g, LayerType.GRU, h, input, Settings(g, (ConfigKeys.RecurrentActivation, "sigmoid"), (ConfigKeys.ResetAfter, resetAfter)))
        {
            Depth = 0,
            WeightIh = Rows(candidate, 0, input, 0),
            WeightHh = resetAfter ? Rows(hidden!, input, h, 0) : Rows(candidate, input, h, input),
            BiasIh = CanonicalTensor.Combine(gb, cb, [3 * h], (x, y) => cat([x, y], 0)),
            // cuDNN's recurrent new-gate bias sits inside r*(...): it is the canonical b_hn, never summable into b_in.
            BiasHh = hiddenBias is null ? null : CanonicalTensor.Combine(Zeros(2 * h), CanonicalTensor.Of(hiddenBias), [3 * h], (x, y) => cat([x, y], 0)),
            SourceOrder = Gates.Tf1Order(LayerType.GRU),
            SourceFromRight = true,
        };
        c.Steps.Add(resetAfter ? "gates kernel and input/hidden projections split into input and recurrent rows"
            : "gates and candidate kernels split into input and recurrent rows");
        return c;
    }

    static CanonicalLayer SimpleRnn(LayerGroup g)
    {
        var fused = g.Require(TensorRole.FusedKernel);
        var bias = g.Find(TensorRole.Bias);
        int h = g.Units, input = g.InputSize;
        CheckRows(g, fused, input + h, h);
        if (bias is not null) g.CheckShape(bias, h);
        var kernel = CanonicalTensor.Of(fused);
        var c = new CanonicalLayer(g, LayerType.SimpleRNN, h, input, Settings(g))
        {
            Depth = 0,
            WeightIh = kernel.Map([h, input], k => TensorMemory.Transposed(k.narrow(0, 0, input))),
            WeightHh = kernel.Map([h, h], k => TensorMemory.Transposed(k.narrow(0, input, h))),
            BiasIh = bias is null ? null : CanonicalTensor.Of(bias),
            SourceFromRight = true,
        };
        c.Steps.Add("fused kernel split into input and recurrent rows");
        return c;
    }

    /// <summary>
    /// The cell's settings in <see cref="ConfigKeys"/> spellings: what the graph recorded, the
    /// activation (tanh unless recorded), and what every TF1 cell does: it runs forward (a bw cell
    /// is the backward half of a bidirectional pair, which Direction says) and returns every step.
    /// </summary>
    static Dictionary<string, object?> Settings(LayerGroup g, params (string Key, object? Value)[] extra)
    {
        var settings = new Dictionary<string, object?>(g.Config, StringComparer.OrdinalIgnoreCase)
        {
            [ConfigKeys.Activation] = g.Text(ConfigKeys.Activation) ?? "tanh",
            [ConfigKeys.GoBackwards] = false,
            [ConfigKeys.ReturnSequences] = true,
        };
        foreach (var (key, value) in extra) settings[key] = value;
        return settings;
    }

    static void CheckRows(LayerGroup g, LstmTensor t, int rows, int cols)
    {
        if (t.Shape.Length != 2 || t.Shape[0] != rows || t.Shape[1] != cols)
            throw new LstmPortException(ErrorIds.LayerShapeMismatch,
                $"{g.Describe()}: '{t.Name}' is [{string.Join(",", t.Shape)}], expected [{rows},{cols}] for input {g.InputSize} and {g.Units} units.", g.Layer);
    }
}
