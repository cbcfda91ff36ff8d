namespace LstmPort.Frameworks.Torch;

/// <summary>Which layer settings have no exact PyTorch equivalent in nn.LSTM / nn.GRU / nn.RNN / nn.Linear / nn.Embedding.</summary>
public static class TorchPortability
{
    /// <summary>Why a layer read in <paramref name="layout"/> has no exact PyTorch equivalent (for Get-LstmLayer), or null.</summary>
    public static string? Blocker(LayerType type, Layout layout, IReadOnlyDictionary<string, object?> config) =>
        layout == Layout.Torch && type != LayerType.Other ? null : Blocker(type, config);

    /// <summary>Why a layer with these settings (<see cref="ConfigKeys"/>) has no exact PyTorch equivalent, or null.</summary>
    public static string? Blocker(LayerType type, IReadOnlyDictionary<string, object?> config)
    {
        if (type == LayerType.Other) return "not a layer type LstmPort converts (LSTM, GRU, SimpleRNN, Dense, Embedding)";
        if (type is LayerType.Dense or LayerType.Embedding) return null;

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
        // A one-direction layer that reads its input reversed (Keras go_backwards, ONNX direction=reverse)
        // is portable: its weights go to l0 and the caller reverses the sequence (LstmLayer.Note says so).
        if (Get(ConfigKeys.UsePeepholes) == "true") reasons.Add("peepholes");
        if (config.TryGetValue(ConfigKeys.CellClip, out var clip) && clip is double c && c > 0) reasons.Add("cell_clip");
        if (Get(ConfigKeys.Clip) is string onnxClip) reasons.Add($"clip {onnxClip} (ONNX bounds the gates' inputs; PyTorch does not)");
        if (Get(ConfigKeys.InputForget) is "true" or "True") reasons.Add("input_forget (ONNX couples the input and forget gates)");
        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }
}
