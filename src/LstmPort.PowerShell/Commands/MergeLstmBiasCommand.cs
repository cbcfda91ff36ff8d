using System.Management.Automation;
using LstmPort.Conversion;
using LstmPort.Frameworks.Torch;

namespace LstmPort.PowerShell.Commands;

/// <summary>Sums each PyTorch-layout layer's paired biases into bias_ih (bias_hh becomes zero).</summary>
[Cmdlet(VerbsData.Merge, "LstmBias")]
[OutputType(typeof(LstmTensor))]
public sealed class MergeLstmBiasCommand : TensorPipelineCmdlet
{
    protected override ConversionResult Transform(IReadOnlyList<LstmTensor> input) => BiasTools.Merge(input);
}
