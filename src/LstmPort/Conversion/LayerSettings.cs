using System.Globalization;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace LstmPort.Conversion;

/// <summary>Reads a layer's <see cref="ConfigKeys"/> values (bool, number or string, however a reader boxed them) and its activations.</summary>
internal static class LayerSettings
{
    public static string? String(LayerGroup g, string key) => g.Text(key);

    public static bool? Bool(LayerGroup g, string key) => g.Bool(key);

    public static double? Double(LayerGroup g, string key)
    {
        if (!g.Config.TryGetValue(key, out var v) || v is null) return null;
        return v switch
        {
            JsonElement { ValueKind: JsonValueKind.Number } j => j.GetDouble(),
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            IConvertible c and not string => c.ToDouble(CultureInfo.InvariantCulture),
            _ => throw Bad(g, key, v),
        };
    }

    static LstmPortException Bad(LayerGroup g, string key, object v) => new(ErrorIds.InvalidConfigValue,
        $"{g.Describe()}: config '{key}' has value '{v}' of type {v.GetType().Name}, which is not usable here.", g);

    /// <summary>
    /// The named Keras activation. hard_sigmoid depends on the Keras version: clip(0.2x+0.5) in
    /// Keras 1/2 and tf.keras, clip(x/6+0.5) in Keras 3; Config says which ("keras2"/"keras3"),
    /// else keras_version decides, else Keras 2's.
    /// </summary>
    public static Func<Tensor, Tensor> Activation(LayerGroup g, string key, string fallback)
    {
        var name = (String(g, key) ?? fallback).Trim().ToLowerInvariant();
        switch (name)
        {
            case "tanh": return torch.tanh;
            case "sigmoid": return torch.sigmoid;
            case "relu": return x => torch.nn.functional.relu(x);
            case "linear" or "none" or "": return x => x;
            case "softsign": return x => x / (x.abs() + 1);
            case "hard_sigmoid":
                var variant = String(g, ConfigKeys.HardSigmoid)?.ToLowerInvariant()
                    ?? (String(g, ConfigKeys.KerasVersion) is string v && v.StartsWith('3') ? "keras3" : "keras2");
                return variant switch
                {
                    "keras3" => x => (x / 6.0 + 0.5).clamp(0.0, 1.0),
                    "keras2" or "keras1" => x => (x * 0.2 + 0.5).clamp(0.0, 1.0),
                    _ => throw new LstmPortException(ErrorIds.UnsupportedActivation,
                        $"{g.Describe()}: hard_sigmoid variant '{variant}' is unknown; expected 'keras2' or 'keras3'.", g),
                };
            default:
                throw new LstmPortException(ErrorIds.UnsupportedActivation,
                    $"{g.Describe()}: activation '{name}' ({key}) is not one the check implements (tanh, sigmoid, relu, linear, softsign, hard_sigmoid).", g);
        }
    }

    /// <summary>
    /// Both sides of a check compute in float64: rounding then stays near 1e-12 even for trained
    /// layers with large cell states, so any difference the check reports comes from the weights,
    /// not from float32 summation order (which alone reaches 1e-3 on some real models).
    /// </summary>
    public const ScalarType Precision = ScalarType.Float64;

    /// <summary>The tensor's data in the check's precision, as a new tensor object that a dispose scope may free without touching the LstmTensor's own.</summary>
    public static Tensor Data(LstmTensor t) => t.Tensor.detach().to_type(Precision);

    /// <summary>
    /// x @ w for an x of any rank and a matrix w, through libtorch's mm. TorchSharp 0.107's native
    /// matmul (like its cummax and cummin) has no error guard, so a libtorch error inside it ends
    /// the process instead of becoming an exception; every other tensor function has the guard.
    /// </summary>
    public static Tensor MatMul(Tensor x, Tensor w) =>
        x.dim() == 2 ? x.mm(w) : x.reshape(-1, x.shape[^1]).mm(w).reshape([.. x.shape[..^1], w.shape[1]]);

    /// <summary>A dense layer whose kernel [in,units] multiplies from the right (Keras Dense, TF1 dense layers): act(x @ kernel + bias).</summary>
    public static LayerOutputs DenseFromRight(LayerGroup g, Tensor x)
    {
        var kernel = g.Require(TensorRole.Kernel);
        if (kernel.Shape.Length != 2 || kernel.Shape[0] != x.shape[^1]) throw ShapeError(g, kernel, $"[{x.shape[^1]},units]");
        var y = MatMul(x, Data(kernel));
        if (g.Find(TensorRole.Bias) is { } bias)
        {
            CheckShape(g, bias, kernel.Shape[1]);
            y = y + Data(bias);
        }
        return new LayerOutputs(Activation(g, ConfigKeys.Activation, "linear")(y), null, null);
    }

    /// <summary>(input size, units) of such a dense layer, from its kernel [in,units].</summary>
    public static (long In, long Units) DenseFromRightSizes(LayerGroup g)
    {
        var k = g.Require(TensorRole.Kernel);
        return k.Shape.Length == 2 ? (k.Shape[0], k.Shape[1]) : throw ShapeError(g, k, "[in,units]");
    }

    public static LstmPortException ShapeError(LayerGroup g, LstmTensor t, string expected) => g.ShapeError(t, expected);

    public static void CheckShape(LayerGroup g, LstmTensor t, params long[] expected) => g.CheckShape(t, expected);
}
