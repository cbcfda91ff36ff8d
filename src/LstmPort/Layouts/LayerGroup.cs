namespace LstmPort.Layouts;

/// <summary>
/// The tensors of one layer, depth and direction (a Keras layer, one half of a Bidirectional, one
/// l&lt;k&gt;[_reverse] of a PyTorch module), looked up by role. Groups keep the order in which their
/// first tensor appeared, which is the layer order of the file.
/// </summary>
public sealed class LayerGroup
{
    LayerGroup(IReadOnlyList<LstmTensor> tensors)
    {
        Tensors = tensors;
        var first = tensors[0];
        (Layer, StackIndex, Direction, LayerType, Layout) = (first.Layer, first.StackIndex, first.Direction, first.LayerType, first.Layout);
        Units = tensors.Max(t => t.Units);
        InputSize = tensors.Max(t => t.InputSize);
        Config = tensors.FirstOrDefault(t => t.Config.Count > 0)?.Config ?? first.Config;
        GateOrder = tensors.Select(t => t.GateOrder).FirstOrDefault(g => g != GateOrder.None);
    }

    public string Layer { get; }
    public int StackIndex { get; }
    public Direction Direction { get; }
    public LayerType LayerType { get; }
    public Layout Layout { get; }
    public GateOrder GateOrder { get; }
    public int Units { get; }
    public int InputSize { get; }
    public IReadOnlyDictionary<string, object?> Config { get; }
    public IReadOnlyList<LstmTensor> Tensors { get; }

    public bool IsRecurrent => LayerType is LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN;

    /// <summary>A readable name: the layer, plus depth and direction where they matter.</summary>
    public string DisplayName => Layer + (StackIndex > 0 ? $" l{StackIndex}" : "") + (Direction == Direction.Backward ? " backward" : "");

    public LstmTensor? Find(TensorRole role) => Tensors.FirstOrDefault(t => t.Role == role);

    public LstmTensor Require(TensorRole role) => Find(role)
        ?? throw new LstmPortException("MissingTensor", ErrorKind.InvalidData, $"{DisplayName}: the {LayerType} layer has no {role} tensor.", Layer);

    public bool Flag(string key, bool fallback = false) =>
        Config.TryGetValue(key, out var v) && v is not null ? Convert.ToBoolean(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    public string? Text(string key) => Config.TryGetValue(key, out var v) ? v?.ToString() : null;

    public static IReadOnlyList<LayerGroup> From(IEnumerable<LstmTensor> tensors) =>
        tensors.GroupBy(t => (t.Layer, t.StackIndex, t.Direction, t.Layout))
               .Select(g => new LayerGroup(g.ToList()))
               .ToList();
}
