using LstmPort.Conversion;

namespace LstmPort.Verification;

/// <summary>A layer-direction of the reference set and its counterpart; one side is null when unmatched.</summary>
public sealed record LayerPair(LayerGroup? Reference, LayerGroup? Difference);

/// <summary>
/// Pairs the checkable layers (recurrent and Dense) of two weight sets: first by name, depth and
/// direction where both sides use the same names (a TF1 scope's '/' matches PyTorch's '.'), then
/// the rest by position in layer order (a Keras stack converted into one multi-layer PyTorch
/// module). Whatever is left on either side is returned unpaired.
/// </summary>
public static class LayerPairing
{
    public static bool IsCheckable(LayerGroup g) => g.IsRecurrent || g.LayerType == LayerType.Dense;

    public static IReadOnlyList<LayerPair> Pair(IReadOnlyList<LayerGroup> reference, IReadOnlyList<LayerGroup> difference)
    {
        var refs = reference.Where(IsCheckable).ToList();
        var diffs = difference.Where(IsCheckable).ToList();
        var byName = new Dictionary<LayerGroup, LayerGroup>();
        var diffKeys = diffs.GroupBy(Key).Where(k => k.Count() == 1).ToDictionary(k => k.Key, k => k.Single());
        foreach (var r in refs.GroupBy(Key).Where(k => k.Count() == 1).Select(k => k.Single()))
            if (diffKeys.TryGetValue(Key(r), out var d)) byName[r] = d;

        var leftover = new Queue<LayerGroup>(diffs.Where(d => !byName.ContainsValue(d)));
        var pairs = new List<LayerPair>();
        foreach (var r in refs)
        {
            if (byName.TryGetValue(r, out var d)) pairs.Add(new LayerPair(r, d));
            else pairs.Add(new LayerPair(r, leftover.Count > 0 ? leftover.Dequeue() : null));
        }
        pairs.AddRange(leftover.Select(d => new LayerPair(null, d)));
        return pairs;
    }

    static (string, int, Direction) Key(LayerGroup g) => (g.Layer.Replace('/', '.').ToLowerInvariant(), g.StackIndex, g.Direction);
}
