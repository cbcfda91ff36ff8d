namespace LstmPort.Conversion;

/// <summary>
/// Converts tensors to one framework's layout: each layer goes to the canonical form by its own
/// framework's mapping and from there to the target's. A layer that cannot be converted is refused
/// with its ErrorId and reason; the others are still converted.
/// </summary>
public static class LayoutConverter
{
    public static ConversionResult Convert(IEnumerable<LstmTensor> input, Layout target, ConversionOptions options)
    {
        var to = LayoutMappings.Target(target)
            ?? throw new LstmPortException(ErrorIds.UnsupportedLayout, $"converting to the {target} layout is not supported.", target);
        var result = new ConversionResult();
        var layers = new List<CanonicalLayer>();
        foreach (var g in LayerGroup.Group(input))
        {
            if (g.Layout == target && to.KeepsOwnLayout)
            {
                layers.Add(new CanonicalLayer(g, g.LayerType, g.Units, g.InputSize, g.Config) { Unconverted = g.Tensors });
                continue;
            }
            try
            {
                var from = LayoutMappings.Source(g.Layout)
                    ?? throw new LstmPortException(ErrorIds.UnsupportedLayout, $"{g.Describe()}: converting the {g.Layout} layout to {target} is not supported.", g.Layer);
                layers.Add(from.ToCanonical(g, options));
            }
            catch (LstmPortException e) { result.Refused.Add((g.Layer, e.ErrorId, e.Message)); }
        }
        to.FromCanonical(layers, options, result);
        return result;
    }
}
