using System.Globalization;
using System.Text.Json;

namespace LstmPort.Conversion;

/// <summary>
/// The tensors of one layer, depth and direction (what one cell computes), grouped from
/// <see cref="LstmTensor"/> metadata. A bidirectional layer gives two groups, a PyTorch module
/// with <c>num_layers=2</c> gives one group per depth. Layer-wide settings (type, layout, sizes,
/// config) are taken from the group's first tensor.
/// </summary>
public sealed class LayerGroup
{
    LayerGroup(string layer, int stackIndex, Direction direction, IReadOnlyList<LstmTensor> tensors)
    {
        Layer = layer;
        StackIndex = stackIndex;
        Direction = direction;
        Tensors = tensors;
        var first = tensors[0];
        LayerType = first.LayerType;
        Layout = first.Layout;
        Units = tensors.Select(t => t.Units).FirstOrDefault(u => u > 0);
        InputSize = tensors.Select(t => t.InputSize).FirstOrDefault(u => u > 0);
        Config = tensors.FirstOrDefault(t => t.Config.Count > 0)?.Config ?? first.Config;
        GateOrder = tensors.Select(t => t.GateOrder).FirstOrDefault(o => o != GateOrder.None);
    }

    public string Layer { get; }
    public int StackIndex { get; }
    public Direction Direction { get; }
    public LayerType LayerType { get; }
    public Layout Layout { get; }
    public int Units { get; }
    public int InputSize { get; }
    public IReadOnlyDictionary<string, object?> Config { get; }
    /// <summary>The gate order of the layer's gated tensors; None for layers without gates.</summary>
    public GateOrder GateOrder { get; }
    public IReadOnlyList<LstmTensor> Tensors { get; }

    /// <summary>A config value as text, however the reader boxed it (string, JSON, number).</summary>
    public string? Text(string key) => TextOf(Config, key);

    /// <summary>A value of a config or settings dictionary as text, however a reader boxed it (string, JSON, number, bool).</summary>
    internal static string? TextOf(IReadOnlyDictionary<string, object?> config, string key) => config.TryGetValue(key, out var v) && v is not null
        ? (v is JsonElement { ValueKind: JsonValueKind.String } j ? j.GetString() : Convert.ToString(v, CultureInfo.InvariantCulture))
        : null;

    /// <summary>A config value as a boolean (bool, JSON, "True", 0/1), or null when absent.</summary>
    public bool? Bool(string key)
    {
        if (!Config.TryGetValue(key, out var v) || v is null) return null;
        return v switch
        {
            bool b => b,
            JsonElement { ValueKind: JsonValueKind.True } => true,
            JsonElement { ValueKind: JsonValueKind.False } => false,
            string s when bool.TryParse(s, out var b) => b,
            IConvertible c and not string => c.ToDouble(CultureInfo.InvariantCulture) != 0,
            _ => throw new LstmPortException(ErrorIds.InvalidConfigValue,
                $"{Describe()}: config '{key}' has value '{v}' of type {v.GetType().Name}; expected true or false.", this),
        };
    }

    public bool Flag(string key, bool fallback = false) => Bool(key) ?? fallback;

    /// <summary>True when the layer's tensors are read as one recurrent cell (LSTM, GRU, SimpleRNN).</summary>
    public bool IsRecurrent => LayerType is LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN;

    /// <summary>The tensors with this role, in their original order.</summary>
    public IReadOnlyList<LstmTensor> All(TensorRole role) => Tensors.Where(t => t.Role == role).ToList();

    /// <summary>The one tensor with this role, or null; two of the same role is an error.</summary>
    public LstmTensor? Find(TensorRole role)
    {
        var found = All(role);
        return found.Count switch
        {
            0 => null,
            1 => found[0],
            _ => throw new LstmPortException(ErrorIds.DuplicateTensor,
                $"{Describe()}: {found.Count} tensors have role {role} ({string.Join(", ", found.Select(t => t.Name))}); expected one.", this),
        };
    }

    /// <summary>The one tensor with this role; a missing one is <c>MissingTensor</c>.</summary>
    public LstmTensor Require(TensorRole role) => Find(role)
        ?? throw new LstmPortException(ErrorIds.MissingTensor,
            $"{Describe()}: no {role} tensor among {string.Join(", ", Tensors.Select(t => t.Name))}.", this);

    /// <summary>A ShapeMismatch error naming the layer, the tensor, its shape and what was expected.</summary>
    public LstmPortException ShapeError(LstmTensor t, string expected) => new(ErrorIds.ShapeMismatch,
        $"{Describe()}: {t.Name} ({t.Role}) has shape [{string.Join(",", t.Shape)}]; a {LayerType} with {Units} units expects {expected}.", t.Name);

    public void CheckShape(LstmTensor t, params long[] expected)
    {
        if (!t.Shape.Select(d => (long)d).SequenceEqual(expected))
            throw ShapeError(t, $"[{string.Join(",", expected)}]");
    }

    /// <summary>A Keras-layout recurrent layer's kernel [in,gates*h] and recurrent kernel [h,gates*h], shapes checked.</summary>
    public (LstmTensor Kernel, LstmTensor Recurrent, int InputSize) KerasMatrices()
    {
        int gates = Gates.Count(LayerType);
        var kernel = Require(TensorRole.Kernel);
        var recurrent = Require(TensorRole.RecurrentKernel);
        int input = kernel.Shape.Length == 2 ? kernel.Shape[0] : 0;
        CheckShape(kernel, input, gates * Units);
        CheckShape(recurrent, Units, gates * Units);
        return (kernel, recurrent, input);
    }

    /// <summary>"lstm (depth 1, backward)" style text for messages.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (StackIndex > 0) parts.Add($"depth {StackIndex}");
        if (Direction == Direction.Backward) parts.Add("backward");
        return parts.Count == 0 ? $"{Layer}" : $"{Layer} ({string.Join(", ", parts)})";
    }

    public override string ToString() => $"{Describe()} {LayerType} {Layout}";

    /// <summary>
    /// Groups tensors by (Layer, StackIndex, Direction, Layout) in the order groups first appear,
    /// which is layer order for every reader. Tensors keep their order within a group. An Onnx-layout
    /// layer with direction "bidirectional" holds both directions in each tensor: it gives a forward
    /// and a backward group over the same tensors.
    /// </summary>
    public static IReadOnlyList<LayerGroup> Group(IEnumerable<LstmTensor> tensors)
    {
        var order = new List<(string, int, Direction, Layout)>();
        var members = new Dictionary<(string, int, Direction, Layout), List<LstmTensor>>();
        foreach (var t in tensors)
        {
            var key = (t.Layer, t.StackIndex, t.Direction, t.Layout);
            if (!members.TryGetValue(key, out var list))
            {
                members[key] = list = [];
                order.Add(key);
            }
            list.Add(t);
        }
        var groups = new List<LayerGroup>();
        foreach (var k in order)
        {
            groups.Add(new LayerGroup(k.Item1, k.Item2, k.Item3, members[k]));
            // ONNX keeps both directions in one tensor ([num_directions, ...]): one group per direction over the same tensors.
            if (k.Item4 == Layout.Onnx && k.Item3 == Direction.Forward && groups[^1].Text(ConfigKeys.Direction) == "bidirectional")
                groups.Add(new LayerGroup(k.Item1, k.Item2, Direction.Backward, members[k]));
        }
        return groups;
    }
}
