using static TorchSharp.torch;
using static LstmPort.Conversion.LayerSettings;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.Torch;

/// <summary>PyTorch layout for the equivalence check: weights [G*h,in] multiply from the left, run by libtorch's modules.</summary>
internal sealed class TorchMaths : ILayoutMaths
{
    public Layout Layout => Layout.Torch;

    public LayerOutputs RunLayer(LayerGroup g, Tensor x) => TorchModules.RunLayer(g, x);

    public (long In, long Units) Sizes(LayerGroup g)
    {
        if (g.LayerType == LayerType.Dense)
        {
            var w = g.Require(TensorRole.Weight);
            return w.Shape.Length == 2 ? (w.Shape[1], w.Shape[0]) : throw ShapeError(g, w, "[units,in]");
        }
        int gates = Gates.Blocks(g.LayerType);
        var ih = g.Require(TensorRole.Kernel);
        var hh = g.Require(TensorRole.RecurrentKernel);
        if (ih.Shape.Length != 2) throw ShapeError(g, ih, $"[{gates}*h,in]");
        if (hh.Shape.Length != 2) throw ShapeError(g, hh, $"[{gates}*h,h]");
        return (ih.Shape[1], g.Find(TensorRole.ProjectionKernel) is { Shape: [var proj, _] } ? proj : hh.Shape[1]);
    }

    public (Tensor W, Tensor? B)? InputProjection(LayerGroup g, long inputSize)
    {
        if (g.LayerType == LayerType.Dense)
            return (Data(g.Require(TensorRole.Weight)).t(), g.Find(TensorRole.Bias) is { } tb ? Data(tb) : null);
        var bi = g.Find(TensorRole.InputBias);
        var bh = g.Find(TensorRole.RecurrentBias);
        Tensor? bias = bi is null ? null : bh is null ? Data(bi) : Data(bi) + Data(bh);
        return (Data(g.Require(TensorRole.Kernel)).t(), bias);
    }
}
