using static TorchSharp.torch;
using static LstmPort.Conversion.LayerSettings;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.Keras;

/// <summary>Keras layout for the equivalence check: kernels [in,G*h] multiply from the right.</summary>
internal sealed class KerasMaths : ILayoutMaths
{
    public Layout Layout => Layout.Keras;

    public LayerOutputs RunLayer(LayerGroup g, Tensor x) => KerasReference.RunLayer(g, x);

    public (long In, long Units) Sizes(LayerGroup g)
    {
        if (g.LayerType == LayerType.Dense) return DenseFromRightSizes(g);
        int gates = Gates.Blocks(g.LayerType);
        var kk = g.Require(TensorRole.Kernel);
        var rk = g.Require(TensorRole.RecurrentKernel);
        if (kk.Shape.Length != 2) throw ShapeError(g, kk, $"[in,{gates}*h]");
        if (rk.Shape.Length != 2) throw ShapeError(g, rk, $"[h,{gates}*h]");
        return (kk.Shape[0], rk.Shape[0]);
    }

    public (Tensor W, Tensor? B)? InputProjection(LayerGroup g, long inputSize)
    {
        var w = Data(g.Require(TensorRole.Kernel));
        var kb = g.Find(TensorRole.Bias);
        if (kb is null) return (w, null);
        var b = Data(kb);
        long n = w.shape[1];
        if (b.dim() == 2 && b.shape[1] == n) b = b.sum(0L); // 0L: a literal 0 would bind to sum(ScalarType)
        else if (b.dim() == 1 && b.shape[0] == 2 * n) b = b[..(int)n] + b[(int)n..];
        return (w, b.shape.SequenceEqual(new[] { n }) ? b : null);
    }
}
