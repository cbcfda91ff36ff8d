using LstmPort.Conversion;
using System.Management.Automation;

namespace LstmPort.PowerShell.Commands;

/// <summary>Converts Keras, TF1 and PyTorch layout tensors to ONNX operator weights (W, R, B, P).</summary>
[Cmdlet(VerbsData.ConvertTo, "OnnxLayout")]
[OutputType(typeof(LstmTensor))]
public sealed class ConvertToOnnxLayoutCommand : TensorPipelineCmdlet
{
    /// <summary>Overrides the forget_bias of TF1 LSTM cells (TensorFlow layout).</summary>
    [Parameter]
    public double? ForgetBias { get; set; }

    protected override ConversionResult Transform(IReadOnlyList<LstmTensor> input) =>
        LayoutConverter.Convert(input, Layout.Onnx, new ConversionOptions(null, false, false, ForgetBias));
}
