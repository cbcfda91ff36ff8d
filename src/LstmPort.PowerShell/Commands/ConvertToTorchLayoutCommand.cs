using LstmPort.Conversion;
using System.Management.Automation;
using LstmPort.Frameworks.Torch;

namespace LstmPort.PowerShell.Commands;

/// <summary>Converts Keras-layout tensors to PyTorch state_dict tensors.</summary>
[Cmdlet(VerbsData.ConvertTo, "TorchLayout")]
[OutputType(typeof(LstmTensor))]
public sealed class ConvertToTorchLayoutCommand : TensorPipelineCmdlet
{
    /// <summary>Overrides the forget_bias of TF1 LSTM cells (TensorFlow layout).</summary>
    [Parameter]
    public double? ForgetBias { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidatePattern(@"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]
    public string? StackAs { get; set; }

    [Parameter]
    public SwitchParameter AsCell { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override ConversionResult Transform(IReadOnlyList<LstmTensor> input) =>
        LayoutConverter.Convert(input, Layout.Torch, new ConversionOptions(StackAs, AsCell, Force, ForgetBias));
}
