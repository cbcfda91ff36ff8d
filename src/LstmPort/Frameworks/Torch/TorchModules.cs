using TorchSharp;
using static TorchSharp.torch;
using static LstmPort.Conversion.LayerSettings;
using LstmPort.Conversion;

namespace LstmPort.Frameworks.Torch;

/// <summary>
/// Runs PyTorch-layout layers through libtorch's own modules (<c>nn.LSTM</c>, <c>nn.GRU</c>,
/// <c>nn.RNN</c>, via TorchSharp) with the weights copied into the module's parameters, so the
/// check exercises the real kernels. Each depth of a multi-layer module runs as a one-layer
/// module; a <c>_reverse</c> direction runs as the reverse half of a bidirectional module (its
/// forward half zeroed: the halves of one layer are independent).
/// </summary>
public static class TorchModules
{
    public static (Tensor Output, Tensor? FinalH, Tensor? FinalC) Run(LayerGroup layer, Tensor x)
    {
        // In the check's precision: libtorch refuses to mix float32 and float64 operands.
        var r = RunLayer(layer, x.to_type(Precision));
        return (r.Output, r.FinalH, r.FinalC);
    }

    internal static LayerOutputs RunLayer(LayerGroup g, Tensor x)
    {
        if (g.LayerType == LayerType.Dense) return Linear(g, x);
        if (g.LayerType is not (LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN))
            throw new LstmPortException(ErrorIds.UnsupportedLayerType,
                $"{g.Describe()}: {g.LayerType} is not a PyTorch recurrent module.", g);
        int gates = Gates.Blocks(g.LayerType);
        if (g.Find(TensorRole.ProjectionKernel) is { } hr)
            throw new LstmPortException(ErrorIds.UnsupportedProjection,
                $"{g.Describe()}: {hr.Name} needs nn.LSTM(proj_size=...), which TorchSharp 0.107 does not expose.", hr);

        var wih = g.Require(TensorRole.Kernel);
        var whh = g.Require(TensorRole.RecurrentKernel);
        if (whh.Shape.Length != 2 || whh.Shape[1] == 0 || whh.Shape[0] != gates * whh.Shape[1])
            throw ShapeError(g, whh, $"[{gates}*h,h] for {g.LayerType}");
        int h = whh.Shape[1];
        long inputSize = x.shape[^1];
        CheckShape(g, wih, gates * h, inputSize);
        var bih = g.Find(TensorRole.InputBias);
        var bhh = g.Find(TensorRole.RecurrentBias);
        if ((bih is null) != (bhh is null))
            throw new LstmPortException(ErrorIds.MissingTensor,
                $"{g.Describe()}: has {(bih ?? bhh)!.Name} but not its partner; a PyTorch module has both bias_ih and bias_hh or neither.", g);
        bool hasBias = bih is not null;
        if (hasBias) { CheckShape(g, bih!, gates * h); CheckShape(g, bhh!, gates * h); }

        bool backward = g.Direction == Direction.Backward;
        // A one-direction layer that reads its input reversed (go_backwards: a Keras go_backwards
        // or ONNX reverse layer converted to l0) is an l0 run on the reversed sequence, outputs
        // put back in input time order: what the reverse half of a bidirectional module computes.
        if (!backward && (Bool(g, ConfigKeys.GoBackwards) ?? false))
        {
            var r = RunLayerForward(g, x.flip(0));
            return r with { Output = r.Output.flip(0) };
        }
        return RunLayerForward(g, x);
    }

    static LayerOutputs RunLayerForward(LayerGroup g, Tensor x)
    {
        int gates = Gates.Blocks(g.LayerType);
        var wih = g.Require(TensorRole.Kernel);
        var whh = g.Require(TensorRole.RecurrentKernel);
        int h = whh.Shape[1];
        long inputSize = x.shape[^1];
        var bih = g.Find(TensorRole.InputBias);
        var bhh = g.Find(TensorRole.RecurrentBias);
        bool hasBias = bih is not null;
        bool backward = g.Direction == Direction.Backward;
        using torch.nn.Module module = g.LayerType switch
        {
            LayerType.LSTM => torch.nn.LSTM(inputSize, h, 1, hasBias, false, 0, backward),
            LayerType.GRU => torch.nn.GRU(inputSize, h, 1, hasBias, false, 0, backward),
            _ => torch.nn.RNN(inputSize, h, 1, RnnNonLinearity(g), hasBias, false, 0, backward),
        };
        var source = new Dictionary<string, LstmTensor?>
        {
            ["weight_ih"] = wih, ["weight_hh"] = whh, ["bias_ih"] = bih, ["bias_hh"] = bhh,
        };
        module.to(Precision);
        string suffix = backward ? "_l0_reverse" : "_l0";
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in module.named_parameters())
            {
                var param = name.EndsWith(suffix, StringComparison.Ordinal) ? name[..^suffix.Length] : null;
                if (param is not null && source.TryGetValue(param, out var t) && t is not null) parameter.copy_(Data(t));
                else parameter.zero_();
            }
        }

        Tensor output, finalH;
        Tensor? finalC = null;
        switch (module)
        {
            case TorchSharp.Modules.LSTM lstm:
                (output, finalH, var cn) = lstm.forward(x, null);
                finalC = backward ? cn[1] : cn[0];
                break;
            case TorchSharp.Modules.GRU gru:
                (output, finalH) = gru.forward(x, null);
                break;
            case TorchSharp.Modules.RNN rnn:
                (output, finalH) = rnn.forward(x, null);
                break;
            default: throw new InvalidOperationException("unreachable");
        }
        return backward
            ? new LayerOutputs(output[.., .., h..], finalH[1], finalC)
            : new LayerOutputs(output, finalH[0], finalC);
    }

    static torch.nn.NonLinearities RnnNonLinearity(LayerGroup g) =>
        (String(g, ConfigKeys.Activation) ?? "tanh").ToLowerInvariant() switch
        {
            "tanh" => torch.nn.NonLinearities.Tanh,
            "relu" => torch.nn.NonLinearities.ReLU,
            var other => throw new LstmPortException(ErrorIds.UnsupportedActivation,
                $"{g.Describe()}: nn.RNN supports tanh and relu, not '{other}'.", g),
        };

    static LayerOutputs Linear(LayerGroup g, Tensor x)
    {
        var weight = g.Require(TensorRole.Weight);
        if (weight.Shape.Length != 2 || weight.Shape[1] != x.shape[^1]) throw ShapeError(g, weight, $"[units,{x.shape[^1]}]");
        var bias = g.Find(TensorRole.Bias);
        if (bias is not null) CheckShape(g, bias, weight.Shape[0]);
        var y = torch.nn.functional.linear(x, Data(weight), bias is null ? null : Data(bias));
        return new LayerOutputs(Activation(g, ConfigKeys.Activation, "linear")(y), null, null);
    }
}
