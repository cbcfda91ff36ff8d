using TorchSharp;
using static TorchSharp.torch;
using static LstmPort.Conversion.LayerSettings;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>TF1 cells for the equivalence check: one fused kernel [in+h,G*h] over concat(x, h).</summary>
internal sealed class Tf1Maths : ILayoutMaths
{
    public Layout Layout => Layout.TensorFlow;

    public LayerOutputs RunLayer(LayerGroup g, Tensor x) =>
        g.LayerType == LayerType.Dense ? DenseFromRight(g, x) : Tf1Reference.RunLayer(g, x);

    public (long In, long Units) Sizes(LayerGroup g)
    {
        if (g.LayerType == LayerType.Dense) return DenseFromRightSizes(g);
        if (g.Flag(ConfigKeys.Cudnn) && g.IsRecurrent)
        {
            // A cuDNN buffer's layer: W [G*h,in] from the left.
            var w = g.Require(TensorRole.Kernel);
            if (w.Shape is not [var rows, var cols]) throw g.ShapeError(w, "[G*h,in]");
            return (cols, rows / Gates.Count(g.LayerType));
        }
        var fused = g.All(TensorRole.FusedKernel).Where(f => f.Shape.Length == 2).OrderBy(f => f.Shape[1]).FirstOrDefault()
            ?? throw new LstmPortException(ErrorIds.MissingTensor, $"{g.Describe()}: no 2-D FusedKernel tensor.", g);
        if (g.LayerType == LayerType.GRU)
        {
            // gates/kernel [in+h,2h], the widest kernel (a candidate [in+h,h] may also be a FusedKernel).
            var gates = g.All(TensorRole.FusedKernel).Where(f => f.Shape.Length == 2).MaxBy(f => f.Shape[1])!;
            long units = gates.Shape[1] / 2;
            return (gates.Shape[0] - units, units);
        }
        long h = g.LayerType == LayerType.LSTM ? fused.Shape[1] / Gates.Count(LayerType.LSTM) : fused.Shape[1];
        long state = g.Find(TensorRole.ProjectionKernel) is { Shape: [_, var p] } ? p : h;
        return (fused.Shape[0] - state, state);
    }

    public (Tensor W, Tensor? B)? InputProjection(LayerGroup g, long inputSize)
    {
        if (g.Flag(ConfigKeys.Cudnn) && g.IsRecurrent)
        {
            var w = Data(g.Require(TensorRole.Kernel)).t();
            var biases = new[] { g.Find(TensorRole.InputBias), g.Find(TensorRole.RecurrentBias) }.Where(b => b is not null).Select(b => Data(b!)).ToList();
            return (w, biases.Count == 0 ? null : biases.Aggregate((a, b) => a + b));
        }
        var kernels = g.All(TensorRole.FusedKernel).Concat(g.All(TensorRole.CandidateKernel)).ToList();
        if (kernels.Count == 0) return null;
        var tw = torch.cat(kernels.Select(f => Data(f)[..(int)inputSize]).ToList(), 1);
        var all = g.All(TensorRole.Bias).Concat(g.All(TensorRole.CandidateBias)).ToList();
        var tbias = all.Count == 0 ? null : torch.cat(all.Select(Data).ToList(), 0);
        return (tw, tbias is not null && tbias.shape[0] == tw.shape[1] ? tbias : null);
    }
}
