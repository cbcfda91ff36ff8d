namespace LstmPort;

/// <summary>
/// One layer of a weight set, summarised from its tensors: what it is, how big, and whether it
/// converts to PyTorch exactly (<see cref="TorchPortable"/>, with the <see cref="Reason"/> when not).
/// </summary>
public sealed class LstmLayer
{
    internal LstmLayer(IReadOnlyList<LstmTensor> tensors, string? reason)
    {
        var first = tensors[0];
        Layer = first.Layer;
        LayerType = first.LayerType;
        Layout = first.Layout;
        Units = first.Units;
        InputSize = first.InputSize;
        Bidirectional = tensors.Any(t => t.Direction == Direction.Backward)
            || (first.Config.TryGetValue(ConfigKeys.Direction, out var d) && d is "bidirectional");
        if (!Bidirectional && first.Config.TryGetValue(ConfigKeys.GoBackwards, out var gb) && gb is true or "true" or "True")
            Note = "reads its input reversed (go_backwards, ONNX direction=reverse): in PyTorch its weights go to l0, not l0_reverse; reverse the sequence before the layer and its outputs after";
        Depth = tensors.Max(t => t.StackIndex) + 1;
        Parameters = tensors.Sum(t => t.ElementCount);
        Config = first.Config;
        Inferred = first.Config.TryGetValue(ConfigKeys.Inferred, out var inferred) && inferred is IEnumerable<string> keys ? [.. keys] : [];
        Source = first.Source;
        Tensors = tensors;
        Reason = reason;
    }

    public string Layer { get; }
    public LayerType LayerType { get; }
    public int Units { get; }
    public int InputSize { get; }
    public bool Bidirectional { get; }
    /// <summary>Number of stacked layers in a multi-layer module (PyTorch l0..l(n-1)); 1 otherwise.</summary>
    public int Depth { get; }
    /// <summary>Number of stored values (elements) over all the layer's tensors.</summary>
    public long Parameters { get; }
    public Layout Layout { get; }
    public bool TorchPortable => Reason is null;
    /// <summary>Why the layer has no exact PyTorch equivalent; null when it has one.</summary>
    public string? Reason { get; }
    /// <summary>What to know when using the layer in PyTorch although it is portable (a layer that reads its input reversed); null otherwise.</summary>
    public string? Note { get; }
    public IReadOnlyDictionary<string, object?> Config { get; }
    /// <summary>
    /// The settings that were assumed, not read from a model config (Config.inferred): a weights-only
    /// file stores no activations, so TorchPortable holds only if the model used these defaults.
    /// </summary>
    public IReadOnlyList<string> Inferred { get; }
    public string? Source { get; }
    public IReadOnlyList<LstmTensor> Tensors { get; }

    public override string ToString() => $"{Layer} {LayerType} {Units}";

    /// <summary>
    /// Groups tensors by file and layer, keeping the order in which layers first appear.
    /// <paramref name="torchBlocker"/> says why a layer has no exact PyTorch equivalent (null when it has one).
    /// </summary>
    public static IReadOnlyList<LstmLayer> Summarize(IEnumerable<LstmTensor> tensors,
        Func<LayerType, Layout, IReadOnlyDictionary<string, object?>, string?> torchBlocker)
    {
        var groups = new Dictionary<(string?, string), List<LstmTensor>>();
        var order = new List<(string?, string)>();
        foreach (var t in tensors)
        {
            var key = (t.Source, t.Layer);
            if (!groups.TryGetValue(key, out var list))
            {
                groups[key] = list = [];
                order.Add(key);
            }
            list.Add(t);
        }
        return order.Select(k =>
        {
            var first = groups[k][0];
            return new LstmLayer(groups[k], torchBlocker(first.LayerType, first.Layout, first.Config));
        }).ToList();
    }
}
