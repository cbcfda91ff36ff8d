using LstmPort.Runtime;

namespace LstmPort.Conversion;

/// <summary>Layers without gates in the canonical form: Dense (PyTorch Linear) and Embedding, and layers no framework converts.</summary>
public static class PlainLayers
{
    /// <summary>Dense and Embedding layers as Keras and TF1 store them (a Dense kernel [in,units] multiplies from the right); any other layer as read.</summary>
    public static CanonicalLayer FromRight(LayerGroup g)
    {
        switch (g.LayerType)
        {
            case LayerType.Embedding:
                var e = g.Require(TensorRole.Embeddings);
                if (e.Shape.Length != 2) throw g.ShapeError(e, "[n,d]");
                return new CanonicalLayer(g, LayerType.Embedding, e.Shape[1], e.Shape[0], g.Config) { WeightIh = CanonicalTensor.Of(e), SourceFromRight = true };
            case LayerType.Dense:
                var kernel = g.Require(TensorRole.Kernel);
                if (kernel.Shape.Length != 2) throw g.ShapeError(kernel, "[in,out]");
                int inputSize = kernel.Shape[0], units = kernel.Shape[1];
                var bias = g.Find(TensorRole.Bias);
                if (bias is not null) g.CheckShape(bias, units);
                return new CanonicalLayer(g, LayerType.Dense, units, inputSize, g.Config)
                {
                    WeightIh = CanonicalTensor.Of(kernel).Map([units, inputSize], TensorMemory.Transposed),
                    BiasIh = bias is null ? null : CanonicalTensor.Of(bias),
                    SourceFromRight = true,
                };
            default:
                return new CanonicalLayer(g, g.LayerType, g.Units, g.InputSize, g.Config) { Unconverted = g.Tensors, SourceFromRight = true };
        }
    }

}
