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
        var fused = g.All(TensorRole.FusedKernel).Where(f => f.Shape.Length == 2).OrderBy(f => f.Shape[1]).FirstOrDefault()
            ?? throw new LstmPortException(ErrorIds.MissingTensor, $"{g.Describe()}: no 2-D FusedKernel tensor.", g);
        long h = g.LayerType == LayerType.LSTM ? fused.Shape[1] / Gates.Count(LayerType.LSTM) : fused.Shape[1];
        long state = g.Find(TensorRole.ProjectionKernel) is { Shape: [_, var p] } ? p : h;
        return (fused.Shape[0] - state, state);
    }

    public (Tensor W, Tensor? B)? InputProjection(LayerGroup g, long inputSize)
    {
        var kernels = g.All(TensorRole.FusedKernel);
        if (kernels.Count == 0) return null;
        var tw = torch.cat(kernels.Select(f => Data(f)[..(int)inputSize]).ToList(), 1);
        var biases = g.All(TensorRole.Bias);
        var tbias = biases.Count == 0 ? null : torch.cat(biases.Select(Data).ToList(), 0);
        return (tw, tbias is not null && tbias.shape[0] == tw.shape[1] ? tbias : null);
    }
}
