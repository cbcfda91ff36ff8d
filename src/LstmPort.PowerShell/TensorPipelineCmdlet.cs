using LstmPort.Conversion;
using System.Management.Automation;
using LstmPort.Frameworks.Torch;

namespace LstmPort.PowerShell;

/// <summary>
/// A cmdlet that needs whole layers: it collects the LstmTensor pipeline, transforms it at the end,
/// and reports per layer: refusals as non-terminating errors, warnings, and what it did (-Verbose).
/// </summary>
public abstract class TensorPipelineCmdlet : LstmPortCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    public LstmTensor[] InputObject { get; set; } = [];

    readonly List<LstmTensor> _input = [];

    protected override void ProcessRecord() => _input.AddRange(InputObject);

    protected abstract ConversionResult Transform(IReadOnlyList<LstmTensor> input);

    protected override void EndProcessing()
    {
        ConversionResult result;
        try { result = Transform(_input); }
        catch (LstmPortException e) { ThrowTerminatingError(ToErrorRecord(e)); return; }

        foreach (var (layer, errorId, reason) in result.Refused)
            WriteError(ToErrorRecord(errorId, reason, layer));
        foreach (var (_, message) in result.Warnings) WriteWarning(message);
        foreach (var line in result.Log) WriteVerbose(line);
        foreach (var t in result.Tensors) WriteObject(t);
    }
}
