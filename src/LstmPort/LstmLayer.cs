namespace LstmPort;

/// <summary>
/// One layer of a weight set, summarised from its tensors: what it is, how big, and whether it
/// converts to PyTorch exactly (<see cref="TorchPortable"/>, with the <see cref="Reason"/> when not).
/// </summary>
public sealed class LstmLayer
{
    internal LstmLayer(IReadOnlyList<LstmTensor> tensors)
    {
        var first = tensors[0];
        Layer = first.Layer;
        LayerType = first.LayerType;
        Layout = first.Layout;
        Units = first.Units;
        InputSize = first.InputSize;
        Bidirectional = tensors.Any(t => t.Direction == Direction.Backward);
        Depth = tensors.Max(t => t.StackIndex) + 1;
        Parameters = tensors.Sum(t => t.ElementCount);
        Config = first.Config;
        Source = first.Source;
        Tensors = tensors;
        Reason = TorchPortability.Blocker(LayerType, Layout, Config);
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
    public IReadOnlyDictionary<string, object?> Config { get; }
    public string? Source { get; }
    public IReadOnlyList<LstmTensor> Tensors { get; }

    public override string ToString() => $"{Layer} {LayerType} {Units}";

    /// <summary>Groups tensors by file and layer, keeping the order in which layers first appear.</summary>
    public static IReadOnlyList<LstmLayer> Summarize(IEnumerable<LstmTensor> tensors)
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
        return order.Select(k => new LstmLayer(groups[k])).ToList();
    }
}

/// <summary>Which layer settings have no exact PyTorch equivalent in nn.LSTM / nn.GRU / nn.RNN / nn.Linear / nn.Embedding.</summary>
public static class TorchPortability
{
    public static string? Blocker(LayerType type, Layout layout, IReadOnlyDictionary<string, object?> config)
    {
        if (type == LayerType.Other) return "not a layer type LstmPort converts (LSTM, GRU, SimpleRNN, Dense, Embedding)";
        if (layout == Layout.Torch || type is LayerType.Dense or LayerType.Embedding) return null;

        string? Get(string key) => config.TryGetValue(key, out var v) ? v switch { null => null, bool b => b ? "true" : "false", _ => v.ToString() } : null;
        var reasons = new List<string>();
        var activation = Get(ConfigKeys.Activation);
        var recurrent = Get(ConfigKeys.RecurrentActivation);
        if (type == LayerType.SimpleRNN)
        {
            if (activation is not null and not "tanh" and not "relu") reasons.Add($"{activation} activation (nn.RNN has tanh or relu)");
        }
        else
        {
            if (activation is not null and not "tanh") reasons.Add($"{activation} activation");
            if (recurrent is not null and not "sigmoid") reasons.Add($"{recurrent} recurrent activation");
        }
        if (type == LayerType.GRU && Get(ConfigKeys.ResetAfter) == "false") reasons.Add("GRU reset_after=False");
        if (Get(ConfigKeys.GoBackwards) == "true") reasons.Add("go_backwards=True (PyTorch has no reversed one-direction layer)");
        if (Get(ConfigKeys.UsePeepholes) == "true") reasons.Add("peepholes");
        if (config.TryGetValue(ConfigKeys.CellClip, out var clip) && clip is double c && c > 0) reasons.Add("cell_clip");
        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }
}
