using LstmPort.Conversion;
using System.Management.Automation;
using LstmPort.Frameworks.Keras;
using LstmPort.Frameworks.Torch;

namespace LstmPort.PowerShell.Commands;

/// <summary>Converts PyTorch-layout (and Keras 1/2/3, CuDNN) tensors to the tf.keras 2.x Keras layout.</summary>
[Cmdlet(VerbsData.ConvertTo, "KerasLayout")]
[OutputType(typeof(LstmTensor))]
public sealed class ConvertToKerasLayoutCommand : TensorPipelineCmdlet
{
    protected override ConversionResult Transform(IReadOnlyList<LstmTensor> input) => LayoutConverter.Convert(input, Layout.Keras, ConversionOptions.Default);
}
