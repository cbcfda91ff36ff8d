using static TorchSharp.torch;

namespace LstmPort.Conversion;

/// <summary>
/// One layout's reference maths, as the equivalence check needs it: how the layout runs a layer,
/// and how its tensors give the layer's sizes and its input projection (to scale the check's
/// inputs out of saturation). Each framework supplies one; <see cref="LayoutMaths"/> finds it.
/// </summary>
internal interface ILayoutMaths
{
    Layout Layout { get; }

    /// <summary>Runs one layer and direction on x [T,B,in] (float64) from zero state; outputs in input time order.</summary>
    LayerOutputs RunLayer(LayerGroup g, Tensor x);

    /// <summary>(input size, units) from the tensors' shapes, as this layout stores them.</summary>
    (long In, long Units) Sizes(LayerGroup g);

    /// <summary>The input projection W [in,N] and its bias [N] (both biases of a split layout summed), or null.</summary>
    (Tensor W, Tensor? B)? InputProjection(LayerGroup g, long inputSize);
}

/// <summary>The registered <see cref="ILayoutMaths"/>, one per layout (registered by Formats.FrameworkRegistry).</summary>
internal static class LayoutMaths
{
    static readonly Dictionary<Layout, ILayoutMaths> Known = [];

    public static void Register(ILayoutMaths maths) { lock (Known) Known[maths.Layout] = maths; }

    public static ILayoutMaths For(LayerGroup g)
    {
        lock (Known)
            return Known.TryGetValue(g.Layout, out var m) ? m
                : throw new LstmPortException(ErrorIds.UnsupportedLayout, $"{g.Describe()}: layers in the {g.Layout} layout cannot be run yet.", g);
    }
}
