using LstmPort.Conversion;
using System.Text.RegularExpressions;
using TorchSharp;

namespace LstmPort.Frameworks.Torch;

/// <summary>
/// Reads PyTorch state_dict keys (<c>lstm.weight_ih_l1_reverse</c>, <c>cell.weight_hh</c>,
/// <c>fc.weight</c>) back into layer, role, depth and direction, and the layer type from shapes:
/// a recurrent weight_hh has 4h rows for LSTM, 3h for GRU, h for a plain RNN.
/// </summary>
public static partial class TorchNaming
{
    /// <param name="Load">Reads the data anew on every call (the caller owns what it returns).</param>
    public sealed record RawTensor(string Name, int[] Shape, string DType, Func<torch.Tensor> Load);

    [GeneratedRegex(@"^(?:(?<module>.+)\.)?(?<param>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)(?:_l(?<depth>\d+))?(?<reverse>_reverse)?$")]
    private static partial Regex RecurrentKey();

    [GeneratedRegex(@"^(?:(?<module>.+)\.)?(?<param>weight|bias)$")]
    private static partial Regex PlainKey();

    public static string Key(string module, string param, int? depth, Direction direction) =>
        $"{(module.Length == 0 ? "" : module + ".")}{param}{(depth is int k ? $"_l{k}" : "")}{(direction == Direction.Backward ? "_reverse" : "")}";

    public static IReadOnlyList<LstmTensor> Describe(IReadOnlyList<RawTensor> raw, string? source)
    {
        // Recurrent layers: find each module's hidden size and gate count from weight_hh.
        var recurrent = new Dictionary<(string Module, int Depth, Direction Dir), (LayerType Type, int Units, int Input)>();
        var matches = raw.Select(r => (r, m: RecurrentKey().Match(r.Name))).ToList();
        foreach (var (r, m) in matches.Where(x => x.m.Success && x.m.Groups["param"].Value == "weight_hh"))
        {
            var key = KeyOf(m);
            var ih = raw.FirstOrDefault(o => o.Name == Key(key.Module, "weight_ih", m.Groups["depth"].Success ? key.Depth : null, key.Dir));
            var hr = raw.FirstOrDefault(o => o.Name == Key(key.Module, "weight_hr", m.Groups["depth"].Success ? key.Depth : null, key.Dir));
            if (r.Shape.Length != 2) continue;
            int units = hr is { Shape.Length: 2 } ? hr.Shape[1] : r.Shape[1];
            int gates = units == 0 ? 0 : r.Shape[0] / units;
            var type = gates switch { 4 => LayerType.LSTM, 3 => LayerType.GRU, 1 => LayerType.SimpleRNN, _ => LayerType.Other };
            if (gates * units != r.Shape[0]) type = LayerType.Other;
            recurrent[key] = (type, units, ih is { Shape.Length: 2 } ? ih.Shape[1] : 0);
        }

        var result = new List<LstmTensor>(raw.Count);
        foreach (var (r, m) in matches)
        {
            if (m.Success && recurrent.TryGetValue(KeyOf(m), out var info))
            {
                var key = KeyOf(m);
                var role = m.Groups["param"].Value switch
                {
                    "weight_ih" => TensorRole.Kernel,
                    "weight_hh" => TensorRole.RecurrentKernel,
                    "bias_ih" => TensorRole.InputBias,
                    "bias_hh" => TensorRole.RecurrentBias,
                    _ => TensorRole.ProjectionKernel,
                };
                var order = Gates.TorchOrder(info.Type);
                result.Add(new LstmTensor(r.Name, key.Module, info.Type, role, Layout.Torch, r.Shape, r.DType, r.Load,
                    key.Dir, key.Depth, order, info.Units, info.Input, source: source, reloadable: true));
                continue;
            }
            var plain = PlainKey().Match(r.Name);
            if (plain.Success)
            {
                var module = plain.Groups["module"].Value;
                bool isWeight = plain.Groups["param"].Value == "weight";
                var weight = isWeight ? r : raw.FirstOrDefault(o => o.Name == Key(module, "weight", null, Direction.Forward));
                // A 2-D weight is a Linear layer; an embedding table is told apart only by its own
                // module name (not a parent's: embedder._projection is a Linear).
                var type = weight is { Shape.Length: 2 }
                    ? (module[(module.LastIndexOf('.') + 1)..].Contains("embed", StringComparison.OrdinalIgnoreCase) ? LayerType.Embedding : LayerType.Dense)
                    : LayerType.Other;
                if (type != LayerType.Other)
                {
                    var role = isWeight ? (type == LayerType.Embedding ? TensorRole.Embeddings : TensorRole.Weight) : TensorRole.Bias;
                    result.Add(new LstmTensor(r.Name, module, type, role, Layout.Torch, r.Shape, r.DType, r.Load,
                        units: weight!.Shape[0], inputSize: weight.Shape[1], source: source, reloadable: true));
                    continue;
                }
            }
            var layer = r.Name.Contains('.') ? r.Name[..r.Name.LastIndexOf('.')] : r.Name;
            result.Add(new LstmTensor(r.Name, layer, LayerType.Other, TensorRole.Other, Layout.Torch, r.Shape, r.DType, r.Load, source: source, reloadable: true));
        }
        return result;
    }

    static (string Module, int Depth, Direction Dir) KeyOf(Match m) =>
        (m.Groups["module"].Value,
         m.Groups["depth"].Success ? int.Parse(m.Groups["depth"].Value) : 0,
         m.Groups["reverse"].Success ? Direction.Backward : Direction.Forward);
}
