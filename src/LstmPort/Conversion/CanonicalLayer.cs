using System.Globalization;

namespace LstmPort.Conversion;

/// <summary>
/// One layer, depth and direction in the form every framework converts to and from, so that a
/// conversion is <c>from canonical ∘ to canonical</c> and no framework reads another's tensors.
/// The form is PyTorch's maths, whose parts are the ones every framework has:
/// <list type="bullet">
/// <item>recurrent layers: <see cref="WeightIh"/> <c>[G*h,in]</c> and <see cref="WeightHh"/>
/// <c>[G*h,h]</c> (<c>[G*h,p]</c> with a projection) multiply from the left, gates in
/// <see cref="Gates.Canonical"/> order; <see cref="BiasIh"/> and <see cref="BiasHh"/> <c>[G*h]</c>,
/// null when the layer has none (zero); <see cref="Projection"/> <c>[p,h]</c> (PyTorch
/// weight_hr, TF1 num_proj); <see cref="Peepholes"/> <c>[3h]</c> in the order i, f, o (TF1 w_i_diag, w_f_diag, w_o_diag; ONNX P);</item>
/// <item>Dense: <see cref="WeightIh"/> <c>[units,in]</c>, <see cref="BiasIh"/> <c>[units]</c>;
/// Embedding: <see cref="WeightIh"/> <c>[n,d]</c>;</item>
/// <item>a layer no framework converts (<see cref="LayerType.Other"/>), or one already in a target's layout that the target keeps as it is (<see cref="IFromCanonical.KeepsOwnLayout"/>): its tensors as read, in <see cref="Unconverted"/>.</item>
/// </list>
/// <see cref="Settings"/> holds what else changes the maths, in <see cref="ConfigKeys"/> spellings:
/// activation and recurrent_activation, reset_after (a GRU with reset_after=False resets before the
/// recurrent matmul), go_backwards, use_peepholes, cell_clip, merge_mode; a TF1 forget_bias is
/// already folded into <see cref="BiasIh"/>, CuDNN kernels are already in the standard layout.
/// </summary>
public sealed class CanonicalLayer
{
    public CanonicalLayer(LayerGroup from, LayerType layerType, int units, int inputSize, IReadOnlyDictionary<string, object?> settings)
    {
        From = from;
        LayerType = layerType;
        Units = units;
        InputSize = inputSize;
        Settings = new Dictionary<string, object?>(settings, StringComparer.OrdinalIgnoreCase);
        Layer = from.Layer;
        Depth = from.StackIndex;
    }

    /// <summary>The source layer: its name, depth, direction and tensors.</summary>
    public LayerGroup From { get; }
    public LayerType LayerType { get; }
    public int Units { get; }
    public int InputSize { get; }
    public Dictionary<string, object?> Settings { get; }

    public CanonicalTensor? WeightIh { get; init; }
    public CanonicalTensor? WeightHh { get; init; }
    public CanonicalTensor? BiasIh { get; init; }
    public CanonicalTensor? BiasHh { get; init; }
    public CanonicalTensor? Projection { get; init; }
    /// <summary>Peephole weights <c>[3h]</c> in the fixed order i, f, o (TF1 w_i_diag, w_f_diag, w_o_diag; ONNX P reordered from i,o,f); null: none.</summary>
    public CanonicalTensor? Peepholes { get; init; }
    public IReadOnlyList<LstmTensor> Unconverted { get; init; } = [];

    /// <summary>What reaching this form did besides transposing and reordering gates (a CuDNN layout undone, a forget_bias folded), for the log.</summary>
    public List<string> Steps { get; } = [];

    /// <summary>The gate order the source stored (for the log).</summary>
    public GateOrder SourceOrder { get; init; }

    /// <summary>True when the source's matrices multiply from the right (x @ W: Keras, TF1), so reaching this form transposed them.</summary>
    public bool SourceFromRight { get; init; }

    /// <summary>The module or layer this part belongs to; a TF1 cell's scope (with '/'), which names each cell of a stack.</summary>
    public string Layer { get; init; }

    /// <summary>The depth within <see cref="Layer"/> (PyTorch l&lt;k&gt;); 0 when the layer name already tells depths apart.</summary>
    public int Depth { get; init; }

    public Direction Direction => From.Direction;
    public bool IsRecurrent => LayerType is LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN;
    public string? Source => From.Tensors[0].Source;
    public string Describe() => From.Describe();

    /// <summary>The gate order of <see cref="WeightIh"/>, <see cref="WeightHh"/> and the biases.</summary>
    public GateOrder GateOrder => IsRecurrent ? Gates.Canonical(LayerType) : GateOrder.None;

    /// <summary>A setting as text (string, bool, number), or null when absent.</summary>
    public string? Text(string key) => LayerGroup.TextOf(Settings, key);

    /// <summary>A setting as a boolean ("true"/"True"/1, "false"/0), or null when absent or not a boolean.</summary>
    public bool? Bool(string key) => Text(key)?.ToLowerInvariant() switch
    {
        "true" or "1" => true,
        "false" or "0" => false,
        _ => null,
    };

    public bool Flag(string key) => Bool(key) == true;

    /// <summary>
    /// The log's description of a conversion to a layout whose matrices multiply from the right or
    /// not and whose gates are in <paramref name="targetOrder"/>: transposed, gates reordered, then
    /// what <see cref="Steps"/> says.
    /// </summary>
    public List<string> StepsTo(bool targetFromRight, GateOrder targetOrder)
    {
        var steps = new List<string>();
        if (targetFromRight != SourceFromRight) steps.Add("transposed");
        steps.AddRange(Steps);
        if (LayerType is LayerType.LSTM or LayerType.GRU && SourceOrder != GateOrder.None && SourceOrder != targetOrder)
            steps.Add($"gates {SourceOrder}→{targetOrder}");
        return steps;
    }

    /// <summary>The cell clip a TF1 LSTMCell applies, or null when it does not clip.</summary>
    public double? CellClip => Text(ConfigKeys.CellClip) is string s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var c) && c > 0 ? c : null;
}
