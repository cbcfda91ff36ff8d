using System.Management.Automation;
using LstmPort.Formats;
using LstmPort.Frameworks.Torch;

namespace LstmPort.PowerShell.Commands;

/// <summary>One summary object per layer of a weight file or of LstmTensors from the pipeline.</summary>
[Cmdlet(VerbsCommon.Get, "LstmLayer", DefaultParameterSetName = PathSet)]
[OutputType(typeof(LstmLayer))]
public sealed class GetLstmLayerCommand : LstmPortCmdlet
{
    const string InputObjectSet = "InputObject";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    public LstmTensor[] InputObject { get; set; } = [];

    // In the InputObject set too: without it, `Get-LstmWeights f | Get-LstmLayer -Layer x` chose the Path
    // set, bound each tensor's ToString() as a wildcard path and silently emitted nothing.
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [Parameter(ParameterSetName = InputObjectSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LayerNameCompleter))]
    public string[]? Layer { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public WeightFormat Format { get; set; } = WeightFormat.Auto;

    /// <summary>The model config of a weights-only file: a Keras config.json, or the .keras archive of the same model.</summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [ValidateNotNullOrEmpty]
    public string? Config { get; set; }

    readonly List<LstmTensor> _piped = [];
    string? _config;

    protected override void BeginProcessing() => _config = ResolveConfig(Config);

    protected override void ProcessRecord()
    {
        var patterns = Layer?.Select(l => new WildcardPattern(l, WildcardOptions.IgnoreCase)).ToArray();
        if (ParameterSetName == InputObjectSet)
        {
            _piped.AddRange(InputObject.Where(t => t is not null && (patterns is null || patterns.Any(p => p.IsMatch(t.Layer)))));
            return;
        }
        foreach (var weights in ReadFiles(ParameterSetName == LiteralPathSet ? LiteralPath : Path, ParameterSetName == LiteralPathSet, Format,
                     new ReadOptions(_config)))
        {
            foreach (var layer in LstmLayer.Summarize(weights.Tensors, TorchPortability.Blocker))
                if (patterns is null || patterns.Any(p => p.IsMatch(layer.Layer)))
                    WriteObject(layer);
        }
    }

    protected override void EndProcessing()
    {
        if (ParameterSetName == InputObjectSet)
            foreach (var layer in LstmLayer.Summarize(_piped, TorchPortability.Blocker)) WriteObject(layer);
    }
}
