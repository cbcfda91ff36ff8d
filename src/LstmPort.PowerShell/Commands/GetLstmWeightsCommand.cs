using System.Management.Automation;
using LstmPort.Formats;

namespace LstmPort.PowerShell.Commands;

/// <summary>Reads weight files and emits one LstmTensor per tensor, in layer order.</summary>
[Cmdlet(VerbsCommon.Get, "LstmWeights", DefaultParameterSetName = PathSet)]
[OutputType(typeof(LstmTensor))]
public sealed class GetLstmWeightsCommand : LstmPortCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LayerNameCompleter))]
    public string[]? Layer { get; set; }

    [Parameter]
    public WeightFormat Format { get; set; } = WeightFormat.Auto;

    protected override void ProcessRecord()
    {
        var layerPatterns = Layer?.Select(l => new WildcardPattern(l, WildcardOptions.IgnoreCase)).ToArray();
        foreach (var file in ResolveFiles(ParameterSetName == LiteralPathSet ? LiteralPath : Path, ParameterSetName == LiteralPathSet))
        {
            WeightFile weights;
            try { weights = WeightReader.Read(file, Format); }
            catch (LstmPortException e) { WriteError(ToErrorRecord(e)); continue; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            { WriteError(new ErrorRecord(e, "FileReadError", ErrorCategory.ReadError, file)); continue; }

            foreach (var w in weights.Warnings) WriteWarning($"{file}: {w}");
            foreach (var t in weights.Tensors)
                if (layerPatterns is null || layerPatterns.Any(p => p.IsMatch(t.Layer)))
                    WriteObject(t);
        }
    }
}
