using System.Management.Automation;
using LstmPort.Conversion;
using LstmPort.Frameworks.Torch;

namespace LstmPort.PowerShell.Commands;

/// <summary>Redistributes each PyTorch-layout layer's bias between bias_ih and bias_hh; the sum is unchanged.</summary>
[Cmdlet(VerbsCommon.Split, "LstmBias")]
[OutputType(typeof(LstmTensor))]
public sealed class SplitLstmBiasCommand : TensorPipelineCmdlet
{
    [Parameter]
    [ValidateRange(0.0, 1.0)]
    public double Ratio { get; set; } = 0.5;

    protected override ConversionResult Transform(IReadOnlyList<LstmTensor> input) => BiasTools.Split(input, Ratio);
}
