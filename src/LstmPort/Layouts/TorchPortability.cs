namespace LstmPort.Layouts;

/// <summary>
/// Whether a layer has an exact PyTorch equivalent, and why not. PyTorch's LSTM and GRU are fixed
/// to sigmoid gates and tanh; its GRU resets after the recurrent matmul; nn.RNN knows tanh and relu.
/// </summary>
public static class TorchPortability
{
    /// <summary>Null when the layer converts exactly; otherwise the reason, in a few words.</summary>
    public static string? Reason(LayerGroup g)
    {
        if (g.Layout == Layout.Torch) return null;
        var activation = Normalise(g.Text(ConfigKeys.Activation), "tanh");
        var recurrent = Normalise(g.Text(ConfigKeys.RecurrentActivation), "sigmoid");
        switch (g.LayerType)
        {
            case LayerType.LSTM or LayerType.GRU:
                if (recurrent != "sigmoid") return $"{recurrent} recurrent activation";
                if (activation != "tanh") return $"{activation} activation";
                if (g.LayerType == LayerType.GRU && !ResetAfter(g))
                    return "GRU reset_after=False";
                break;
            case LayerType.SimpleRNN:
                if (activation is not ("tanh" or "relu")) return $"{activation} activation (nn.RNN has tanh and relu)";
                break;
            case LayerType.Dense or LayerType.Embedding:
                return null;
            default:
                return "no PyTorch equivalent is known for this layer";
        }
        if (g.Flag(ConfigKeys.GoBackwards)) return "go_backwards=True";
        if (g.Flag(ConfigKeys.UsePeepholes) || g.Find(TensorRole.Peephole) is not null) return "peepholes";
        if (g.Config.TryGetValue(ConfigKeys.CellClip, out var clip) && clip is not null && Convert.ToDouble(clip) > 0) return "cell_clip";
        return null;
    }

    /// <summary>A GRU resets after the matmul when its config says so, or when it carries two biases ([2,3h], CuDNN [6h]).</summary>
    public static bool ResetAfter(LayerGroup g) =>
        g.Flag(ConfigKeys.ResetAfter, fallback: g.Flag(ConfigKeys.Cudnn) || g.Find(TensorRole.Bias)?.Shape.Length == 2);

    static string Normalise(string? activation, string fallback) =>
        string.IsNullOrEmpty(activation) ? fallback : activation.ToLowerInvariant() switch
        {
            "none" => "linear",
            var a => a,
        };
}
