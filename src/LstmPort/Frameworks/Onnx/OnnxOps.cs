using System.Globalization;
using System.Text;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.Onnx;

/// <summary>
/// What the ONNX LSTM, GRU and RNN operators say (https://onnx.ai/onnx/operators/onnx__LSTM.html,
/// onnx__GRU.html, onnx__RNN.html): gate orders (LSTM i,o,f,c; GRU z,r,h), default activations, how
/// activation_alpha/beta are consumed, ONNX activations in Keras spellings and back, and layer names.
/// </summary>
internal static class OnnxOps
{
    public static bool IsRecurrent(string op) => op is "LSTM" or "GRU" or "RNN";

    public static LayerType TypeOf(string op) => op switch { "LSTM" => LayerType.LSTM, "GRU" => LayerType.GRU, _ => LayerType.SimpleRNN };

    public static string OpOf(LayerType t) => t switch { LayerType.LSTM => "LSTM", LayerType.GRU => "GRU", _ => "RNN" };

    public static GateOrder Order(LayerType t) => t switch { LayerType.LSTM => GateOrder.IOFC, LayerType.GRU => GateOrder.ZRH, _ => GateOrder.None };

    /// <summary>Activations per direction: LSTM f,g,h; GRU f,g; RNN f.</summary>
    public static string[] DefaultActivations(LayerType t) => t switch
    {
        LayerType.LSTM => ["Sigmoid", "Tanh", "Tanh"],
        LayerType.GRU => ["Sigmoid", "Tanh"],
        _ => ["Tanh"],
    };

    static readonly Dictionary<string, string> Canonical = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Relu"] = "Relu", ["Tanh"] = "Tanh", ["Sigmoid"] = "Sigmoid", ["Affine"] = "Affine", ["LeakyRelu"] = "LeakyRelu",
        ["ThresholdedRelu"] = "ThresholdedRelu", ["ScaledTanh"] = "ScaledTanh", ["HardSigmoid"] = "HardSigmoid",
        ["Elu"] = "Elu", ["Softsign"] = "Softsign", ["Softplus"] = "Softplus",
    };

    /// <summary>The activation's name as ONNX spells it (the spec's names are case-insensitive in practice).</summary>
    public static string Spell(string name) => Canonical.TryGetValue(name, out var s) ? s : name;

    public static bool TakesAlpha(string a) => Spell(a) is "Affine" or "LeakyRelu" or "ThresholdedRelu" or "ScaledTanh" or "HardSigmoid" or "Elu";
    public static bool TakesBeta(string a) => Spell(a) is "Affine" or "ScaledTanh" or "HardSigmoid";

    /// <summary>Each activation with its alpha and beta (from the lists, consumed in order by the activations that take them, as ONNX Runtime does; else the operator's default).</summary>
    public static List<(string Name, double? Alpha, double? Beta)> WithParameters(IReadOnlyList<string> activations, IReadOnlyList<double>? alphas, IReadOnlyList<double>? betas)
    {
        int ai = 0, bi = 0;
        var result = new List<(string, double?, double?)>();
        foreach (var a in activations)
        {
            double? alpha = TakesAlpha(a) ? (alphas is not null && ai < alphas.Count ? alphas[ai++] : DefaultAlpha(a)) : null;
            double? beta = TakesBeta(a) ? (betas is not null && bi < betas.Count ? betas[bi++] : DefaultBeta(a)) : null;
            result.Add((Spell(a), alpha, beta));
        }
        return result;
    }

    static double DefaultAlpha(string a) => Spell(a) switch { "HardSigmoid" => 0.2, "LeakyRelu" => 0.01, "Elu" => 1.0, "ThresholdedRelu" => 1.0, _ => 1.0 };
    static double DefaultBeta(string a) => Spell(a) switch { "HardSigmoid" => 0.5, "Affine" => 0.0, _ => 1.0 };

    /// <summary>An ONNX activation in Keras spelling (with the hard_sigmoid variant), or null when no Keras activation computes it.</summary>
    public static (string Keras, string? HardSigmoid)? ToKeras(string name, double? alpha, double? beta)
    {
        static bool Near(double? a, double b) => a is double x && Math.Abs(x - b) < 1e-7;
        return Spell(name) switch
        {
            "Sigmoid" => ("sigmoid", null),
            "Tanh" => ("tanh", null),
            "Relu" => ("relu", null),
            "Softsign" => ("softsign", null),
            "Affine" when Near(alpha, 1) && Near(beta, 0) => ("linear", null),
            "HardSigmoid" when Near(alpha, 0.2) && Near(beta, 0.5) => ("hard_sigmoid", "keras2"),
            "HardSigmoid" when Near(alpha, 1.0 / 6) && Near(beta, 0.5) => ("hard_sigmoid", "keras3"),
            _ => null,
        };
    }

    /// <summary>A Keras activation as ONNX's (name, alpha, beta), or null when ONNX's recurrent operators have none that computes it.</summary>
    public static (string Name, double? Alpha, double? Beta)? FromKeras(string keras, string? hardSigmoid) => keras.Trim().ToLowerInvariant() switch
    {
        "sigmoid" => ("Sigmoid", null, null),
        "tanh" => ("Tanh", null, null),
        "relu" => ("Relu", null, null),
        "softsign" => ("Softsign", null, null),
        "linear" or "none" or "" => ("Affine", 1.0, 0.0),
        "hard_sigmoid" when hardSigmoid is "keras3" => ("HardSigmoid", 1.0 / 6, 0.5),
        "hard_sigmoid" => ("HardSigmoid", 0.2, 0.5),
        _ => null,
    };

    /// <summary>
    /// A node name as a layer name that is a valid dotted PyTorch module path: the leading '/' of
    /// torch.onnx names dropped, '/' and ':' as '.', other characters that are not letters, digits or
    /// '_' as '_', a segment that starts with a digit prefixed with '_' (<c>/lstm/LSTM</c> → <c>lstm.LSTM</c>,
    /// <c>/rnn.0/LSTM_1</c> → <c>rnn._0.LSTM_1</c>). Empty names get <paramref name="fallback"/>.
    /// </summary>
    public static string LayerName(string nodeName, string fallback)
    {
        var segments = nodeName.Split(['/', ':', '.'], StringSplitOptions.RemoveEmptyEntries)
            .Select(s =>
            {
                var b = new StringBuilder();
                foreach (var ch in s) b.Append(char.IsAsciiLetterOrDigit(ch) || ch == '_' ? ch : '_');
                var seg = b.ToString();
                return char.IsAsciiDigit(seg[0]) ? "_" + seg : seg;
            }).ToList();
        return segments.Count == 0 ? fallback : string.Join('.', segments);
    }

    public static string Invariant(double d) => d.ToString("R", CultureInfo.InvariantCulture);
}
