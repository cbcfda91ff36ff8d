using static TorchSharp.torch;

namespace LstmPort.Conversion;

/// <summary>
/// Moves bias between a layer's input and recurrent halves without changing what it computes:
/// an LSTM or plain RNN only ever uses bias_ih + bias_hh. A GRU's recurrent new-gate bias sits
/// inside r*(W_hn h + b_hn), so only its reset and update parts may move.
/// </summary>
public static class BiasTools
{
    /// <summary>bias_ih = ratio * sum, bias_hh = (1 - ratio) * sum, for every PyTorch-layout layer.</summary>
    public static ConversionResult Split(IEnumerable<LstmTensor> input, double ratio)
    {
        if (double.IsNaN(ratio) || ratio < 0 || ratio > 1)
            throw new LstmPortException(ErrorIds.InvalidRatio, $"-Ratio must be between 0 and 1; got {ratio}.", ratio);
        return Rewrite(input, (g, bih, bhh, result) =>
        {
            var total = bih + bhh;
            var (movable, fixedIh, fixedHh) = Parts(g, bih, bhh);
            var newIh = total * ratio;
            var newHh = total - newIh;
            if (fixedIh is not null)
            {
                // GRU: the new-gate parts (last third in r,z,n order) stay where they are.
                newIh = cat([newIh.narrow(0, 0, movable), fixedIh]);
                newHh = cat([newHh.narrow(0, 0, movable), fixedHh!]);
            }
            result.Log.Add($"{g.Describe()}: bias split {ratio:0.###}/{1 - ratio:0.###} between bias_ih and bias_hh{(fixedIh is null ? "" : " (GRU new-gate parts unchanged)")}");
            return (newIh, newHh);
        });
    }

    /// <summary>
    /// Everything into bias_ih, zeros in bias_hh; a CuDNN [8h]/[6h] bias becomes one [4h]/[3h] bias.
    /// A GRU only when its recurrent new-gate bias is zero.
    /// </summary>
    public static ConversionResult Merge(IEnumerable<LstmTensor> input) => Rewrite(input,
        (g, bih, bhh, result) =>
        {
            CheckGruNewGate(g, bih, bhh);
            result.Log.Add($"{g.Describe()}: bias_ih = bias_ih + bias_hh, bias_hh = 0");
            return (bih + bhh, zeros_like(bhh));
        },
        (g, bias, result) =>
        {
            var halves = bias.reshape(2, -1);
            CheckGruNewGate(g, halves[0], halves[1]);
            result.Log.Add($"{g.Describe()}: CuDNN bias halves summed ([{bias.shape[0]}] → [{halves.shape[1]}])");
            return halves[0] + halves[1];
        });

    static void CheckGruNewGate(LayerGroup g, Tensor bih, Tensor bhh)
    {
        var (_, _, fixedHh) = Parts(g, bih, bhh);
        if (fixedHh is not null && fixedHh.abs().max().item<float>() != 0)
            throw new LstmPortException(ErrorIds.CannotMergeGruBias,
                $"{g.Describe()}: the GRU's recurrent new-gate bias (b_hn) is not zero; it sits inside r*(W_hn h + b_hn) and cannot be merged into bias_ih exactly.", g.Layer);
    }

    // In both r,z,n (PyTorch) and z,r,h (Keras, CuDNN) order the new gate is the last third.
    static (long Movable, Tensor? FixedIh, Tensor? FixedHh) Parts(LayerGroup g, Tensor bih, Tensor bhh)
    {
        if (g.LayerType != LayerType.GRU) return (bih.shape[0], null, null);
        long n = bih.shape[0] / 3 * 2;
        return (n, bih.narrow(0, n, bih.shape[0] - n), bhh.narrow(0, n, bhh.shape[0] - n));
    }

    delegate (Tensor Ih, Tensor Hh) Rewriter(LayerGroup g, Tensor bih, Tensor bhh, ConversionResult result);

    delegate Tensor CudnnRewriter(LayerGroup g, Tensor bias, ConversionResult result);

    /// <summary>
    /// Applies a rewrite to the paired biases of each PyTorch-layout recurrent layer (and, when given,
    /// to the two-halves bias of each Keras CuDNN layer); every other tensor passes through.
    /// </summary>
    static ConversionResult Rewrite(IEnumerable<LstmTensor> input, Rewriter rewrite, CudnnRewriter? cudnn = null)
    {
        var result = new ConversionResult();
        foreach (var g in LayerGroup.Group(input))
        {
            var ih = g.Find(TensorRole.InputBias);
            var hh = g.Find(TensorRole.RecurrentBias);
            var single = g.Find(TensorRole.Bias);
            if (cudnn is not null && g.IsRecurrent && g.Flag(ConfigKeys.Cudnn) && single is not null
                && single.ElementCount == 2L * Gates.Count(g.LayerType) * g.Units)
            {
                try
                {
                    var merged = cudnn(g, single.Tensor, result);
                    result.Tensors.AddRange(g.Tensors.Select(t => t == single ? Replace(t, merged) : t));
                }
                catch (LstmPortException e)
                {
                    result.Refused.Add((g.Layer, e.ErrorId, e.Message));
                    result.Tensors.AddRange(g.Tensors);
                }
                continue;
            }
            if (!g.IsRecurrent || ih is null || hh is null)
            {
                result.Tensors.AddRange(g.Tensors);
                continue;
            }
            (Tensor Ih, Tensor Hh) biases;
            try
            {
                if (!ih.Shape.SequenceEqual(hh.Shape))
                    throw new LstmPortException(ErrorIds.ShapeMismatch,
                        $"{g.Describe()}: bias_ih [{string.Join(",", ih.Shape)}] and bias_hh [{string.Join(",", hh.Shape)}] differ.", g.Layer);
                biases = rewrite(g, ih.Tensor, hh.Tensor, result);
            }
            catch (LstmPortException e)
            {
                result.Refused.Add((g.Layer, e.ErrorId, e.Message));
                result.Tensors.AddRange(g.Tensors); // passed on unchanged, with the error
                continue;
            }
            foreach (var t in g.Tensors)
                result.Tensors.Add(t == ih ? Replace(t, biases.Ih) : t == hh ? Replace(t, biases.Hh) : t);
        }
        return result;
    }

    static LstmTensor Replace(LstmTensor t, Tensor data) => LstmTensor.FromTensor(data.contiguous(), t.Name, t.Layer, t.LayerType, t.Role,
        t.Layout, t.Direction, t.StackIndex, t.GateOrder, t.Units, t.InputSize, t.Config, t.Source);
}
