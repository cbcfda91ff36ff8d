using System.Text.Json;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.Onnx;

/// <summary>An Onnx-layout layer's operator attributes (from its Config) per direction, and the same maths in ConfigKeys (Keras) spellings.</summary>
internal static class OnnxSettings
{
    public static string[] Strings(IReadOnlyDictionary<string, object?> config, string key) => config.TryGetValue(key, out var v) ? v switch
    {
        string[] a => a,
        IEnumerable<string> e => e.ToArray(),
        string s => s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
        JsonElement { ValueKind: JsonValueKind.Array } j => j.EnumerateArray().Select(x => x.GetString() ?? "").ToArray(),
        System.Collections.IEnumerable e => e.Cast<object>().Select(o => o?.ToString() ?? "").ToArray(),
        _ => [],
    } : [];

    public static double[]? Doubles(IReadOnlyDictionary<string, object?> config, string key) => config.TryGetValue(key, out var v) && v is not null ? v switch
    {
        double[] a => a,
        float[] f => f.Select(x => (double)x).ToArray(),
        System.Collections.IEnumerable e and not string => e.Cast<object>().Select(o => Convert.ToDouble(o, System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
        _ => [Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture)],
    } : null;

    public static string Direction(IReadOnlyDictionary<string, object?> config) => LayerGroup.TextOf(config, ConfigKeys.Direction) ?? "forward";

    public static int Directions(IReadOnlyDictionary<string, object?> config) => Direction(config) == "bidirectional" ? 2 : 1;

    public static bool Flag(IReadOnlyDictionary<string, object?> config, string key) =>
        LayerGroup.TextOf(config, key)?.ToLowerInvariant() is "true" or "1";

    /// <summary>The activations (with alpha and beta) of direction <paramref name="dir"/> (0 forward, 1 the backward half of a bidirectional layer).</summary>
    public static List<(string Name, double? Alpha, double? Beta)> Activations(LayerType type, IReadOnlyDictionary<string, object?> config, int dir)
    {
        int per = OnnxOps.DefaultActivations(type).Length, dirs = Directions(config);
        var names = Strings(config, ConfigKeys.Activations);
        if (names.Length == 0) names = Enumerable.Repeat(OnnxOps.DefaultActivations(type), dirs).SelectMany(x => x).ToArray();
        if (names.Length == per && dirs == 2) names = [.. names, .. names];
        if (names.Length != per * dirs)
            throw new LstmPortException(ErrorIds.InvalidConfigValue, $"{OnnxOps.OpOf(type)} with {dirs} direction(s) needs {per * dirs} activations; got {names.Length} ({string.Join(", ", names)}).");
        var all = OnnxOps.WithParameters(names, Doubles(config, ConfigKeys.ActivationAlpha), Doubles(config, ConfigKeys.ActivationBeta));
        return all.Skip(dir * per).Take(per).ToList();
    }

    /// <summary>
    /// The maths of direction <paramref name="dir"/> in ConfigKeys spellings: activation and
    /// recurrent_activation (Keras names; an ONNX activation no Keras name computes as "onnx:Name"),
    /// hard_sigmoid's variant, reset_after (GRU: linear_before_reset), go_backwards (a one-direction
    /// reverse layer), clip, input_forget.
    /// </summary>
    public static IEnumerable<(string Key, object? Value)> Keras(LayerType type, IReadOnlyDictionary<string, object?> config, int dir)
    {
        var acts = Activations(type, config, dir);
        string Name((string Name, double? Alpha, double? Beta) a, List<string?> variants)
        {
            if (OnnxOps.ToKeras(a.Name, a.Alpha, a.Beta) is not var (k, v)) return $"onnx:{a.Name}" + (a.Alpha is null ? "" : $"({a.Alpha}{(a.Beta is null ? "" : $",{a.Beta}")})");
            if (v is not null) variants.Add(v);
            return k;
        }
        var variants = new List<string?>();
        switch (type)
        {
            case LayerType.LSTM:
                yield return (ConfigKeys.RecurrentActivation, Name(acts[0], variants));
                var g = Name(acts[1], variants);
                var h = Name(acts[2], variants);
                yield return (ConfigKeys.Activation, g == h ? g : $"onnx:{acts[1].Name} inputs, {acts[2].Name} outputs");
                break;
            case LayerType.GRU:
                yield return (ConfigKeys.RecurrentActivation, Name(acts[0], variants));
                yield return (ConfigKeys.Activation, Name(acts[1], variants));
                yield return (ConfigKeys.ResetAfter, Flag(config, ConfigKeys.LinearBeforeReset));
                break;
            default:
                yield return (ConfigKeys.Activation, Name(acts[0], variants));
                break;
        }
        if (variants.Distinct().Count() == 1) yield return (ConfigKeys.HardSigmoid, variants[0]);
        yield return (ConfigKeys.GoBackwards, Direction(config) == "reverse");
        if (LayerGroup.TextOf(config, ConfigKeys.Clip) is string clip) yield return (ConfigKeys.Clip, double.Parse(clip, System.Globalization.CultureInfo.InvariantCulture));
        if (type == LayerType.LSTM) yield return (ConfigKeys.InputForget, Flag(config, ConfigKeys.InputForget));
    }
}
